"""``streamlabel trace EVENT_ID``: one event's audit chain, read from the topics.

Outputs are keyed by event id and produced with Kafka's default partitioner (murmur2 of
the key), so an event's records sit in one known partition of ``labels`` (revisions from
replays included), ``review``, ``predictions`` and ``feedback``: only that partition is
read, from its beginning to the end offset taken at start, outside any consumer group.
The event itself is then fetched at the source its label names. What the topics no
longer retain is not in the trace: retention is the audit trail's bound.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from streamlabel.pipeline import Trace, TraceRecord, build_trace
from streamlabel.stream._app import AUDIT_TOPICS
from streamlabel.stream._settings import StreamSettings

__all__ = ["read_trace"]

#: Topics keyed by event id that a trace reads (those absent on the broker are skipped);
#: created with the audit trail's retention (``StreamSettings.retention_hours``).
KEYED_TOPICS = AUDIT_TOPICS


def _decode(value: bytes | None) -> dict[str, Any] | None:
    try:
        out = json.loads(value or b"")
    except ValueError:
        return None
    return out if isinstance(out, dict) else None


def read_trace(settings: StreamSettings, event_id: str, *, timeout: float = 30.0) -> Trace:
    """Read every retained record of ``event_id`` and assemble its :class:`Trace`.

    Raises
    ------
    TimeoutError
        A partition could not be read to its end offset within ``timeout`` seconds.
    kafka.errors.KafkaError
        The broker cannot be reached.
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.partitioner.default import murmur2

    ms = max(int(timeout * 1000), 1000)
    deadline = time.monotonic() + timeout
    key = event_id.encode("utf-8")
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.group_id}-trace",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        allow_auto_create_topics=False,
        bootstrap_timeout_ms=ms,
        request_timeout_ms=ms,
        fetch_max_wait_ms=200,
    )
    records: list[TraceRecord] = []
    try:
        logical_of: dict[str, str] = {}
        tps = []
        for logical in KEYED_TOPICS:
            topic = settings.topic(logical)
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                continue
            ordered = sorted(parts)
            # Kafka's default partitioner, as every producer of these keys uses it.
            part = ordered[(murmur2(key) & 0x7FFFFFFF) % len(ordered)]
            tps.append(TopicPartition(topic, part))
            logical_of[topic] = logical
        if tps:
            consumer.assign(tps)
            end = consumer.end_offsets(tps, timeout_ms=ms)
            consumer.seek_to_beginning(*tps)
            remaining = {tp for tp in tps if end[tp] > 0}
            while remaining:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"trace of {event_id!r}: partitions not read to their end within "
                        f"{timeout:g} s: {sorted((tp.topic, tp.partition) for tp in remaining)}"
                    )
                for tp, batch in consumer.poll(timeout_ms=int(min(left, 0.5) * 1000)).items():
                    for rec in batch:
                        if rec.offset >= end[tp] or rec.key != key:
                            continue
                        value = _decode(rec.value)
                        if value is not None:
                            records.append(
                                TraceRecord(
                                    logical_of[tp.topic],
                                    rec.partition,
                                    rec.offset,
                                    rec.timestamp / 1000.0,
                                    value,
                                )
                            )
                remaining = {
                    tp for tp in remaining if consumer.position(tp, timeout_ms=ms) < end[tp]
                }
        # The event itself, at the source its first label names.
        labels = sorted(
            (r for r in records if r.topic == "labels"), key=lambda r: (r.partition, r.offset)
        )
        src = labels[0].value.get("source") if labels else None
        if isinstance(src, dict) and isinstance(src.get("partition"), int):
            tp = TopicPartition(str(src.get("topic")), src["partition"])
            offset = int(src.get("offset", -1))
            consumer.assign([tp])
            begin = consumer.beginning_offsets([tp], timeout_ms=ms)[tp]
            if offset >= begin:
                consumer.seek(tp, offset)
                got = None
                while got is None and time.monotonic() < deadline:
                    for rec in consumer.poll(timeout_ms=500).get(tp, []):
                        if rec.offset == offset:
                            got = rec
                            break
                value = _decode(got.value) if got is not None else None
                if got is not None and value is not None:
                    records.append(
                        TraceRecord(
                            "events", got.partition, got.offset, got.timestamp / 1000.0, value
                        )
                    )
    finally:
        with contextlib.suppress(Exception):
            consumer.close()
    return build_trace(event_id, records)
