"""Every service feeds its Metrics bundle: the handlers without a broker, /metrics served."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from streamlabel.datasets import fraud_lfsets, make_fraud_stream
from streamlabel.drift import RetrainRequest
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import ABSTAIN, LFSet, labeling_function
from streamlabel.metrics import Metrics, serve_metrics
from streamlabel.models import EndModel, PayloadFeaturizer, encode_model_record
from streamlabel.pipeline import Labeler, Predictor, drift_record
from streamlabel.stream import (
    LabelerHandler,
    PredictorService,
    RawEvent,
    StreamSettings,
)
from streamlabel.stream._aggregator import run_aggregator
from streamlabel.stream._service import service_metrics
from streamlabel.stream._trainer import TrainerHandler, build_trainer

STREAM = make_fraud_stream(12_000, seed=0)
RAWS = [
    RawEvent(e["entity"].encode(), json.dumps(e).encode(), "events", 0, i)
    for i, e in enumerate(STREAM.events)
]


def samples(m: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of a family (suffixed name) keyed by its sorted labels."""
    out = {}
    for fam in text_string_to_metric_families(m.render().decode()):
        for s in fam.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_labeler_handler_feeds_every_labeler_family() -> None:
    settings = StreamSettings(
        drift_min_samples=500, drift_cooldown=100_000, worker_id="w1", snapshot_every=0
    )
    lfset = fraud_lfsets()[3]
    h = LabelerHandler.from_settings(settings, lfset)
    m = Metrics(label_names=list(lfset.label_names or ()), coverage_window=2000)
    h.metrics = m
    bad = RawEvent(None, b"{oops", "events", 0, 99_999)
    outputs = []
    for lo in range(0, len(RAWS), 500):
        outputs += h(RAWS[lo : lo + 500] + ([bad] if lo == 0 else []))
    get = m.registry.get_sample_value
    n_labels = sum(o.topic == "labels" for o in outputs)
    assert get("streamlabel_events_processed_total") == len(RAWS) + 1
    assert get("streamlabel_labels_emitted_total") == n_labels == len(RAWS)
    assert get("streamlabel_dlq_total", {"reason": "not_json"}) == 1
    votes = sum(samples(m, "streamlabel_lf_votes_total").values())
    assert votes == sum(len(o.value["votes"]) for o in outputs if o.topic == "labels")
    review = sum(samples(m, "streamlabel_review_items_total").values())
    assert review == sum(o.topic == "review" for o in outputs) > 0
    names = lfset.label_names or ("0", "1")
    balance = [get("streamlabel_labelmodel_class_balance", {"label": c}) for c in names]
    assert abs(sum(b or 0.0 for b in balance) - 1) < 1e-9
    assert 0.5 <= (get("streamlabel_labelmodel_mean_confidence") or 0) <= 1
    assert get("streamlabel_batch_duration_seconds_count") == len(range(0, len(RAWS), 500))
    # Coverage over the last 2000 events, per LF of the set, from the label records.
    recent = [o.value for o in outputs if o.topic == "labels"][-2000:]
    for lf_id in lfset.ids:
        name, version = lf_id.split("@")
        cov = get("streamlabel_lf_coverage", {"lf": name, "version": version})
        assert cov == pytest.approx(sum(lf_id in r["votes"] for r in recent) / 2000)
        acc = get("streamlabel_lf_estimated_accuracy", {"lf": name, "version": version})
        assert acc is not None and 0 <= acc <= 1
        assert get("streamlabel_lf_quarantined", {"lf": name, "version": version}) == 0
    # Drift detections by monitor, and the retraining request the handler raised.
    drift = [o.value for o in outputs if o.topic == "drift"]
    kinds = [d for d in drift if d["kind"] in ("drift", "warning")]
    assert kinds and sum(samples(m, "streamlabel_drift_detections_total").values()) == len(kinds)
    assert get("streamlabel_retrain_requests_total") == h.retrain_requests_ == 1


def test_a_quarantined_lf_is_logged_and_its_gauge_set(caplog: pytest.LogCaptureFixture) -> None:
    @labeling_function(name="broken")
    def broken(event: Any) -> int:
        raise KeyError("nope")

    ok = labeling_function(name="ok")(lambda e: 1 if e["amount"] > 500 else ABSTAIN)
    lfset = LFSet("s", "1", [broken, ok], cardinality=2)
    h = LabelerHandler(Labeler(lfset, OnlineLabelModel(2)), metrics=Metrics())
    with caplog.at_level("ERROR", logger="streamlabel.stream"):
        h(RAWS[:100])
        assert "quarantined" not in caplog.text
        h(RAWS[100:300])
    assert "streamlabel LF broken@1 quarantined: 200 of its last 200 calls" in caplog.text
    get = h.metrics.registry.get_sample_value  # type: ignore[union-attr]
    assert get("streamlabel_lf_quarantined", {"lf": "broken", "version": "1"}) == 1
    assert get("streamlabel_lf_quarantined", {"lf": "ok", "version": "1"}) == 0
    assert get("streamlabel_lf_quarantines_total", {"lf": "broken", "version": "1"}) == 1
    assert get("streamlabel_lf_faults_total", {"lf": "broken", "version": "1"}) == 300
    h(RAWS[300:400])  # not called any more
    assert get("streamlabel_lf_faults_total", {"lf": "broken", "version": "1"}) == 300


def test_lfsets_and_feedback_dlq_records_are_counted() -> None:
    h = LabelerHandler(Labeler(fraud_lfsets()[0], OnlineLabelModel(2)), metrics=Metrics())
    h(RAWS[:50])
    h.offer_lfset(RawEvent(b"fraud-stream", b"{not json", "lfsets", 0, 0))
    h.on_feedback([RawEvent(b"x", b"[]", "feedback", 0, 0)])
    value = {"event_id": STREAM.events[0]["id"], "label": 1, "source": "cb", "at": 1.0}
    h.on_feedback([RawEvent(b"x", json.dumps(value).encode(), "feedback", 0, 1)])
    get = h.metrics.registry.get_sample_value  # type: ignore[union-attr]
    assert get("streamlabel_dlq_total", {"reason": "invalid_lfset"}) == 1
    assert get("streamlabel_dlq_total", {"reason": "not_object"}) == 1
    assert get("streamlabel_feedback_total", {"outcome": "applied"}) == 1


def test_labeler_handler_exports_the_label_quality_estimate_and_its_gold_check() -> None:
    lfset = fraud_lfsets()[0]
    h = LabelerHandler(Labeler(lfset, OnlineLabelModel(2)), metrics=Metrics())
    outputs = []
    for lo in range(0, 4_000, 500):
        outputs += h(RAWS[lo : lo + 500])
    get = h.metrics.registry.get_sample_value  # type: ignore[union-attr]
    name = "streamlabel_label_quality_estimated_accuracy"
    raw = get(name, {"estimate": "raw"})
    emitted = [o.value for o in outputs if o.topic == "labels"][-2_000:]
    assert raw == pytest.approx(np.mean([r["confidence"] for r in emitted]))
    assert np.isnan(get("streamlabel_label_quality_gold_accuracy"))
    # Late gold through the feedback path, one event in four, with the truth.
    y = np.asarray(STREAM.y)
    records = []
    for i in range(0, 4_000, 4):
        value = {"event_id": STREAM.events[i]["id"], "label": int(y[i]), "source": "cb", "at": 1}
        records.append(RawEvent(b"x", json.dumps(value).encode(), "feedback", 0, i))
    h.on_feedback(records)
    labels = {o.value["event_id"]: o.value["label"] for o in outputs if o.topic == "labels"}
    last = range(0, 4_000, 4)[-1_000:]  # within the estimator's gold window (2,000)
    truth = np.mean([labels[STREAM.events[i]["id"]] == y[i] for i in last])
    assert get("streamlabel_label_quality_gold_accuracy") == pytest.approx(truth)
    assert get("streamlabel_label_quality_calibration_gold") > 500  # decayed from 1,000
    est = h.labeler.quality.estimate()
    assert get(name, {"estimate": "calibrated"}) == pytest.approx(est["expected_accuracy"])
    assert abs(est["expected_accuracy"] - truth) < 0.03 < abs(raw - truth)


def test_trainer_handler_counts_requests_and_rounds_with_duration(tmp_path: Path) -> None:
    s = StreamSettings(
        registry_dir=tmp_path,
        feature_numeric=["amount", "hour"],
        train_every=0,
        train_min_events=300,
        drift_enabled=False,
        review_max_per_1000=0,
    )
    m = Metrics()
    h = TrainerHandler(build_trainer(s), s.group_id, metrics=m)
    labeler = LabelerHandler.from_settings(s, fraud_lfsets()[3])
    for lo in range(0, 2000, 500):
        for o in labeler(RAWS[lo : lo + 500]):
            if o.topic == "labels":
                h.offer("labels", RawEvent(o.key, json.dumps(o.value).encode(), "labels", 0, 0))
        for ev in RAWS[lo : lo + 500]:
            h.offer("events", ev)
    req = RetrainRequest(5, None, ("gold_error",), "drift on critical monitor gold_error", ())
    value = json.dumps(drift_record(req, {"group": s.group_id})).encode()
    h.offer("drift", RawEvent(b"gold_error", value, "drift", 0, 0))
    (result,) = h.step()
    assert result.promoted
    get = m.registry.get_sample_value
    assert get("streamlabel_retrain_requests_total") == 1
    assert get("streamlabel_retrain_runs_total", {"outcome": "promoted"}) == 1
    assert get("streamlabel_retrain_duration_seconds_count") == 1
    assert (get("streamlabel_retrain_duration_seconds_sum") or 0) > 0

    def boom() -> None:
        raise RuntimeError("disk full")

    h.trainer.poll = boom  # type: ignore[method-assign,assignment]
    with pytest.raises(RuntimeError):
        h.step()
    assert get("streamlabel_retrain_runs_total", {"outcome": "failed"}) == 1
    assert get("streamlabel_retrain_duration_seconds_count") == 2


def _model_record(version: str, *, corrupt: bool = False) -> bytes:
    from streamlabel.models import (
        Lineage,
        ModelRecord,
        ModelVersion,
        RegistryEntry,
        artifact_sha256,
        dumps_model_artifact,
    )

    f = PayloadFeaturizer(numeric_fields=["amount"], n_features=4)
    model = EndModel(f).fit(STREAM.payloads()[:200], STREAM.y[:200])
    sha = "0" * 64 if corrupt else artifact_sha256(model)
    v = ModelVersion(version, 1, 0.0, {}, Lineage("s", "1", "1", 200), None, "-", sha, 2)
    entry = RegistryEntry("promote", version, None, "t", 0.0, "t")
    return encode_model_record(ModelRecord("fraud", v, entry, dumps_model_artifact(model)))


def test_predictor_handler_and_http_feed_the_predictor_families() -> None:
    predictor = Predictor("fraud")
    service = PredictorService(StreamSettings(predictor_model="fraud"), predictor)
    m = service.metrics
    assert m is not None and service.handler.metrics is m
    predictor.offer_model(b"fraud", _model_record("v1"))
    predictor.offer_model(b"fraud", _model_record("v2", corrupt=True))  # refused
    batch = [*RAWS[:20], RawEvent(None, b"[1]", "events", 0, 99)]
    service.handler(batch)

    async def main() -> str:
        async with TestClient(TestServer(service._web_app())) as client:
            resp = await client.post("/predict", data=json.dumps(STREAM.events[30:33]))
            assert resp.status == 200
            resp = await client.get("/metrics")
            assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
            return await resp.text()

    text = asyncio.run(main())
    assert "streamlabel_predictions_total" in text
    get = m.registry.get_sample_value
    assert get("streamlabel_events_processed_total") == 21
    assert get("streamlabel_predictions_total", {"path": "stream"}) == 20
    assert get("streamlabel_predictions_total", {"path": "http"}) == 3
    assert get("streamlabel_prediction_latency_seconds_count", {"path": "stream"}) == 20
    assert get("streamlabel_prediction_latency_seconds_count", {"path": "http"}) == 1
    assert get("streamlabel_dlq_total", {"reason": "not_object"}) == 1
    assert get("streamlabel_model_info", {"model": "fraud", "version": "v1"}) == 1
    assert get("streamlabel_model_swaps_total", {"model": "fraud"}) == 1
    assert get("streamlabel_model_load_failures_total", {"model": "fraud"}) == 1
    # Without metrics there is no /metrics route and no bundle.
    off = PredictorService(StreamSettings(predictor_model="fraud", metrics_enabled=False))
    assert off.metrics is None and off.handler.metrics is None


def test_aggregator_counts_records_and_publications(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlabel.stream import _aggregator, snapshot_value

    model = OnlineLabelModel(2)
    model.learn_many(np.array([[1, 0], [1, -1], [0, 0]]), ["a@1", "b@1"])
    good = json.dumps(
        snapshot_value(model, key="g/w1", lfset=("s", "1"), batches=1, at=1e12)
    ).encode()

    class Rec:
        def __init__(self, key: bytes, value: bytes, offset: int) -> None:
            self.key, self.value, self.topic = key, value, "stats"
            self.partition, self.offset = 0, offset

    polls = [{"tp": [Rec(b"g/w1", good, 0), Rec(b"g/w2", b"{bad", 1), Rec(b"x", good, 2)]}]
    published: list[Any] = []

    class Consumer:
        def __init__(self, **kw: Any) -> None:
            pass

        def partitions_for_topic(self, topic: str) -> set[int]:
            return {0}

        def assign(self, tps: Any) -> None:
            self.tps = tps

        def seek_to_beginning(self, *tps: Any) -> None:
            pass

        def poll(self, timeout_ms: int) -> dict[str, list[Rec]]:
            return polls.pop(0) if polls else {}

        def assignment(self) -> set[Any]:
            return set(self.tps)

        def highwater(self, tp: Any) -> int:
            return 10

        def position(self, tp: Any, timeout_ms: int | None = None) -> int:
            return 3

        def close(self) -> None:
            pass

    import kafka

    monkeypatch.setattr(kafka, "KafkaConsumer", Consumer)
    monkeypatch.setattr(
        _aggregator, "record_producer", lambda s, role: SimpleNamespace(close=lambda timeout: 0)
    )
    monkeypatch.setattr(_aggregator, "_publish", lambda p, s, out: published.append(out))
    m = Metrics()
    calls = iter(range(4))  # two checks while it finds the topic, one loop
    settings = StreamSettings(app_id="g", params_interval=0.001)
    run_aggregator(settings, should_stop=lambda: next(calls) >= 3, poll_timeout=0.01, metrics=m)
    get = m.registry.get_sample_value
    assert len(published) == 1
    assert get("streamlabel_labelmodel_stats_records_total", {"outcome": "taken"}) == 1
    assert get("streamlabel_labelmodel_stats_records_total", {"outcome": "ignored"}) == 2
    assert get("streamlabel_labelmodel_params_published_total") == 1
    assert get("streamlabel_aggregator_workers") == 1
    assert get("streamlabel_consumer_lag", {"topic": "labelmodel-stats", "partition": "0"}) == 7


def test_service_metrics_serve_on_a_port_and_a_taken_port_is_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    m, server = service_metrics(StreamSettings(metrics_port=0), "labeler", label_names=["a", "b"])
    assert m is not None and server is not None and server.host == "127.0.0.1"
    try:
        m.set_class_balance([0.25, 0.75])
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            assert 'streamlabel_labelmodel_class_balance{label="b"} 0.75' in r.read().decode()
        with caplog.at_level("ERROR", logger="streamlabel.metrics"):
            assert serve_metrics(Metrics(), "127.0.0.1", server.port) is None
        assert "metrics not served" in caplog.text
    finally:
        server.close()


def test_metrics_settings_from_the_environment() -> None:
    s = StreamSettings.from_env(
        environ={"STREAMLABEL_METRICS_PORT": "9200", "STREAMLABEL_METRICS_HOST": "0.0.0.0"}
    )
    assert (s.metrics_port, s.metrics_host, s.metrics_enabled) == (9200, "0.0.0.0", True)
    d = StreamSettings()
    assert (d.metrics_port, d.metrics_host) == (None, "127.0.0.1")
    assert dataclasses.is_dataclass(RetrainRequest)
