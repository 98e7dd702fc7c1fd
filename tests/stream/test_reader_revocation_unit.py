"""A revocation waits for the batch in progress and the one in flight.

Uses the stand-in clients of ``tests/stream/test_reader_unit.py``. On the broker a
mid-stream hand-over rarely lands inside the few milliseconds a batch is in flight, so
the wait is checked here deterministically: partitions must change hands only between
committed batches, or the new owner re-labels (or the old one fails to commit) them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition  # type: ignore[import-untyped]
from test_reader_unit import _reader, _rec

from streamlabel.stream._reader import _Revocations

EVENTS = TopicPartition("u.events", 0)


def _batch(offset: int) -> dict[Any, list[Any]]:
    return {EVENTS: [_rec("u.events", 0, offset, b"{}")]}


def test_a_revocation_returns_only_after_the_batch_in_flight_is_committed() -> None:
    log: list[Any] = []
    reader, _ = _reader(log)

    async def scenario() -> None:
        await reader._process(_batch(7))  # delivered ~10 ms later, then committed
        assert [e for e in log if e[0] == "commit"] == []
        await _Revocations(reader).on_partitions_revoked([EVENTS])
        log.append(("revoked",))

    asyncio.run(scenario())
    assert [e[0] for e in log] == ["delivered", "commit", "revoked"]
    assert log[1] == ("commit", {EVENTS: 8})


def test_a_revocation_waits_for_the_batch_in_progress() -> None:
    log: list[Any] = []
    reader, _ = _reader(log)

    async def scenario() -> None:
        release = asyncio.Event()

        async def batch_in_progress() -> None:
            async with reader.lock:  # as run() holds it around _process
                await release.wait()
                await reader._process(_batch(3))

        busy = asyncio.create_task(batch_in_progress())
        await asyncio.sleep(0)
        revoking = asyncio.create_task(_Revocations(reader).on_partitions_revoked([EVENTS]))
        await asyncio.sleep(0.05)
        assert not revoking.done(), "revocation returned while a batch was in progress"
        release.set()
        await busy
        await revoking
        log.append(("revoked",))

    asyncio.run(scenario())
    assert [e[0] for e in log] == ["delivered", "commit", "revoked"]
    assert log[1] == ("commit", {EVENTS: 4})


def test_a_stop_returns_from_run_only_after_the_batch_in_flight_is_committed() -> None:
    # SIGTERM: run() returns, then close() leaves the group; the last batch's offsets
    # must be committed by then (the docs: "SIGTERM lets the batch in progress finish
    # and commit before the group is left").
    log: list[Any] = []
    reader, _ = _reader(log)

    async def scenario() -> None:
        await reader._process(_batch(11))  # delivered ~10 ms later, then committed
        reader.request_stop()
        await reader.run()
        log.append(("returned",))

    asyncio.run(scenario())
    assert [e[0] for e in log] == ["delivered", "commit", "returned"]
    assert log[1] == ("commit", {EVENTS: 12})


def test_a_full_producer_batch_starts_a_new_one_with_the_record_that_did_not_fit() -> None:
    # Outputs over the producer's batch size (1 MiB on the broker) for one partition are
    # split over several batches; none of the records may be left out.
    from tests.stream.test_reader_unit import _connect

    from streamlabel.stream import Output, StreamSettings
    from streamlabel.stream._reader import BatchedReader

    log: list[Any] = []

    def handler(batch: Any) -> list[Output]:  # one key: every output on one partition
        return [Output("labels", "same", {"offset": e.offset}) for e in batch]

    reader = BatchedReader(StreamSettings(topic_prefix="u."), handler)
    _connect(reader, log, cap=2)
    records = {EVENTS: [_rec("u.events", 0, o, b"{}") for o in range(5)]}

    async def process() -> None:
        await reader._process(records)
        await reader.drain()

    asyncio.run(process())
    sent = [v for e in log if e[0] == "delivered" for _, v in e[3]]
    assert sorted(sent) == sorted(f'{{"offset":{o}}}'.encode() for o in range(5))
    assert [e[0] for e in log] == ["delivered"] * 3 + ["commit"]
