"""The batched reader's bookkeeping with stand-in clients (tests/integration has the broker)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition  # type: ignore[import-untyped]
from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]

from streamlabel.stream import Output, RawEvent, StreamSettings
from streamlabel.stream._app import encode_output
from streamlabel.stream._reader import BatchedReader


class _Batch:
    def __init__(self, cap: int) -> None:
        self.items: list[tuple[Any, bytes]] = []
        self.cap = cap

    def append(self, *, key: Any, value: bytes, timestamp: Any) -> object | None:
        if len(self.items) >= self.cap:
            return None
        self.items.append((key, value))
        return object()

    def record_count(self) -> int:
        return len(self.items)


class _Producer:
    def __init__(self, log: list[Any], cap: int = 1000) -> None:
        self.log = log
        self.cap = cap

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> _Batch:
        return _Batch(self.cap)

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> Any:
        fut = asyncio.get_running_loop().create_future()

        def deliver() -> None:
            self.log.append(("delivered", topic, partition, list(batch.items)))
            fut.set_result(None)

        asyncio.get_running_loop().call_later(0.01, deliver)
        return fut


class _Consumer:
    def __init__(self, log: list[Any]) -> None:
        self.log = log

    async def commit(self, offsets: dict[Any, int]) -> None:
        self.log.append(("commit", dict(offsets)))


def _rec(topic: str, partition: int, offset: int, value: bytes) -> Any:
    return SimpleNamespace(
        topic=topic, partition=partition, offset=offset, key=b"k", value=value, timestamp=1000
    )


def _reader(log: list[Any], cap: int = 1000) -> tuple[BatchedReader, list[Any]]:
    seen: list[Any] = []

    def handler(batch: Any) -> list[Output]:
        seen.append(("events", [(e.partition, e.offset) for e in batch]))
        return [Output("labels", f"e{e.offset}", {"offset": e.offset}) for e in batch]

    def on_feedback(batch: Any) -> list[Output]:
        seen.append(("feedback", [e.offset for e in batch]))
        return []

    reader = BatchedReader(StreamSettings(topic_prefix="u."), handler, on_feedback)
    _connect(reader, log, cap)
    return reader, seen


def _connect(reader: BatchedReader, log: list[Any], cap: int = 1000) -> None:
    """Give ``reader`` the stand-in clients and what start() reads from them."""
    reader.producer = _Producer(log, cap)
    reader.consumer = _Consumer(log)
    asyncio.run(reader._read_outputs())
    reader._ready.set()


def test_outputs_are_delivered_before_the_offsets_are_committed() -> None:
    log: list[Any] = []
    reader, seen = _reader(log, cap=2)  # small producer batches: several per partition
    records = {
        TopicPartition("u.events", 0): [_rec("u.events", 0, o, b"{}") for o in (5, 6, 7)],
        TopicPartition("u.events", 1): [_rec("u.events", 1, 3, b"{}")],
        TopicPartition("u.feedback", 0): [_rec("u.feedback", 0, 9, b"{}")],
    }

    async def process() -> None:
        await reader._process(records)
        await reader.drain()

    asyncio.run(process())
    assert seen == [("events", [(0, 5), (0, 6), (0, 7), (1, 3)]), ("feedback", [9])]
    *deliveries, commit = log
    assert all(d[0] == "delivered" for d in deliveries)
    assert commit == (
        "commit",
        {
            TopicPartition("u.events", 0): 8,
            TopicPartition("u.events", 1): 4,
            TopicPartition("u.feedback", 0): 10,
        },
    )
    # Every output went to the partition Kafka's default partitioner gives its key.
    part = DefaultPartitioner()
    sent = [(p, key) for _, topic, p, items in deliveries for key, _ in items]
    assert sorted(key for _, key in sent) == [b"e3", b"e5", b"e6", b"e7"]
    assert all(p == part(key, [0, 1, 2], [0, 1, 2]) for p, key in sent)
    assert {topic for _, topic, _, _ in deliveries} == {"u.labels"}


def test_a_failing_handler_commits_nothing() -> None:
    log: list[Any] = []

    def broken(batch: Any) -> list[Output]:
        raise RuntimeError("bug")

    reader = BatchedReader(StreamSettings(), broken)
    _connect(reader, log)
    with pytest.raises(RuntimeError, match="bug"):
        asyncio.run(reader._process({TopicPartition("events", 0): [_rec("events", 0, 1, b"")]}))
    assert log == []


def test_unknown_output_topic_is_refused_before_anything_is_sent() -> None:
    log: list[Any] = []
    reader, _ = _reader(log)
    bad = Output("labels", "a", {}), Output("nope", "b", {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'nope'"):
        asyncio.run(reader.send(list(bad)))
    assert log == []


def test_encode_output_is_compact_json_and_keys_become_bytes() -> None:
    key, value = encode_output(Output("dlq", None, {"reason": "not_json", "p": [0.25, 0.75]}))
    assert key is None
    assert json.loads(value) == {"reason": "not_json", "p": [0.25, 0.75]}
    assert encode_output(Output("labels", "é", {}))[0] == "é".encode()
    assert RawEvent(b"k", b"v", "t", 1, 2).source == "t:1:2"


class _FailingProducer(_Producer):
    """Delivers nothing: every batch's future fails."""

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> Any:
        fut = asyncio.get_running_loop().create_future()
        fut.set_exception(RuntimeError("broker said no"))
        return fut


def test_batches_commit_in_order_and_a_failed_delivery_commits_nothing_after_it() -> None:
    log: list[Any] = []
    reader, _ = _reader(log)

    def batch(offset: int) -> dict[Any, list[Any]]:
        return {TopicPartition("u.events", 0): [_rec("u.events", 0, offset, b"{}")]}

    async def ordered() -> None:
        for offset in (1, 2, 3):  # each batch's commit waits for the one before it
            await reader._process(batch(offset))
        await reader.drain()

    asyncio.run(ordered())
    commits = [entry[1][TopicPartition("u.events", 0)] for entry in log if entry[0] == "commit"]
    assert commits == [2, 3, 4]

    log.clear()
    reader.producer = _FailingProducer(log)

    async def failing() -> None:
        await reader._process(batch(4))
        await reader._process(batch(5))  # finds batch 4 failed before scheduling its own

    with pytest.raises(RuntimeError, match="broker said no"):
        asyncio.run(failing())
    assert [entry for entry in log if entry[0] == "commit"] == []
