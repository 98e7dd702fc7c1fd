"""A replay's read loop is bounded: behind its stop offsets with no record, it gives up.

docs/architecture.md, replay bounds: "loops end at the planned stop offsets, or raise
``ReplayError`` after ``timeout`` seconds without a record while behind". A planned stop
the partition does not reach (records gone, a topic recreated, a partition without a
leader) must not hang the replay (or the control API's job) for good.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition  # type: ignore[import-untyped]
from kafka import KafkaProducer

from streamlabel.stream._replay import ReplayError, _Consumer, _read_ranges

from .worker_setup import worker_settings

pytestmark = pytest.mark.kafka

IDLE_S = 2.0


def test_a_stop_offset_never_reached_raises_after_the_idle_timeout(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    settings = worker_settings(kafka_bootstrap, topic_prefix, tmp_path)
    topic = settings.topic("events")
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    try:
        for _ in range(5):
            producer.send(topic, key=b"k", value=b"{}", partition=0)
        producer.flush(timeout=30)
    finally:
        producer.close()

    consumer = _Consumer(settings, "read", 10.0)
    outcome: dict[str, Any] = {}

    def read() -> None:
        got: list[int] = []
        try:
            ranges = {TopicPartition(topic, 0): (0, 20)}  # 5 records there, 20 planned
            for recs in _read_ranges(consumer, ranges, max_records=100, idle_timeout=IDLE_S):
                got.extend(r.offset for r in recs)
        except ReplayError as exc:
            outcome["error"] = exc
        outcome["offsets"] = got

    t0 = time.monotonic()
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(timeout=IDLE_S + 20)
    try:
        assert not thread.is_alive(), "the read loop did not stop behind an unreachable stop"
        assert outcome["offsets"] == [0, 1, 2, 3, 4]
        assert isinstance(outcome.get("error"), ReplayError)
        assert "no records for 2 s" in str(outcome["error"])
        assert IDLE_S <= time.monotonic() - t0 < IDLE_S + 15
    finally:
        if not thread.is_alive():
            consumer.close()
