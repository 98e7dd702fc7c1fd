"""The trainer service's record handling, without a broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streamlabel.cli import main as cli_main
from streamlabel.datasets import fraud_lfsets, make_fraud_stream
from streamlabel.drift import DriftEvent, RetrainRequest
from streamlabel.models import loads_model_artifact
from streamlabel.pipeline import drift_record
from streamlabel.stream import LabelerHandler, RawEvent, StreamSettings
from streamlabel.stream._trainer import TrainerHandler, build_trainer

FEATURES = {
    "STREAMLABEL_FEATURE_TEXT": "descriptor",
    "STREAMLABEL_FEATURE_NUMERIC": "amount, hour,tx_last_hour",
    "STREAMLABEL_FEATURE_CATEGORICAL": "merchant_category,country,device",
    "STREAMLABEL_FEATURE_LOG": "amount",
    "STREAMLABEL_FEATURE_BITS": "10",
}


def settings(tmp_path: Path, **env: str) -> StreamSettings:
    base = {**FEATURES, "STREAMLABEL_REGISTRY_DIR": str(tmp_path / "reg"), **env}
    return StreamSettings.from_env(environ=base)


def labeled(n: int) -> tuple[list[RawEvent], list[RawEvent], Any]:
    """Events and the labels a labeler (fraud v4) emits for them."""
    s = make_fraud_stream(n, seed=1)
    events = [
        RawEvent(e["entity"].encode(), json.dumps(e).encode(), "events", 0, i)
        for i, e in enumerate(s.events)
    ]
    labeler = LabelerHandler.from_settings(
        StreamSettings(drift_enabled=False, review_max_per_1000=0, snapshot_every=0),
        fraud_lfsets()[3],
    )
    labels = [
        RawEvent(
            o.key if isinstance(o.key, bytes) else None, json.dumps(o.value).encode(), "l", 0, 0
        )
        for lo in range(0, n, 500)
        for o in labeler(events[lo : lo + 500])
        if o.topic == "labels"
    ]
    return events, labels, s


def test_settings_from_env_build_the_trainer(tmp_path: Path) -> None:
    s = settings(tmp_path, STREAMLABEL_TRAIN_EVERY="300", STREAMLABEL_PROMOTE_MARGIN="0.01")
    t = build_trainer(s)
    assert t.featurizer.numeric_fields == ("amount", "hour", "tx_last_hour")
    assert t.featurizer.n_features == 1024
    assert (t.every, t.margin, t.metric, t.soft_labels) == (300, 0.01, "accuracy", False)
    assert t.registry.root == tmp_path / "reg"
    assert s.trainer_group_id == "streamlabel-labeler-trainer"


def test_records_fill_the_window_and_requests_of_the_group_train(tmp_path: Path) -> None:
    s = settings(tmp_path, STREAMLABEL_TRAIN_EVERY="0", STREAMLABEL_TRAIN_MIN_EVENTS="300")
    h = TrainerHandler(build_trainer(s), s.group_id)
    events, labels, stream = labeled(2000)
    for ev, lab in zip(events, labels, strict=True):
        h.offer("labels", lab)
        h.offer("events", ev)
    gold = {"event_id": stream.events[0]["id"], "label": 1, "source": "chargeback", "at": 1}
    h.offer("feedback", RawEvent(None, json.dumps(gold).encode(), "feedback", 0, 0))
    for bad in ("events", "labels", "feedback", "drift"):
        h.offer(bad, RawEvent(None, b"{not json", bad, 0, 0))
    assert h.invalid_ == {"events": 1, "labels": 1, "feedback": 1, "drift": 1}
    window = h.trainer.window
    assert len(window) == 2000 and window.examples()[0].gold == 1
    assert h.step() == []  # no schedule, no request

    req = RetrainRequest(5, None, ("gold_error",), "drift on critical monitor gold_error", ())
    other = drift_record(req, {"group": "another-group"})
    event = drift_record(DriftEvent("score", "score", "drift", 5, 5), {"group": s.group_id})
    for value in (other, event):
        h.offer("drift", RawEvent(b"x", json.dumps(value).encode(), "drift", 0, 0))
    assert h.step() == [] and h.drift_ignored_ == 2
    ours = drift_record(req, {"group": s.group_id})
    h.offer("drift", RawEvent(b"gold_error", json.dumps(ours).encode(), "drift", 0, 0))
    (result,) = h.step()
    assert result.trigger == "request" and result.promoted and result.record is not None
    model = loads_model_artifact(
        result.record.artifact, expected_sha256=result.record.version.sha256
    )
    payloads = [e["payload"] for e in stream.events]
    accuracy = float((model.predict_many(payloads) == stream.y).mean())
    assert accuracy > 0.9, accuracy
    assert result.record.version.lineage.lfset_name == "fraud-stream"
    assert result.record.version.lineage.lfset_version == "4"


def test_train_command_refuses_to_start_without_features(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in FEATURES:
        monkeypatch.delenv(name, raising=False)
    code = cli_main(["train", "--brokers", "127.0.0.1:1", "--registry-dir", str(tmp_path)])
    assert code == 2
    assert "needs the end model's features" in capsys.readouterr().err
