"""The predictor core: events to predictions by the served version; models records verified."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from streamlabel.datasets import make_fraud_stream
from streamlabel.models import (
    EndModel,
    Lineage,
    ModelRecord,
    ModelVersion,
    NoModelError,
    PayloadFeaturizer,
    RegistryEntry,
    ServingModel,
    ShadowPrediction,
    artifact_sha256,
    dumps_model_artifact,
    encode_model_record,
)
from streamlabel.pipeline import (
    PREDICTION_FAILED,
    PredictionRecord,
    Predictor,
    Source,
)

STREAM = make_fraud_stream(800, seed=3)


def _featurizer() -> PayloadFeaturizer:
    return PayloadFeaturizer(
        text_fields=["descriptor"],
        numeric_fields=["amount", "hour", "tx_last_hour", "tx_last_day"],
        categorical_fields=["merchant_category", "country", "device"],
        log_fields=["amount", "tx_last_hour", "tx_last_day"],
        n_features=2**10,
    )


@pytest.fixture(scope="module")
def models() -> tuple[EndModel, EndModel]:
    payloads = STREAM.payloads()[:600]
    y = STREAM.y[:600]
    return EndModel(_featurizer()).fit(payloads, y), EndModel(_featurizer(), C=0.05).fit(
        payloads, y
    )


def record(model: EndModel, version: str, *, name: str = "fraud", sha: str | None = None) -> bytes:
    number = int(version.lstrip("v") or 1)
    v = ModelVersion(
        version,
        number,
        float(number),
        {"accuracy": 0.9},
        Lineage("fraud-stream", "4", "1.0", 600),
        None,
        f"versions/{version}/model.npz",
        artifact_sha256(model) if sha is None else sha,
        model.n_classes_,
    )
    entry = RegistryEntry("promote", version, None, "test", float(number), "test")
    return encode_model_record(ModelRecord(name, v, entry, dumps_model_artifact(model)))


def raws(start: int, stop: int) -> list[tuple[bytes, Source]]:
    return [
        (json.dumps(STREAM.events[i]).encode(), Source("events", 0, i)) for i in range(start, stop)
    ]


def test_every_event_is_predicted_by_the_served_version_exactly(
    models: tuple[EndModel, EndModel],
) -> None:
    m1, _ = models
    p = Predictor("fraud", clock=lambda: 7.0)
    assert not p.ready and p.status()["version"] is None
    with pytest.raises(NoModelError):
        p.process_many(raws(600, 610))
    assert p.offer_model(b"fraud", record(m1, "v1")).action == "swapped"
    batch = raws(600, 700)
    batch.insert(5, (b'{"id": "x", "ts": 1}', Source("events", 0, 9999)))
    out = p.process_many(batch)
    assert out.version == "v1"
    assert len(out.predictions) == 100 and len(out.dlq) == 1
    assert out.dlq[0].reason == "missing_field" and out.dlq[0].source == Source("events", 0, 9999)
    expected = m1.predict_proba_many(STREAM.payloads()[600:700])
    got = np.array([r.proba for r in out.predictions])
    np.testing.assert_array_equal(got, expected)
    for rec, row, ev in zip(out.predictions, expected, STREAM.events[600:700], strict=True):
        assert (rec.event_id, rec.entity, rec.model, rec.version) == (
            ev["id"],
            ev["entity"],
            "fraud",
            "v1",
        )
        assert rec.score == row[1] and rec.label == int(row.argmax())
        assert rec.shadow_version is None and rec.predicted_at == 7.0
        assert PredictionRecord.from_dict(json.loads(json.dumps(rec.to_dict()))) == rec
    # The model is better than chance on held-out events (it is the model, not noise).
    labels = np.array([r.label for r in out.predictions])
    assert (labels == STREAM.y[600:700]).mean() > 0.8
    assert (p.predicted_, p.invalid_) == (100, 1)


def test_bad_records_are_refused_and_the_old_version_serves_on(
    models: tuple[EndModel, EndModel],
) -> None:
    m1, m2 = models
    p = Predictor("fraud")
    assert p.offer_model(b"fraud", record(m1, "v1")).action == "swapped"
    refused = [
        (b"fraud", record(m2, "v2", sha="0" * 64)),  # registered hash is not the artifact's
        (b"fraud", b"not json"),
        (b"fraud", record(m2, "v3", name="other")),  # a record under another key
        (b"fraud", json.dumps({"format": "x"}).encode()),
    ]
    for key, value in refused:
        outcome = p.offer_model(key, value)
        assert outcome.action == "refused", outcome
        assert p.version == "v1"
    assert "content hash" in p.offer_model(b"fraud", record(m2, "v2", sha="0" * 64)).reason
    assert p.models_refused_ == 5 and p.last_refusal_ is not None
    assert p.status()["models_refused"] == 5
    # Tombstones and other keys leave what serves; the same version again is a no-op.
    assert p.offer_model(b"fraud", b"").action == "ignored"
    assert p.offer_model(b"other", record(m2, "v9", name="other")).action == "ignored"
    assert p.offer_model(None, record(m2, "v9")).action == "ignored"
    assert p.offer_model(b"fraud", record(m1, "v1")).action == "unchanged"
    assert p.serving.swaps_ == 1 and p.version == "v1"
    assert p.offer_model(b"fraud", record(m2, "v2")).action == "swapped"
    out = p.process_many(raws(600, 620))
    assert {r.version for r in out.predictions} == {"v2"}
    np.testing.assert_array_equal(
        [r.proba for r in out.predictions], m2.predict_proba_many(STREAM.payloads()[600:620])
    )


def test_a_run_of_records_takes_the_newest_valid_one_per_key(
    models: tuple[EndModel, EndModel],
) -> None:
    m1, m2 = models
    p = Predictor("fraud")
    outcomes = p.offer_models(
        [
            (b"fraud", record(m1, "v1")),
            (b"fraud", record(m2, "v2")),
            (b"other", record(m1, "v1", name="other")),
            (b"fraud", record(m1, "v3", sha="1" * 64)),  # newest, corrupt
        ]
    )
    assert [(o.action, o.version) for o in outcomes] == [
        ("refused", "v3"),
        ("swapped", "v2"),
        ("ignored", None),
    ]
    assert p.version == "v2" and p.serving.swaps_ == 1  # v1 was never loaded


def test_shadow_scores_alongside_without_serving(models: tuple[EndModel, EndModel]) -> None:
    m1, m2 = models
    with pytest.raises(ValueError, match="shadow"):
        Predictor("fraud", shadow="fraud")
    p = Predictor("fraud", shadow="fraud-challenger")
    assert p.offer_model(b"fraud", record(m1, "v1")).action == "swapped"
    shadow = record(m2, "v7", name="fraud-challenger")
    assert p.offer_model(b"fraud-challenger", shadow).action == "shadowing"
    assert p.version == "v1" and p.status()["shadow"]["version"] == "v7"
    out = p.process_many(raws(600, 610))
    assert {r.version for r in out.predictions} == {"v1"}
    assert {r.shadow_version for r in out.predictions} == {"v7"}
    np.testing.assert_array_equal(
        [r.shadow_proba for r in out.predictions], m2.predict_proba_many(STREAM.payloads()[600:610])
    )
    status, body = p.answer(json.dumps(STREAM.events[600:603]))
    assert status == 200 and body["version"] == "v1"
    assert body["shadow"]["version"] == "v7" and len(body["shadow"]["predictions"]) == 3
    assert p.offer_model(b"fraud-challenger", None).action == "cleared"
    assert p.process_many(raws(600, 601)).predictions[0].shadow_version is None
    assert "shadow" not in p.answer(json.dumps(STREAM.events[600]))[1]


def test_http_answers(models: tuple[EndModel, EndModel]) -> None:
    m1, _ = models
    p = Predictor("fraud", max_request_events=5)
    one = json.dumps(STREAM.events[650])
    assert p.answer(one)[0] == 503
    p.offer_model(b"fraud", record(m1, "v1"))
    status, body = p.answer(one)
    expected = m1.predict_proba_many([STREAM.payloads()[650]])[0]
    assert status == 200 and body["model"] == "fraud" and body["version"] == "v1"
    (pred,) = body["predictions"]
    assert pred["id"] == STREAM.events[650]["id"] and pred["proba"] == expected.tolist()
    assert pred["score"] == expected[1] and pred["label"] == int(expected.argmax())
    status, body = p.answer(json.dumps(STREAM.events[650:653]))
    assert status == 200 and [r["id"] for r in body["predictions"]] == [
        e["id"] for e in STREAM.events[650:653]
    ]
    bad_ts = dict(STREAM.events[651], ts="yesterday")
    extra = dict(STREAM.events[652], extra=1)
    status, body = p.answer(json.dumps([STREAM.events[650], bad_ts, extra, 3]))
    assert status == 422
    assert [(e["index"], e["field"], e["reason"]) for e in body["errors"]] == [
        (1, "ts", "invalid_value"),
        (2, "extra", "unknown_field"),
        (3, None, "not_object"),
    ]
    for bad, reason in (
        (b"{oops", "not_json"),
        (b"[]", "invalid_value"),
        (json.dumps(STREAM.events[:6]).encode(), "oversized"),
    ):
        status, body = p.answer(bad)
        assert status == 422 and body["errors"][0]["reason"] == reason, bad
        assert body["errors"][0]["index"] is None
    assert p.answer(b'{"ts": 1, "entity": "e", "payload": {}}')[1]["errors"] == [
        {"index": None, "field": "id", "reason": "missing_field", "detail": "id: Field required"}
    ]


class _Flaky(ServingModel):
    """Raises on any batch holding a payload with ``boom``."""

    def predict_with_shadow(self, payloads: Sequence[Mapping[str, Any]]) -> ShadowPrediction:
        if any("boom" in p for p in payloads):
            raise RuntimeError("boom")
        return super().predict_with_shadow(payloads)


def test_an_event_the_model_raises_on_goes_to_the_dlq_alone(
    models: tuple[EndModel, EndModel],
) -> None:
    m1, _ = models
    p = Predictor("fraud", serving=_Flaky())
    p.offer_model(b"fraud", record(m1, "v1"))
    batch = raws(600, 605)
    bad = dict(STREAM.events[605], payload={"boom": 1})
    batch.insert(2, (json.dumps(bad).encode(), Source("events", 0, 605)))
    out = p.process_many(batch)
    assert [r.event_id for r in out.predictions] == [e["id"] for e in STREAM.events[600:605]]
    assert [(d.reason, d.source) for d in out.dlq] == [
        (PREDICTION_FAILED, Source("events", 0, 605))
    ]
    assert p.failed_ == 1


def test_a_model_with_another_class_count_is_refused(models: tuple[EndModel, EndModel]) -> None:
    m1, _ = models
    payloads = STREAM.payloads()[:300]
    three = EndModel(_featurizer()).fit(payloads, np.arange(300) % 3)
    p = Predictor("fraud")
    p.offer_model(b"fraud", record(m1, "v1"))
    outcome = p.offer_model(b"fraud", record(three, "v2"))
    assert outcome.action == "refused" and "classes" in outcome.reason
    assert p.version == "v1"
