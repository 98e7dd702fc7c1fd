"""Read a topic from its beginning to the end offsets it has now (kafka-python, no group).

The labeler's start-up (``lfsets``, ``labelmodel-stats``) and ``streamlabel lf push``
both need "everything on this (compacted) topic so far"; this is the one implementation.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from streamlabel.stream._app import RawEvent
from streamlabel.stream._settings import StreamSettings

__all__ = ["TopicReadTimeoutError", "end_offsets", "read_to_end"]


class TopicReadTimeoutError(RuntimeError):
    """The topic could not be read to its end offsets within the timeout."""


def end_offsets(
    settings: StreamSettings, logical: str, *, timeout: float, client_id: str
) -> dict[int, int] | None:
    """Return the end offset of every partition of ``logical`` now (None: no such topic).

    Raises
    ------
    kafka.errors.KafkaError
        The broker cannot be reached.
    """
    from kafka import KafkaConsumer, TopicPartition

    ms = max(int(timeout * 1000), 1000)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=client_id,
        group_id=None,
        enable_auto_commit=False,
        allow_auto_create_topics=False,
        bootstrap_timeout_ms=ms,
        request_timeout_ms=ms,
    )
    try:
        topic = settings.topic(logical)
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            return None
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        return {tp.partition: o for tp, o in consumer.end_offsets(tps, timeout_ms=ms).items()}
    finally:
        with contextlib.suppress(Exception):
            consumer.close()


def read_to_end(
    settings: StreamSettings,
    logical: str,
    *,
    timeout: float,
    client_id: str,
    keep: Callable[[bytes | None], bool] | None = None,
    wait_for_topic: float = 0.0,
    last: int | None = None,
) -> tuple[list[RawEvent], dict[int, int]] | None:
    """Return the records of ``logical`` up to its current end offsets, and those offsets.

    Records come in (partition, offset) order; ``keep(key)`` filters them; a tombstone's
    value is ``b""``. Returns None when the topic does not exist (after waiting up to
    ``wait_for_topic`` seconds for it to appear). With ``last``, only the last ``last``
    offsets of each partition are read (the trainer's warm start).

    Raises
    ------
    TopicReadTimeoutError
        The end offsets were not reached within ``timeout`` seconds.
    kafka.errors.KafkaError
        The broker cannot be reached.
    """
    from kafka import KafkaConsumer, TopicPartition

    topic = settings.topic(logical)
    ms = max(int(timeout * 1000), 1000)
    deadline = time.monotonic() + timeout
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=client_id,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        allow_auto_create_topics=False,
        bootstrap_timeout_ms=ms,
        request_timeout_ms=ms,
        fetch_max_wait_ms=200,
    )
    try:
        parts = consumer.partitions_for_topic(topic)
        wait_until = time.monotonic() + wait_for_topic
        while not parts and time.monotonic() < wait_until:
            time.sleep(0.2)
            parts = consumer.partitions_for_topic(topic)
        if not parts:
            return None
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        end: dict[TopicPartition, int] = consumer.end_offsets(tps, timeout_ms=ms)
        consumer.seek_to_beginning(*tps)
        if last is not None:
            begin = consumer.beginning_offsets(tps, timeout_ms=ms)
            for tp in tps:
                consumer.seek(tp, max(begin[tp], end[tp] - last))
        records: list[RawEvent] = []
        remaining = {tp for tp in tps if end[tp] > 0 and consumer.position(tp) < end[tp]}
        while remaining:
            left = deadline - time.monotonic()
            if left <= 0:
                behind = {tp.partition: (consumer.position(tp), end[tp]) for tp in remaining}
                raise TopicReadTimeoutError(
                    f"timed out after {timeout:g} s reading {topic} to its end offsets "
                    f"(partition: (position, end) {behind})"
                )
            for tp, batch in consumer.poll(timeout_ms=int(min(left, 0.5) * 1000)).items():
                for rec in batch:
                    # Records produced after we took the end offsets belong to later reads.
                    if rec.offset >= end[tp] or (keep is not None and not keep(rec.key)):
                        continue
                    records.append(
                        RawEvent(
                            rec.key,
                            rec.value or b"",
                            rec.topic,
                            rec.partition,
                            rec.offset,
                            rec.timestamp / 1000.0,
                        )
                    )
            remaining = {tp for tp in remaining if consumer.position(tp, timeout_ms=ms) < end[tp]}
        records.sort(key=lambda r: (r.partition, r.offset))
        return records, {tp.partition: end[tp] for tp in tps}
    finally:
        with contextlib.suppress(Exception):
            consumer.close()
