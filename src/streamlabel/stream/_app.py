"""The labeler's Faust app, built by a factory: topics and the micro-batching agent.

Faust is imported inside :func:`create_app` only: ``import faust`` reads ``sys.argv``
(``--datadir``, ``-L``) and pulls in aiokafka and aiohttp, so importing
:mod:`streamlabel.stream` stays cheap and side-effect free.

The agent reads ``events`` in micro-batches and hands each batch of raw records to a
*batch handler*: a plain function ``handler(batch) -> outputs`` that knows nothing about
Faust. The adapter sends the outputs it returns; offsets are committed (at least once)
only after the batch's outputs were handed to the producer and the producer was flushed.
The default handler, :func:`echo_handler`, is a stand-in until the pipeline is plugged in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic_core import to_json

from streamlabel.stream._settings import StreamSettings

if TYPE_CHECKING:
    import faust

    from streamlabel.metrics import Metrics

__all__ = [
    "AUDIT_TOPICS",
    "OUTPUT_TOPICS",
    "TOPICS",
    "BatchHandler",
    "Output",
    "RawEvent",
    "RecordHandler",
    "TopicSpec",
    "create_app",
    "echo_handler",
    "encode_output",
    "ensure_topics",
    "topic_configs",
]

logger = logging.getLogger("streamlabel.stream")

OutputTopic = Literal[
    "labels",
    "review",
    "dlq",
    "labelmodel-stats",
    "labelmodel-params",
    "predictions",
    "drift",
    "models",
    "shadow-reports",
]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One logical topic of the design.

    Parameters
    ----------
    name : str
        Logical name; the Kafka topic is ``settings.topic_prefix + name``.
    direction : {"in", "out"}
        Whether the labeler reads or writes it.
    key : str
        What the record key holds.
    value : {"raw", "json"}
        Faust value codec. Inputs stay raw bytes: they are validated by the pipeline, so a
        malformed record becomes a DLQ entry instead of a deserialisation error.
    compacted : bool, default=False
        ``cleanup.policy=compact`` (latest value per key kept).
    """

    name: str
    direction: Literal["in", "out"]
    key: str
    value: Literal["raw", "json"]
    compacted: bool = False


#: The labeler's topics (design: "Kafka topics").
TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("events", "in", "entity id", "raw"),
    TopicSpec("labels", "out", "event id", "json"),
    TopicSpec("review", "out", "event id", "json"),
    TopicSpec("dlq", "out", "source topic:partition:offset", "json"),
    TopicSpec("lfsets", "in", "LF set name", "raw", compacted=True),
    TopicSpec("feedback", "in", "event id", "raw"),
    # Each worker's label model, i.e. its decayed statistics (a SNAPSHOT_FORMAT record),
    # key = group id/worker id; the aggregator merges the latest of every worker.
    TopicSpec("labelmodel-stats", "out", "group id/worker id", "json", compacted=True),
    # The merged model (same record format) that every worker predicts with, key = group id.
    TopicSpec("labelmodel-params", "in", "group id", "raw", compacted=True),
    # The predictor's output: the served model's prediction per event, key = event id.
    TopicSpec("predictions", "out", "event id", "json"),
    # Drift events and retraining requests of the labeler's DriftWatch; the trainer reads
    # the requests.
    TopicSpec("drift", "out", "monitor name(s)", "json"),
    # Each model name's champion (models.ModelRecord, artifact inline), key = model name;
    # the trainer publishes, every predictor follows it from the beginning.
    TopicSpec("models", "in", "model name", "raw", compacted=True),
    # The control plane's (streamlabel.api; the labeler neither reads nor writes them).
    # Every published LF set version with who/when/why, key = "<set>/<version>": unique
    # keys on a compacted topic are kept for good, while `lfsets` keeps only the latest.
    TopicSpec("lfset-versions", "in", "LF set name/version", "raw", compacted=True),
    # Every change (who, when, what, why), key = the change id (unique: kept for good).
    TopicSpec("audit", "in", "change id", "raw", compacted=True),
    # Promote / roll back requests for the trainer that owns a model's registry.
    TopicSpec("model-commands", "in", "model name", "raw"),
    # The trainer's registry (versions, history, command outcomes), key = model name.
    TopicSpec("model-registry", "in", "model name", "raw", compacted=True),
    # Each set's candidate LF set version (pipeline.CandidateRecord), key = set name: the
    # control plane writes, every labeler worker follows it (outside the group).
    TopicSpec("lfset-candidates", "in", "LF set name", "raw", compacted=True),
    # Each worker's report on the candidate (ShadowLFSet.report), key =
    # "<set>/<group id>/<worker id>": workers score their own share of the events, the
    # API merges the latest report of each (pipeline.merge_shadow_reports).
    TopicSpec("shadow-reports", "out", "LF set name/group id/worker id", "json", compacted=True),
)

#: Logical topics a batch handler may write to.
OUTPUT_TOPICS: frozenset[str] = frozenset(t.name for t in TOPICS if t.direction == "out")

#: The audit trail: event-id keyed, not compacted, read by ``streamlabel trace``; created
#: with ``retention_hours`` (and ``retention_bytes``), their retention is the trail's bound.
AUDIT_TOPICS: tuple[str, ...] = ("labels", "review", "predictions", "feedback")


def topic_configs(spec: TopicSpec, settings: StreamSettings) -> dict[str, str]:
    """Return the topic configs ``spec``'s topic is created with.

    Compacted topics get ``cleanup.policy=compact``; the :data:`AUDIT_TOPICS` get
    ``retention.ms`` from :attr:`StreamSettings.retention_hours` and, when set,
    ``retention.bytes`` (per partition); the others the broker's defaults.

    Examples
    --------
    >>> specs = {t.name: t for t in TOPICS}
    >>> s = StreamSettings(retention_hours=24, retention_bytes=2**30)
    >>> topic_configs(specs["labels"], s)
    {'retention.ms': '86400000', 'retention.bytes': '1073741824'}
    >>> topic_configs(specs["lfsets"], s), topic_configs(specs["events"], s)
    ({'cleanup.policy': 'compact'}, {})
    """
    if spec.compacted:
        return {"cleanup.policy": "compact"}
    if spec.name not in AUDIT_TOPICS:
        return {}
    configs = {"retention.ms": str(settings.retention_ms)}
    if settings.retention_bytes is not None:
        configs["retention.bytes"] = str(settings.retention_bytes)
    return configs


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One ``events`` record as it came off the topic, not validated.

    Parameters
    ----------
    key : bytes or None
        Record key (the entity id by the design).
    value : bytes
        Record value.
    topic, partition, offset : str, int, int
        Where it was read; the DLQ key is built from them.
    timestamp : float or None
        Record timestamp in seconds since the epoch.
    """

    key: bytes | None
    value: bytes
    topic: str
    partition: int
    offset: int
    timestamp: float | None = None

    @property
    def source(self) -> str:
        """``topic:partition:offset``, the key of a DLQ record for this event."""
        return f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(frozen=True, slots=True)
class Output:
    """A record a batch handler asks the adapter to publish.

    Parameters
    ----------
    topic : {"labels", "review", "dlq", "labelmodel-stats", "labelmodel-params", "predictions", \
             "drift", "models"}
        Logical output topic (a batch handler may write :data:`OUTPUT_TOPICS`: the
        labeler's ``labels``, ``review``, ``dlq``, ``labelmodel-stats`` and ``drift``, the
        predictor's ``predictions`` and ``dlq``; the aggregator writes
        ``labelmodel-params``, the trainer ``models``).
    key : str or bytes or None
        Record key (the event id for labels and review, :attr:`RawEvent.source` for dlq,
        the consumer group for label-model snapshots).
    value : mapping
        JSON-serialisable record value.
    """

    topic: OutputTopic
    key: str | bytes | None
    value: Mapping[str, Any] = field(default_factory=dict)


#: ``handler(batch) -> outputs``: called once per micro-batch, in the agent's task. It must
#: not raise for a bad event (that is a DLQ output); an exception stops the agent.
BatchHandler = Callable[[Sequence[RawEvent]], Iterable[Output]]

#: ``on_lfset(record) -> outputs``: called for every ``lfsets`` record, in the worker's
#: ``lfsets`` follower task (the same event loop as the agents).
RecordHandler = Callable[[RawEvent], Iterable[Output]]


def echo_handler(batch: Sequence[RawEvent]) -> list[Output]:
    """Stand-in handler: one ``labels`` record per event, keyed by the event's key.

    The value is ``{"event_id", "raw_len", "partition", "offset"}`` where ``event_id`` is
    the decoded key (the value is not parsed) or :attr:`RawEvent.source` without a key.

    Examples
    --------
    >>> out = echo_handler([RawEvent(b"e1", b'{"a": 1}', "events", 0, 7)])
    >>> out[0].topic, out[0].key, dict(out[0].value)
    ('labels', b'e1', {'event_id': 'e1', 'raw_len': 8, 'partition': 0, 'offset': 7})
    """
    return [
        Output(
            "labels",
            ev.key,
            {
                "event_id": ev.key.decode("utf-8", "replace") if ev.key is not None else ev.source,
                "raw_len": len(ev.value),
                "partition": ev.partition,
                "offset": ev.offset,
            },
        )
        for ev in batch
    ]


def encode_output(out: Output) -> tuple[bytes | None, bytes]:
    """Key and value bytes of an output record (the value as compact JSON).

    Examples
    --------
    >>> encode_output(Output("labels", "e1", {"label": 1}))
    (b'e1', b'{"label":1}')
    """
    key = out.key.encode("utf-8") if isinstance(out.key, str) else out.key
    # pydantic-core's serialiser: five times faster than json.dumps on a label record.
    return key, to_json(out.value)


def _as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


def create_app(
    settings: StreamSettings,
    handler: BatchHandler | None = None,
    *,
    on_feedback: BatchHandler | None = None,
    on_lfset: RecordHandler | None = None,
    lfsets_from: Mapping[int, int] | None = None,
    started: float | None = None,
    on_params: RecordHandler | None = None,
    params_from: Mapping[int, int] | None = None,
    feedback_from: Mapping[int, int] | None = None,
    metrics: Metrics | None = None,
    on_candidate: RecordHandler | None = None,
    candidates_from: Mapping[int, int] | None = None,
    on_tick: Callable[[], Iterable[Output]] | None = None,
    tick_interval: float = 1.0,
) -> faust.App:
    """Build the labeler's Faust app: the design's topics and its agents.

    Parameters
    ----------
    settings : StreamSettings
        Brokers, topic prefix, app id, batching and group settings.
    handler : callable, optional
        The :data:`BatchHandler` of ``events``; :func:`echo_handler` by default.
    on_feedback : callable, optional
        A :data:`BatchHandler` for micro-batches of ``feedback`` records (a second agent,
        ``feedback``, in the same consumer group); no feedback agent when None.
    on_lfset : callable, optional
        A :data:`RecordHandler` for every ``lfsets`` record. ``lfsets`` is read by a task
        of its own with an aiokafka consumer *outside* the consumer group, assigned every
        partition: each worker must see every LF set version, which a group member
        reading its share of the partitions would not. Not read when None.
    lfsets_from : mapping of int to int, optional
        Per ``lfsets`` partition, the offset to start at: the partitions read, and
        required with ``on_lfset``. The worker passes the end of its start-up read
        (:attr:`LFSetLog.end_offsets`); ``{p: 0 ...}`` replays the topic.
    on_params : callable, optional
        A :data:`RecordHandler` for every ``labelmodel-params`` record (merged label-model
        parameters), read like ``lfsets`` by a task outside the group from
        ``params_from`` (the end of the worker's start-up read). Not read when None or
        when ``params_from`` is empty.
    params_from : mapping of int to int, optional
        Per ``labelmodel-params`` partition, the offset to start at.
    feedback_from : mapping of int to int, optional
        With the batched reader, per ``feedback`` partition, the offset to follow
        ``feedback`` from (every worker reads all of it, outside the group); required
        with ``on_feedback`` there (the worker passes the end offsets at its start-up).
    started : float, optional
        ``time.monotonic()`` at the worker's start, for the batched reader's log line
        ``streamlabel partitions assigned after ... s: N``.
    metrics : Metrics, optional
        With the batched reader, where it sets the consumer lag of every assigned
        partition (``streamlabel_consumer_lag``).
    on_candidate : callable, optional
        A :data:`RecordHandler` for every ``lfset-candidates`` record (candidate LF set
        versions), read like ``lfsets`` by a task outside the group from
        ``candidates_from``. Not read when None or when ``candidates_from`` is empty.
    candidates_from : mapping of int to int, optional
        Per ``lfset-candidates`` partition, the offset to start at.
    on_tick : callable, optional
        Called every ``tick_interval`` seconds in the worker's event loop; its outputs
        are sent like a batch's (the labeler's trailing candidate report).
    tick_interval : float, default=1.0
        Seconds between two ``on_tick`` calls.

    Returns
    -------
    faust.App
        Not started; run it with ``faust.Worker(app).execute_from_commandline()`` (see
        ``python -m streamlabel.stream._worker``). The agents are ``app.agents`` entries
        ``<module>.labeler`` (and ``<module>.feedback``); topics are declared on the broker
        by :func:`ensure_topics`, not by Faust.

    Notes
    -----
    The agents use ``stream.take_events`` (the same micro-batching as ``stream.take``,
    which yields values only) because they need each record's key, partition and offset.
    Faust acknowledges the events of a batch after the agent's loop body ran, and flushes
    the producer before committing offsets: a crash re-delivers, never loses. Outputs of
    the ``lfsets`` task (DLQ records of refused specs) are sent the same way; its position
    is not committed anywhere: a restarted worker reads ``lfsets`` again at start-up.
    """
    import faust

    handle: BatchHandler = echo_handler if handler is None else handler
    session_s = settings.session_timeout_ms / 1000.0
    extra: dict[str, Any] = {}
    if settings.datadir is not None:
        extra["datadir"] = str(settings.datadir)
    batched = settings.events_reader == "batched"
    app = faust.App(
        # With the batched reader the labeler's consumer group is the reader's; Faust's
        # own consumer (its assignor topic) must sit in a group of its own.
        f"{settings.group_id}-worker" if batched else settings.group_id,
        broker=settings.broker_urls,
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        # Faust declares its own internal topics (the assignor's leader topic); ours are
        # created by ensure_topics, with our partitions and compaction.
        topic_allow_declare=True,
        processing_guarantee=settings.processing_guarantee,
        broker_session_timeout=session_s,
        broker_heartbeat_interval=max(0.1, session_s / 3.0),
        # A new group starts at the beginning: no event is skipped.
        consumer_auto_offset_reset="earliest",
        web_enabled=settings.web_enabled,
        # A batch's outputs are sent together: large producer batches cut the produce
        # round trips (aiokafka keeps one batch in flight per partition).
        producer_max_batch_size=1_048_576,
        producer_max_request_size=4_194_304,
        **extra,
    )
    topics: dict[str, faust.TopicT] = {}
    for spec in TOPICS:
        topics[spec.name] = app.topic(
            settings.topic(spec.name),
            key_type=bytes,
            value_type=bytes if spec.value == "raw" else None,
            key_serializer="raw",
            value_serializer=spec.value,
            partitions=settings.partitions,
            replicas=settings.replication_factor,
            compacting=True if spec.compacted else None,
        )
    outputs = {name: topics[name] for name in OUTPUT_TOPICS}

    async def publish(results: Iterable[Output]) -> None:
        sends = []
        for out in results:
            try:
                topic = outputs[out.topic]
            except KeyError:
                raise ValueError(
                    f"handler returned an output for {out.topic!r}; "
                    f"outputs go to {sorted(OUTPUT_TOPICS)}"
                ) from None
            sends.append(topic.send(key=out.key, value=out.value))
        if sends:
            await asyncio.gather(*sends)

    def batching_agent(
        name: str, handle_batch: BatchHandler
    ) -> Callable[[faust.StreamT[bytes]], Any]:
        async def agent(stream: faust.StreamT[bytes]) -> None:
            # take_events is on faust.Stream, not on the StreamT interface.
            async for events in cast("faust.Stream[bytes]", stream).take_events(
                settings.batch_size, within=settings.batch_max_wait
            ):
                batch = [
                    RawEvent(
                        key=None if ev.key is None else _as_bytes(ev.key),
                        value=_as_bytes(ev.value),
                        topic=ev.message.topic,
                        partition=ev.message.partition,
                        offset=ev.message.offset,
                        timestamp=ev.message.timestamp,
                    )
                    for ev in events
                ]
                await publish(handle_batch(batch))

        agent.__name__ = agent.__qualname__ = name  # names the agent in faust's logs
        return agent

    send_outputs: Callable[[Iterable[Output]], Awaitable[None]] = publish
    if batched:
        from streamlabel.stream._reader import BatchedReader, reader_service

        reader = BatchedReader(settings, handle, started=started, metrics=metrics)
        app.service(reader_service(reader))
        send_outputs = reader.send
        if on_feedback is not None:
            # Every worker reads all of feedback (outside the group) and learns the gold
            # of the events it labeled: feedback is keyed by event id, events by entity,
            # so the worker reading a feedback partition in the group would mostly not
            # hold the event's votes. From the end at start-up: the vote cache of a
            # starting worker is empty anyway.
            if feedback_from is None:
                raise ValueError("on_feedback needs feedback_from with the batched reader")
            feedback = on_feedback

            def one_feedback(record: RawEvent) -> Iterable[Output]:
                return feedback([record])

            if feedback_from:
                app.task(_follower(settings, "feedback", one_feedback, feedback_from, send_outputs))
    else:
        app.agent(topics["events"], name="labeler")(batching_agent("labeler", handle))
        if on_feedback is not None:
            app.agent(topics["feedback"], name="feedback")(batching_agent("feedback", on_feedback))
    if on_lfset is not None:
        if not lfsets_from:
            raise ValueError("on_lfset needs lfsets_from: the lfsets partitions and offsets")
        app.task(_follower(settings, "lfsets", on_lfset, lfsets_from, send_outputs))
    if on_params is not None and params_from:
        app.task(_follower(settings, "labelmodel-params", on_params, params_from, send_outputs))
    if on_tick is not None:
        tick = on_tick

        async def ticker() -> None:
            while True:
                await asyncio.sleep(tick_interval)
                due = list(tick())
                if due:
                    await send_outputs(due)

        app.task(ticker)
    if on_candidate is not None and candidates_from:
        app.task(
            _follower(settings, "lfset-candidates", on_candidate, candidates_from, send_outputs)
        )
    return app


def _follower(
    settings: StreamSettings,
    logical: str,
    on_record: RecordHandler,
    start: Mapping[int, int],
    publish: Callable[[Iterable[Output]], Awaitable[None]],
) -> Callable[[], Awaitable[None]]:
    """Return the task that follows ``logical`` (see :func:`_follow`)."""
    offsets = dict(start)

    async def follow() -> None:
        await _follow(settings, logical, on_record, offsets, publish)

    follow.__name__ = follow.__qualname__ = f"follow_{logical.replace('-', '_')}"
    return follow


async def _follow(
    settings: StreamSettings,
    logical: str,
    on_record: RecordHandler,
    start: Mapping[int, int],
    publish: Callable[[Iterable[Output]], Awaitable[None]],
) -> None:
    """Read ``logical`` from ``start`` (no group) and hand each record to ``on_record``.

    Every worker must see every record of ``lfsets``, ``labelmodel-params`` and (batched
    reader) ``feedback``, which a group member reading its share of the partitions would
    not. ``start`` maps partitions to offsets.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]

    name = settings.topic(logical)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.group_id}-{logical}",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        tps = [TopicPartition(name, p) for p in sorted(start)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, start[tp.partition])
        logger.info("following %s from %s", name, dict(start))
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for rec in records:
                    raw = RawEvent(
                        key=None if rec.key is None else _as_bytes(rec.key),
                        value=_as_bytes(rec.value),
                        topic=rec.topic,
                        partition=rec.partition,
                        offset=rec.offset,
                        timestamp=rec.timestamp / 1000.0,
                    )
                    await publish(on_record(raw))
    finally:
        await consumer.stop()


def ensure_topics(settings: StreamSettings, timeout: float = 30.0) -> list[str]:
    """Create the topics of :data:`TOPICS` that do not exist yet (kafka-python admin).

    Parameters
    ----------
    settings : StreamSettings
        Brokers, prefix, partitions and replication factor.
    timeout : float, default=30
        Seconds for the admin requests.

    Returns
    -------
    list of str
        Names of the topics created (empty when all existed). Existing topics are left
        as they are, even with another partition count or retention.

    Notes
    -----
    Each topic is created with :func:`topic_configs`: compaction, or the audit trail's
    retention (``retention_hours``, ``retention_bytes``) on :data:`AUDIT_TOPICS`.
    """
    from kafka import KafkaAdminClient
    from kafka.errors import TopicAlreadyExistsError

    ms = int(timeout * 1000)
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.group_id}-admin",
        request_timeout_ms=ms,
    )
    try:
        existing = set(admin.list_topics())
        wanted = {
            settings.topic(spec.name): {
                "num_partitions": settings.partitions,
                "replication_factor": settings.replication_factor,
                "configs": topic_configs(spec, settings),
            }
            for spec in TOPICS
            if settings.topic(spec.name) not in existing
        }
        if wanted:
            try:
                admin.create_topics(wanted, timeout_ms=ms, wait_for_metadata=True)
            except TopicAlreadyExistsError:  # created concurrently by another worker
                logger.info("a topic of %s was created concurrently", sorted(wanted))
    finally:
        with contextlib.suppress(Exception):
            admin.close()
    return sorted(wanted)
