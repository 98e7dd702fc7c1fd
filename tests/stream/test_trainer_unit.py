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
    h.offer("model-commands", RawEvent(b"other-model", b"{not json", "model-commands", 0, 0))
    h.offer("model-commands", RawEvent(b"default", b"{not json", "model-commands", 0, 0))
    assert h.invalid_ == {
        "events": 1,
        "labels": 1,
        "feedback": 1,
        "drift": 1,
        "model-commands": 1,  # another model's commands are not this trainer's business
    }
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


def _registered(tmp_path: Path) -> TrainerHandler:
    """A trainer whose registry holds v1 and v2, v2 the champion."""
    import numpy as np

    from streamlabel.models import EndModel, Lineage, PayloadFeaturizer

    handler = TrainerHandler(build_trainer(settings(tmp_path)), "g")
    registry = handler.trainer.registry
    payloads = [{"amount": float(i)} for i in range(40)]
    for seed in (1, 2):
        model = EndModel(PayloadFeaturizer(numeric_fields=["amount"], n_features=4))
        model.fit(payloads, (np.arange(40) + seed) % 2)
        v = registry.register(model, {"accuracy": 0.5}, Lineage("s", "1", "0", 40))
        registry.promote(v.version, "scheduled round", actor="trainer")
    assert registry.champion is not None and registry.champion.version == "v2"
    return handler


def _command(cmd: Any, key: str = "default") -> RawEvent:
    from streamlabel.models import encode_model_command

    return RawEvent(key.encode(), encode_model_command(cmd), "model-commands", 0, 0)


def test_model_commands_change_the_champion_with_who_and_why(tmp_path: Path) -> None:
    import time

    from streamlabel.models import ModelCommand, decode_model_record, encode_model_record

    handler = _registered(tmp_path)
    now = time.time()
    handler.offer(
        "model-commands",
        _command(ModelCommand("c1", "default", "rollback", None, "alice", "v2 drifts", now)),
    )
    handler.offer(
        "model-commands",
        _command(ModelCommand("c2", "default", "promote", "v9", "alice", "typo", now)),
    )
    handler.offer(
        "model-commands",
        _command(ModelCommand("c3", "default", "promote", "v2", "bob", "old", now - 3600)),
    )
    handler.offer(
        "model-commands",
        _command(ModelCommand("c4", "other", "promote", "v2", "bob", "x", now), key="other"),
    )
    (record,) = handler.apply_commands()
    assert record.version.version == "v1"
    assert (record.entry.action, record.entry.actor, record.entry.reason) == (
        "rollback",
        "alice",
        "v2 drifts",
    )
    assert decode_model_record(encode_model_record(record)) == record
    registry = handler.trainer.registry
    assert registry.champion is not None and registry.champion.version == "v1"
    outcomes = [(c["id"], c["ok"]) for c in handler.commands_]
    assert outcomes == [("c1", True), ("c2", False), ("c3", False)]  # c4: another model's
    assert "no version 'v9' (versions: v1, v2)" in handler.commands_[1]["reason"]
    assert handler.commands_[2]["reason"].startswith("stale")
    view = handler.registry_view()
    assert view["champion"] == "v1" and [v["version"] for v in view["versions"]] == ["v1", "v2"]
    assert view["history"][-1]["action"] == "rollback" and view["commands"][0]["id"] == "c1"
    assert json.loads(json.dumps(view)) == view
    handler.offer(
        "model-commands",
        _command(ModelCommand("c5", "default", "promote", "v2", "bob", "v2 fixed", now)),
    )
    (record,) = handler.apply_commands()
    assert record.version.version == "v2" and record.entry.actor == "bob"
    assert handler.commands_seen_ == 4
