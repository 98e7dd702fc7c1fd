"""The trainer on the session's Kafka broker, next to a real labeler worker.

Generated fraud events go to ``events``; a labeler subprocess labels them; a trainer
subprocess joins events and labels, trains on its schedule and publishes the champion to
``models``; a retraining request on ``drift`` (the labeler's record format) makes a second
round on the same window, whose challenger ties the champion and is not published; a
trainer started on an empty registry imports the champion from ``models``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streamlabel.datasets import make_fraud_stream
from streamlabel.drift import RetrainRequest
from streamlabel.models import ModelRecord, ModelRegistry, decode_model_record, loads_model_artifact
from streamlabel.pipeline import drift_record
from streamlabel.stream import StreamSettings
from streamlabel.stream._process import WorkerProcess

from .worker_setup import worker_settings

pytestmark = pytest.mark.kafka

N_EVENTS = 3000
READY_TIMEOUT = 60.0
MODEL_TIMEOUT = 120.0
TRAINER = "streamlabel.stream._trainer"


@pytest.fixture
def procs() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    try:
        yield started
    finally:
        for p in started:
            p.kill()


def models_records(settings: StreamSettings, timeout: float = 5.0) -> list[tuple[bytes, bytes]]:
    """Everything on ``models`` now (key, value)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        tps = [TopicPartition(settings.topic("models"), p) for p in range(settings.partitions)]
        consumer.assign(tps)
        end = consumer.end_offsets(tps)
        consumer.seek_to_beginning(*tps)
        out: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in tps):
            assert time.monotonic() < deadline, "models not read to its end"
            for batch in consumer.poll(timeout_ms=200).values():
                out.extend((r.key, r.value) for r in batch)
        return out
    finally:
        consumer.close()


def wait_models(settings: StreamSettings, n: int, timeout: float) -> list[tuple[bytes, bytes]]:
    deadline = time.monotonic() + timeout
    while True:
        found = models_records(settings)
        if len(found) >= n:
            return found
        assert time.monotonic() < deadline, f"{len(found)} models records after {timeout} s"
        time.sleep(0.5)


def fraud_settings(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, **changes: Any
) -> StreamSettings:
    """A labeler's and a trainer's settings on the fraud stream (LF set v4), topics created."""
    lfset_file = resources.files("streamlabel.datasets") / "lfsets" / "fraud_v4.yaml"
    fraud: dict[str, Any] = {
        "lfset": "fraud-stream",
        "lfset_file": Path(str(lfset_file)),
        "worker_id": "w1",
        # Quiet monitors: a test's only retraining request is the one it sends.
        "drift_min_samples": 1_000_000,
        "model_name": "fraud",
        "registry_dir": tmp_path / "registry",
        "train_every": 0,  # requests only
        "train_cooldown": 0,
        "train_min_events": 300,
        "train_min_holdout": 50,
        "feature_text": ["descriptor"],
        "feature_numeric": ["amount", "hour", "tx_last_hour", "tx_last_day"],
        "feature_categorical": ["merchant_category", "country", "device"],
        "feature_bits": 12,
    }
    return worker_settings(kafka_bootstrap, topic_prefix, tmp_path, **(fraud | changes))


def send_events(producer: KafkaProducer, settings: StreamSettings, events: list[Any]) -> None:
    """Send the fraud stream's events to ``events``, keyed by entity, and flush."""
    for e in events:
        producer.send(
            settings.topic("events"), key=e["entity"].encode(), value=json.dumps(e).encode()
        )
    producer.flush(timeout=30)


def test_trainer_publishes_a_champion_and_keeps_it_against_a_tie(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, procs: list[WorkerProcess]
) -> None:
    base = fraud_settings(
        kafka_bootstrap,
        topic_prefix,
        tmp_path,
        train_every=N_EVENTS,  # one scheduled round, once every event is labeled
        feature_log=["amount", "tx_last_hour", "tx_last_day"],
    )
    stream = make_fraud_stream(N_EVENTS, seed=3)
    producer = KafkaProducer(bootstrap_servers=base.bootstrap_servers, acks="all", linger_ms=5)
    try:
        send_events(producer, base, stream.events)

        labeler = WorkerProcess(base, tmp_path / "labeler.log")
        procs.append(labeler)
        trainer = WorkerProcess(base, tmp_path / "trainer.log", module=TRAINER)
        procs.append(trainer)
        trainer.wait_log(r"streamlabel trainer ready .*champion none yet", READY_TIMEOUT)
        labeler.wait_log(r"streamlabel worker ready", READY_TIMEOUT)

        # The scheduled round: all events joined, v1 promoted and published.
        ((key, value),) = wait_models(base, 1, MODEL_TIMEOUT)
        trainer.wait_log(
            rf"streamlabel training \(schedule\) at {N_EVENTS} labeled events: v1 promoted", 10
        )
        assert key == b"fraud"
        record = decode_model_record(value)
        assert record.name == "fraud" and record.entry.action == "promote"
        model = loads_model_artifact(record.artifact, expected_sha256=record.version.sha256)
        payloads = [e["payload"] for e in stream.events]
        proba = model.predict_proba_many(payloads)
        assert proba.shape == (N_EVENTS, 2) and np.allclose(proba.sum(axis=1), 1.0)
        accuracy = float((proba.argmax(axis=1) == stream.y).mean())
        majority = float(max(stream.y.mean(), 1 - stream.y.mean()))
        assert accuracy > majority + 0.02, (accuracy, majority)
        lineage = record.version.lineage
        assert (lineage.lfset_name, lineage.lfset_version) == ("fraud-stream", "4")
        assert lineage.labelmodel_version and 0 < lineage.training_window < N_EVENTS

        # A retraining request on `drift`: same window, an identical challenger, a tie.
        request = RetrainRequest(
            1, None, ("gold_error",), "drift on critical monitor gold_error", ()
        )
        value_out = json.dumps(drift_record(request, {"group": base.group_id})).encode()
        producer.send(base.topic("drift"), key=b"gold_error", value=value_out)
        producer.flush(timeout=30)
        trainer.wait_log(
            rf"streamlabel training \(request\) at {N_EVENTS} labeled events: v2 not promoted",
            MODEL_TIMEOUT,
        )
        assert trainer.stop(timeout=20) == 0, trainer.text()[-3000:]
        assert len(models_records(base)) == 1  # the challenger that did not win is not out
        registry = ModelRegistry(base.registry_dir)
        assert [v.version for v in registry.list()] == ["v1", "v2"]
        assert registry.champion is not None and registry.champion.version == "v1"
        assert "is not better than champion" in trainer.text()

        # A trainer on an empty registry imports what predictors serve.
        fresh = base.model_copy(update={"registry_dir": tmp_path / "fresh"})
        again = WorkerProcess(fresh, tmp_path / "trainer2.log", module=TRAINER)
        procs.append(again)
        again.wait_log(
            rf"champion v1 imported from the models topic; window refilled with {N_EVENTS} "
            "labeled events",
            READY_TIMEOUT,
        )
        assert again.stop(timeout=20) == 0, again.text()[-3000:]
        imported = ModelRegistry(fresh.registry_dir).champion
        assert imported is not None and imported.sha256 == record.version.sha256
        assert len(models_records(base)) == 1
        for p in (labeler, trainer, again):
            assert "Traceback" not in p.text(), p.text()[-3000:]
        assert labeler.stop(timeout=20) == 0
    finally:
        producer.close()
    assert isinstance(record, ModelRecord)


def drift_records(settings: StreamSettings, timeout: float = 5.0) -> list[tuple[bytes, Any]]:
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        tp = TopicPartition(settings.topic("drift"), 0)
        consumer.assign([tp])
        end = consumer.end_offsets([tp])[tp]
        consumer.seek_to_beginning(tp)
        out = []
        deadline = time.monotonic() + timeout
        while consumer.position(tp) < end:
            assert time.monotonic() < deadline, "drift not read to its end"
            for batch in consumer.poll(timeout_ms=200).values():
                out.extend((r.key, json.loads(r.value)) for r in batch)
        return out
    finally:
        consumer.close()


def test_the_labelers_drift_request_makes_the_trainer_publish(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, procs: list[WorkerProcess]
) -> None:
    """The closed loop: LF coverage drifts, the labeler asks, the trainer answers."""
    base = fraud_settings(
        kafka_bootstrap,
        topic_prefix,
        tmp_path,
        partitions=1,  # the labeler sees the stream in order: coverage drifts as in-process
        batch_size=500,
        drift_min_samples=500,
        drift_cooldown=1_000_000,  # one request
    )
    n = 12_000
    stream = make_fraud_stream(n, seed=0)
    producer = KafkaProducer(bootstrap_servers=base.bootstrap_servers, acks="all", linger_ms=5)
    try:
        send_events(producer, base, stream.events)
    finally:
        producer.close()
    trainer = WorkerProcess(base, tmp_path / "trainer.log", module=TRAINER)
    procs.append(trainer)
    labeler = WorkerProcess(base, tmp_path / "labeler.log")
    procs.append(labeler)
    ((key, value),) = wait_models(base, 1, MODEL_TIMEOUT)
    line = trainer.wait_log(r"streamlabel training \(request\) at \d+ labeled events: .*", 10)
    print(f"\n[closed loop] {line.group(0)}")
    assert "v1 promoted" in line.group(0)
    labeler.wait_log(r"streamlabel retraining request: drift on \d+ monitors", 10)
    record = decode_model_record(value)
    assert key == b"fraud" and record.entry.reason.startswith("retraining request: drift on")
    model = loads_model_artifact(record.artifact, expected_sha256=record.version.sha256)
    proba = model.predict_proba_many([e["payload"] for e in stream.events])
    accuracy = float((proba.argmax(axis=1) == stream.y).mean())
    majority = float(max(stream.y.mean(), 1 - stream.y.mean()))
    assert accuracy > majority, (accuracy, majority)

    drift = drift_records(base)
    kinds = [v["kind"] for _, v in drift]
    assert kinds.count("retrain_request") == 1 and kinds.count("drift") >= 2
    for k, v in drift:
        assert v["group"] == base.group_id and v["lfset_version"] == "4"
        if v["kind"] == "drift":
            assert k == v["event"]["monitor"].encode()
        else:
            assert k == ",".join(v["request"]["monitors"]).encode()
    assert trainer.stop(timeout=20) == 0 and labeler.stop(timeout=20) == 0
    for p in (labeler, trainer):
        assert "Traceback" not in p.text(), p.text()[-3000:]
