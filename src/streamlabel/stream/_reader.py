"""The batched reader of ``events`` (and ``feedback``): aiokafka driven a batch at a time.

Faust's stream iteration costs tens of microseconds per record (an event object, a
per-record acknowledgement, a send future per output), which capped one worker at about
2,000 events/s here. The labeler needs none of it: it consumes micro-batches and emits
one batch of outputs per batch. This reader uses the aiokafka client Faust itself runs
on, directly:

- one consumer in the labeler's consumer group (``settings.group_id``), subscribed to
  ``events`` (and ``feedback`` when given a feedback handler: the app gives none, every
  worker follows ``feedback`` outside the group); ``getmany`` returns up to
  ``batch_size`` records or what arrived within ``batch_max_wait``;
- outputs are encoded (JSON) and appended to one producer batch per topic partition
  (the Kafka default partitioner on the key, as every other producer of these topics
  uses), sent, and awaited;
- only then are the batch's offsets committed: at least once, never lost. A rebalance
  waits for the batch in progress (the revocation listener takes the same lock), so a
  partition changes hands between batches, with its offsets committed.

It runs as a :class:`mode.Service` inside the Faust worker (see
:func:`~streamlabel.stream.create_app`), which still owns the process: signals, the
``lfsets`` follower, start-up and shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.abc import ConsumerRebalanceListener  # type: ignore[import-untyped]
from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]

from streamlabel.metrics import Metrics
from streamlabel.stream._app import OUTPUT_TOPICS, BatchHandler, Output, RawEvent, encode_output
from streamlabel.stream._settings import StreamSettings

__all__ = ["BatchedReader"]

logger = logging.getLogger("streamlabel.stream")

_SEND_TIMEOUT_S = 60.0
# Seconds between consumer-lag updates while no batch arrives.
_LAG_INTERVAL_S = 1.0


class _Revocations(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hold revocations until the batch in progress is committed; log assignments."""

    def __init__(self, reader: BatchedReader) -> None:
        self.reader = reader

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.reader.lock:  # the batch in progress finishes and commits first
            await self.reader.drain()
        if self.reader.metrics is not None:
            for tp in revoked:
                self.reader.metrics.drop_consumer_lag(tp.topic, tp.partition)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        # WARNING so that it shows at the default level: tests and the bench wait on it.
        logger.warning(
            "streamlabel partitions assigned after %.2f s: %d",
            time.monotonic() - self.reader.started,
            len([tp for tp in assigned if tp.topic == self.reader.events_topic]),
        )


class BatchedReader:
    """Consume ``events`` (and ``feedback``) in batches; send outputs; commit after.

    Parameters
    ----------
    settings : StreamSettings
        Brokers, topics, group, batching and session settings.
    handler : callable
        The :data:`~streamlabel.stream.BatchHandler` of ``events`` records.
    on_feedback : callable, optional
        The batch handler of ``feedback`` records; ``feedback`` is not read when None.
    started : float, optional
        ``time.monotonic()`` of the worker's start, for the assignment log line.
    group_id : str, optional
        The consumer group; ``settings.group_id`` (the labeler's) by default. The
        predictor reads ``events`` in a group of its own.
    metrics : Metrics, optional
        Where the consumer lag of every assigned partition is set (the partition's high
        watermark from the last fetch minus the consumer's position), after every batch
        and every second while idle.
    """

    def __init__(
        self,
        settings: StreamSettings,
        handler: BatchHandler,
        on_feedback: BatchHandler | None = None,
        *,
        started: float | None = None,
        group_id: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._lag_at = 0.0
        self.group_id = settings.group_id if group_id is None else group_id
        self.handler = handler
        self.on_feedback = on_feedback
        self.started = time.monotonic() if started is None else started
        self.events_topic = settings.topic("events")
        self.feedback_topic = settings.topic("feedback")
        self.lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._partitioner = DefaultPartitioner()
        # Logical output topic -> (Kafka topic, its partitions), read once at start().
        self._outputs: dict[str, tuple[str, list[int]]] = {}
        self._ready = asyncio.Event()
        # The previous batch's delivery-then-commit, overlapped with the next batch's work.
        self._pending: asyncio.Future[None] | None = None
        self.consumer: Any = None
        self.producer: Any = None
        self.batches_ = 0
        self.records_ = 0

    async def start(self) -> None:
        """Connect the producer and the consumer (joins the group on the first poll)."""
        s = self.settings
        self.producer = AIOKafkaProducer(
            bootstrap_servers=s.bootstrap_servers,
            client_id=f"{self.group_id}-out",
            acks="all",
            max_batch_size=1_048_576,
            max_request_size=4_194_304,
        )
        await self.producer.start()
        await self._read_outputs()
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap_servers,
            client_id=f"{self.group_id}-in",
            group_id=self.group_id,
            enable_auto_commit=False,
            # A new group starts at the beginning: no event is skipped.
            auto_offset_reset="earliest",
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=max(100, s.session_timeout_ms // 3),
            max_poll_records=s.batch_size,
            # A fetch names only the partitions with nothing buffered; data arriving on
            # another waits for the next fetch: keep the broker's hold short (latency).
            fetch_max_wait_ms=max(1, min(50, int(s.batch_max_wait * 1000))),
        )
        await self.consumer.start()
        topics = [self.events_topic]
        if self.on_feedback is not None:
            topics.append(self.feedback_topic)
        self.consumer.subscribe(topics, listener=_Revocations(self))
        self._ready.set()

    async def _read_outputs(self) -> None:
        for name in sorted(OUTPUT_TOPICS):
            topic = self.settings.topic(name)
            self._outputs[name] = (topic, sorted(await self.producer.partitions_for(topic)))

    def request_stop(self) -> None:
        """Ask :meth:`run` to return after the batch in progress (if any) is committed."""
        self._stop.set()

    async def drain(self) -> None:
        """Wait until every processed batch is delivered and its offsets committed.

        Raises what delivering or committing raised (the reader must not go on then).
        """
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending

    async def close(self) -> None:
        """Leave the group (offsets are already committed) and close the clients."""
        if self.consumer is not None:
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()

    async def run(self) -> None:
        """Poll, handle, send, commit, until :meth:`request_stop`."""
        wait_ms = max(1, int(self.settings.batch_max_wait * 1000))
        try:
            while not self._stop.is_set():
                records = await self.consumer.getmany(
                    timeout_ms=wait_ms, max_records=self.settings.batch_size
                )
                if records:
                    async with self.lock:
                        await self._process(records)
                elif self._pending is not None and self._pending.done():
                    await self.drain()  # surface a failed delivery even when idle
                if self.metrics is not None and (
                    records or time.monotonic() - self._lag_at >= _LAG_INTERVAL_S
                ):
                    await self.update_lag()
        finally:
            async with self.lock:
                await self.drain()

    async def update_lag(self) -> dict[tuple[str, int], int]:
        """Set the lag of every assigned partition whose end is known; return them.

        The lag is the partition's high watermark (from the consumer's last fetch of it)
        minus the consumer's position: records not yet handed to the handler.
        """
        self._lag_at = time.monotonic()
        consumer = self.consumer
        lags: dict[tuple[str, int], int] = {}
        if consumer is None:
            return lags
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            try:
                position = await consumer.position(tp)
            except Exception:  # mid-rebalance: the next update sets it
                continue
            lags[(tp.topic, tp.partition)] = max(0, high - position)
        if self.metrics is not None:
            for (topic, partition), lag in lags.items():
                self.metrics.set_consumer_lag(topic, partition, lag)
        return lags

    async def _process(self, records: dict[Any, list[Any]]) -> None:
        events: list[RawEvent] = []
        feedback: list[RawEvent] = []
        ends: dict[TopicPartition, int] = {}
        for tp, recs in records.items():
            if not recs:
                continue
            into = events if tp.topic == self.events_topic else feedback
            into.extend(
                RawEvent(
                    key=rec.key,
                    value=rec.value if rec.value is not None else b"",
                    topic=rec.topic,
                    partition=rec.partition,
                    offset=rec.offset,
                    timestamp=rec.timestamp / 1000.0,
                )
                for rec in recs
            )
            ends[tp] = recs[-1].offset + 1
        outputs: list[Output] = []
        if events:
            outputs.extend(self.handler(events))
        if feedback and self.on_feedback is not None:
            outputs.extend(self.on_feedback(feedback))
        futures = await self._enqueue(outputs)
        # One batch in flight: the previous one is delivered and committed (its round trips
        # overlapped this batch's work), in order, before this one's commit is scheduled.
        await self.drain()
        self._pending = asyncio.ensure_future(self._deliver_then_commit(futures, ends))
        self.batches_ += 1
        self.records_ += len(events) + len(feedback)

    async def _deliver_then_commit(
        self, futures: list[Any], ends: dict[TopicPartition, int]
    ) -> None:
        if futures:
            await asyncio.wait_for(asyncio.gather(*futures), _SEND_TIMEOUT_S)
        await self.consumer.commit(ends)

    async def send(self, outputs: Iterable[Output]) -> None:
        """Send ``outputs`` in one producer batch per topic partition and await delivery."""
        futures = await self._enqueue(outputs)
        if futures:
            await asyncio.wait_for(asyncio.gather(*futures), _SEND_TIMEOUT_S)

    async def _enqueue(self, outputs: Iterable[Output]) -> list[Any]:
        """Hand ``outputs`` to the producer, one batch per topic partition.

        Returns the delivery futures (not awaited).
        """
        await self._ready.wait()  # the lfsets follower may publish before start() ran
        groups: dict[tuple[str, int], list[tuple[bytes | None, bytes]]] = {}
        where = self._outputs
        partitioner = self._partitioner
        for out in outputs:
            try:
                topic, parts = where[out.topic]
            except KeyError:
                raise ValueError(
                    f"handler returned an output for {out.topic!r}; "
                    f"outputs go to {sorted(OUTPUT_TOPICS)}"
                ) from None
            key, value = encode_output(out)
            # Kafka's default partitioner (murmur2 of the key), as kafka-python and the Java
            # clients use, so that a key lands where every other producer of it puts it.
            part = int(partitioner(key, parts, parts))
            groups.setdefault((topic, part), []).append((key, value))
        futures = []
        for (topic, part), items in groups.items():
            futures.extend(await self._send_partition(topic, part, items))
        return futures

    async def _send_partition(
        self, topic: str, partition: int, items: Sequence[tuple[bytes | None, bytes]]
    ) -> list[Any]:
        futures = []
        batch = self.producer.create_batch()
        for key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is None:
                futures.append(await self.producer.send_batch(batch, topic, partition=partition))
                batch = self.producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise ValueError(f"a record for {topic!r} exceeds the producer batch size")
        if batch.record_count():
            futures.append(await self.producer.send_batch(batch, topic, partition=partition))
        return futures


def reader_service(reader: BatchedReader) -> type[Any]:
    """Return a :class:`mode.Service` class that runs ``reader`` with the Faust worker.

    Stopping the worker (SIGTERM, SIGINT) lets the batch in progress finish and commit,
    then leaves the group; a failure of the reader stops the worker.
    """
    from mode import Service

    class EventsReader(Service):
        async def on_start(self) -> None:
            await reader.start()
            # An exception in a future crashes the service and, through the beacon, the
            # worker: a reader that cannot go on stops the process.
            self._run = self.add_future(reader.run())

        async def on_stop(self) -> None:
            # Called before mode cancels the futures: let the batch in progress finish.
            reader.request_stop()
            if not self._run.done():
                await asyncio.wait_for(
                    asyncio.shield(self._run), reader.settings.batch_max_wait + _SEND_TIMEOUT_S
                )
            await reader.close()

    return EventsReader
