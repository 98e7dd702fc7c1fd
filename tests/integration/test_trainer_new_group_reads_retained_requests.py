"""A trainer's new consumer group starts at the earliest offsets: retained requests count.

docs/architecture.md, the trainer service: "subscribed to events, labels, feedback and
drift from the earliest offsets of a new group". The start-up refill covers ``labels``,
``events`` and ``feedback`` only, so a retraining request the labeler published before
the trainer's first start is seen only through the group's earliest start.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from kafka import KafkaProducer

from streamlabel.datasets import make_fraud_stream
from streamlabel.drift import RetrainRequest
from streamlabel.models import decode_model_record
from streamlabel.pipeline import drift_record
from streamlabel.stream._process import WorkerProcess
from streamlabel.stream._topics import read_to_end

from .test_trainer_service import (  # noqa: F401 (procs is a fixture)
    MODEL_TIMEOUT,
    READY_TIMEOUT,
    TRAINER,
    fraud_settings,
    procs,
    send_events,
    wait_models,
)

N_EVENTS = 2000


def test_a_request_published_before_the_trainer_first_started_is_answered(
    kafka_bootstrap: str,
    topic_prefix: str,
    tmp_path: Path,
    procs: list[WorkerProcess],  # noqa: F811 (the fixture imported above)
) -> None:
    base = fraud_settings(kafka_bootstrap, topic_prefix, tmp_path)
    stream = make_fraud_stream(N_EVENTS, seed=4)
    producer = KafkaProducer(bootstrap_servers=base.bootstrap_servers, acks="all", linger_ms=5)
    try:
        send_events(producer, base, stream.events)

        # The labeler labels everything and stops before any trainer exists.
        labeler = WorkerProcess(base, tmp_path / "labeler.log")
        procs.append(labeler)
        deadline = time.monotonic() + MODEL_TIMEOUT
        while True:
            found = read_to_end(base, "labels", timeout=10, client_id="t-labels")
            if found is not None and len(found[0]) >= N_EVENTS:
                break
            assert time.monotonic() < deadline, labeler.text()[-3000:]
            time.sleep(0.5)
        assert labeler.stop(timeout=20) == 0, labeler.text()[-3000:]

        # A retraining request of this labeler group, retained on `drift`.
        request = RetrainRequest(1, None, ("gold_error",), "drift on critical monitor", ())
        value = json.dumps(drift_record(request, {"group": base.group_id})).encode()
        producer.send(base.topic("drift"), key=b"gold_error", value=value).get(timeout=30)
    finally:
        producer.close()

    trainer = WorkerProcess(base, tmp_path / "trainer.log", module=TRAINER)
    procs.append(trainer)
    trainer.wait_log(r"streamlabel trainer ready .*champion none yet", READY_TIMEOUT)
    ((key, record_value),) = wait_models(base, 1, 60.0)
    trainer.wait_log(r"streamlabel training \(request\) at \d+ labeled events: v1 promoted", 10)
    record = decode_model_record(record_value)
    assert key == b"fraud" and record.entry.reason.startswith("retraining request")
    assert trainer.stop(timeout=20) == 0, trainer.text()[-3000:]
    assert "Traceback" not in trainer.text(), trainer.text()[-3000:]
