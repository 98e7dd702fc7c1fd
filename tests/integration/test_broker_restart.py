"""A running labeler survives a broker restart: it reconnects and labels what comes after.

The test has a broker of its own (the session's is shared by the other tests): started on
free ports, stopped while the worker runs, and started again on the same ports and data.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kafka import KafkaProducer
from tests.integration.test_labeler_service import (
    SPEC,
    Outputs,
    Worker,
    event_json,
    produce,
)

from streamlabel.datasets import make_transactions
from streamlabel.dev import start_on_free_ports
from streamlabel.stream import StreamSettings, ensure_topics

pytestmark = pytest.mark.kafka


def _producer(settings: StreamSettings) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5)


def test_worker_reconnects_after_the_broker_restarts(tmp_path: Path) -> None:
    broker = start_on_free_ports(tmp_path / "kafka")
    worker: Worker | None = None
    try:
        lfset_file = tmp_path / "tx.json"
        lfset_file.write_text(json.dumps(SPEC), encoding="utf-8")
        settings = StreamSettings(
            brokers=[str(broker.bootstrap)],
            topic_prefix="restart.",
            partitions=2,
            batch_size=100,
            batch_max_wait=0.1,
            datadir=tmp_path / "faust",
            lfset="tx",
            lfset_file=lfset_file,
        )
        ensure_topics(settings)
        txs = make_transactions(200, seed=11)
        items = [(tx["entity"].encode(), event_json(tx)) for tx in txs]
        topic = settings.topic("events")

        worker = Worker(settings, tmp_path / "worker.log")
        worker.wait_log(r"streamlabel worker ready")
        producer = _producer(settings)
        produce(producer, topic, items[:100])
        producer.close()
        outputs = Outputs(settings)
        outputs.poll_until(lambda: len(outputs.labels) >= 100)
        outputs.close()

        assert broker.down()
        time.sleep(3.0)  # the worker's clients see the connection refused meanwhile
        broker.up(timeout=90.0)
        assert worker.proc.poll() is None, worker.text()[-3000:]

        producer = _producer(settings)
        produce(producer, topic, items[100:])
        producer.close()
        outputs = Outputs(settings)
        outputs.poll_until(lambda: len(outputs.labels) >= 200, timeout=90.0)
        outputs.close()
        assert set(outputs.labels) == {tx["id"] for tx in txs}
        assert worker.stop() == 0, worker.text()[-3000:]
    finally:
        if worker is not None:
            worker.kill()
        broker.down()
