"""The trainer service: retrain the end model on recent labels, publish champions to ``models``.

One process per model name. It reads ``events``, ``labels`` and ``feedback`` in its own
consumer group (``<group>-trainer``) into a :class:`~streamlabel.pipeline.TrainingWindow`,
and the ``drift`` topic for retraining requests of its labeler group. A
:class:`~streamlabel.pipeline.Trainer` runs a round every ``train_every`` labeled events
and on each request (outside ``train_cooldown``); a promoted challenger's
:class:`~streamlabel.models.ModelRecord` goes to the compacted ``models`` topic, keyed by
the model name, where predictors find the champion.

Start-up reconciles the registry folder with the topic: the registry is the source of
truth (it is written first), so a champion that is not the topic's latest record (a
crash between promotion and publication) is published again; an empty registry (a new
volume) imports the topic's champion, hash-checked, so the next challenger is compared
with what predictors serve.

``python -m streamlabel.stream._trainer`` (``streamlabel train``) runs it with
``STREAMLABEL_*`` settings until SIGTERM or SIGINT. :class:`TrainerHandler` holds the
logic per record and knows nothing of Kafka.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from streamlabel.drift import RetrainRequest
from streamlabel.metrics import Metrics
from streamlabel.models import (
    ArtifactError,
    ModelCommand,
    ModelCommandError,
    ModelRecord,
    ModelRecordError,
    ModelRegistry,
    PayloadFeaturizer,
    apply_model_command,
    decode_model_command,
    decode_model_record,
    encode_model_record,
    loads_model_artifact,
    registry_view,
)
from streamlabel.pipeline import (
    InvalidEvent,
    Trainer,
    TrainingResult,
    TrainingWindow,
    parse_drift_record,
    parse_event,
    parse_feedback,
)
from streamlabel.stream._app import RawEvent, ensure_topics
from streamlabel.stream._service import (
    StartupError,
    record_lag,
    record_producer,
    serve_until_signalled,
)
from streamlabel.stream._settings import StreamSettings

__all__ = [
    "MODEL_RECORD_MAX_BYTES",
    "TrainerHandler",
    "TrainerStart",
    "build_trainer",
    "main",
    "prepare_trainer",
    "run_trainer",
    "serve_trainer",
]

logger = logging.getLogger("streamlabel.stream")

#: A ``models`` record larger than this is not published (the broker's default
#: ``message.max.bytes`` is about 1 MB); lower ``feature_bits`` then.
MODEL_RECORD_MAX_BYTES: Final = 900_000

_INPUTS: Final = ("events", "labels", "feedback", "drift", "model-commands")

#: A model command older than this (seconds) when the trainer reads it is refused: a new
#: consumer group starts at the beginning of ``model-commands`` and must not replay them.
COMMAND_MAX_AGE: Final = 600.0

#: Outcomes of the latest commands kept for the registry view.
COMMAND_LOG: Final = 50


def _require_features(s: StreamSettings) -> None:
    if not (s.feature_text or s.feature_numeric or s.feature_categorical):
        raise StartupError(
            "the trainer needs the end model's features: set STREAMLABEL_FEATURE_TEXT, "
            "STREAMLABEL_FEATURE_NUMERIC and/or STREAMLABEL_FEATURE_CATEGORICAL "
            "(comma-separated payload fields)"
        )


def build_trainer(settings: StreamSettings) -> Trainer:
    """Build the window, registry and trainer the settings describe.

    Raises
    ------
    StartupError
        No feature field is configured.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     t = build_trainer(StreamSettings(registry_dir=d, feature_numeric=["amount"],
    ...                                      train_every=100, model_name="fraud"))
    >>> t.name, t.every, t.window.max_events, t.featurizer.numeric_fields
    ('fraud', 100, 10000, ('amount',))
    """
    s = settings
    _require_features(s)
    featurizer = PayloadFeaturizer(
        text_fields=s.feature_text,
        numeric_fields=s.feature_numeric,
        categorical_fields=s.feature_categorical,
        log_fields=s.feature_log,
        n_features=2**s.feature_bits,
    )
    window = TrainingWindow(
        s.train_window,
        max_pending=s.train_max_pending,
        holdout_fraction=s.holdout_fraction,
        lfset=s.lfset,
    )
    return Trainer(
        window,
        ModelRegistry(s.registry_dir),
        featurizer,
        name=s.model_name,
        every=s.train_every,
        cooldown=s.train_cooldown,
        min_train=s.train_min_events,
        min_holdout=s.train_min_holdout,
        min_gold=s.train_min_gold,
        margin=s.promote_margin,
        metric=s.promote_metric,
        soft_labels=s.train_soft_labels,
        actor=f"trainer {s.trainer_group_id}",
    )


class TrainerHandler:
    """Feed a :class:`~streamlabel.pipeline.Trainer` from raw records of its four topics.

    Parameters
    ----------
    trainer
        The trainer (its window is filled here).
    group
        The labeler group whose retraining requests count (``drift`` records carry it);
        records of other groups are ignored.
    max_event_bytes
        Largest event parsed.
    metrics
        Counts the retraining requests taken and every round by outcome with its
        duration (:meth:`Metrics.observe_training`; a round that raises counts as
        ``failed``); none when None.

    Attributes
    ----------
    invalid_ : dict of str to int
        Records that did not parse, per logical topic (the labeler DLQs bad events).
    drift_ignored_ : int
        ``drift`` records that are not requests of this group.
    commands_ : list of dict
        Outcomes of the latest model commands (``id``, ``action``, ``version``, ``actor``,
        ``ok``, ``reason``), at most :data:`COMMAND_LOG`; in the registry view.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> h = TrainerHandler(build_trainer(StreamSettings(registry_dir=d,
    ...                                                 feature_numeric=["x"])), "g")
    >>> ev = b'{"id": "e1", "ts": 1, "entity": "c", "payload": {"x": 1.0}}'
    >>> h.offer("events", RawEvent(b"c", ev, "events", 0, 0))
    >>> h.offer("labels", RawEvent(b"e1", b"{oops", "labels", 0, 0))
    >>> h.pending_events, h.invalid_["labels"]
    (1, 1)
    """

    def __init__(
        self,
        trainer: Trainer,
        group: str,
        *,
        max_event_bytes: int = 64_000,
        metrics: Metrics | None = None,
    ) -> None:
        self.trainer = trainer
        self.metrics = metrics
        self.group = group
        self.max_event_bytes = max_event_bytes
        self.invalid_ = dict.fromkeys(_INPUTS, 0)
        self.drift_ignored_ = 0
        self._requests: list[RetrainRequest] = []
        self._commands: list[ModelCommand] = []
        self.commands_: list[dict[str, Any]] = []
        self.commands_seen_ = 0
        self.clock: Callable[[], float] = time.time

    @property
    def pending_events(self) -> int:
        """Events waiting for their label."""
        return self.trainer.window.pending["events"]

    def offer(self, logical: str, record: RawEvent) -> None:
        """Take one record of ``events``, ``labels``, ``feedback`` or ``drift``.

        Retraining requests are queued; :meth:`step` acts on them.
        """
        window = self.trainer.window
        try:
            if logical == "events":
                event = parse_event(record.value, max_bytes=self.max_event_bytes)
                window.add_event(event.id, event.payload)
            elif logical == "labels":
                window.add_label(json.loads(record.value))
            elif logical == "feedback":
                window.add_gold(parse_feedback(record.value, max_bytes=self.max_event_bytes))
            elif logical == "drift":
                self._offer_drift(record)
            elif logical == "model-commands":
                if record.key == self.trainer.name.encode("utf-8"):
                    self._commands.append(decode_model_command(record.value))
            else:
                raise ValueError(f"the trainer reads {_INPUTS}, not {logical!r}")
        except (InvalidEvent, ValueError, KeyError, TypeError, AttributeError):
            if logical not in self.invalid_:
                raise
            self.invalid_[logical] += 1

    def _offer_drift(self, record: RawEvent) -> None:
        d = json.loads(record.value)
        item = parse_drift_record(d)
        if not isinstance(item, RetrainRequest) or d.get("group", self.group) != self.group:
            self.drift_ignored_ += 1
            return
        self._requests.append(item)
        if self.metrics is not None:
            self.metrics.retrain_requests.inc()

    def step(self) -> list[TrainingResult]:
        """Act on the queued requests, then on a waiting one or the schedule.

        Returns the rounds run.
        """
        results = []
        trainer = self.trainer
        for request in self._requests:
            result = self._timed(trainer.offer_request, request)
            if result is not None:
                results.append(result)
            elif trainer.waiting is request:
                logger.warning(
                    "streamlabel retraining request waits for the window (%d joined): %s",
                    trainer.window.joined_,
                    request.reason,
                )
            else:
                logger.warning(
                    "streamlabel retraining request dropped (cooldown): %s", request.reason
                )
        self._requests.clear()
        scheduled = self._timed(trainer.poll)
        if scheduled is not None:
            results.append(scheduled)
        return results

    def apply_commands(self) -> list[ModelRecord]:
        """Apply the queued model commands to the registry; return the new champions' records.

        A command is refused (logged, its outcome kept in :attr:`commands_`) when it is
        older than :data:`COMMAND_MAX_AGE`, names an unknown version or the champion, or
        rolls back without an earlier champion; the registry is then unchanged.
        """
        records = []
        for command in self._commands:
            age = self.clock() - command.at
            try:
                if age > COMMAND_MAX_AGE:
                    raise ModelCommandError(f"stale: sent {age:.0f} s ago")
                record = apply_model_command(self.trainer.registry, self.trainer.name, command)
            except ModelCommandError as exc:
                ok, reason = False, str(exc)
                logger.warning(
                    "streamlabel model command %s (%s by %s) refused: %s",
                    command.id,
                    command.action,
                    command.actor,
                    reason,
                )
            else:
                records.append(record)
                ok, reason = True, f"{record.version.version} is the champion"
                logger.warning(
                    "streamlabel model command %s: %s by %s (%s); %s",
                    command.id,
                    command.action,
                    command.actor,
                    command.reason,
                    reason,
                )
            self.commands_.append(
                {
                    "id": command.id,
                    "action": command.action,
                    "version": command.version,
                    "actor": command.actor,
                    "ok": ok,
                    "reason": reason,
                }
            )
        del self.commands_[:-COMMAND_LOG]
        self.commands_seen_ += len(self._commands)
        self._commands.clear()
        return records

    def registry_view(self) -> dict[str, Any]:
        """Return the ``model-registry`` record value of this trainer's registry."""
        return registry_view(self.trainer.registry, self.trainer.name, self.commands_)

    def _timed(
        self, call: Callable[..., TrainingResult | None], *args: Any
    ) -> TrainingResult | None:
        """Run ``call``; a round it ran is counted with its duration in the metrics."""
        m = self.metrics
        t0 = time.perf_counter()
        try:
            result = call(*args)
        except Exception:
            if m is not None:
                m.retrain_runs.labels("failed").inc()
                m.retrain_seconds.observe(time.perf_counter() - t0)
            raise
        if m is not None and result is not None:
            m.observe_training(result, time.perf_counter() - t0)
        return result


@dataclass(frozen=True, slots=True)
class TrainerStart:
    """A trainer ready to run.

    Attributes
    ----------
    handler : TrainerHandler
    champion : str
        The champion at start and where it came from, for the ready line.
    republish : ModelRecord or None
        The registry's champion record when the ``models`` topic does not have it as
        its latest record for the name: publish it before anything else.
    """

    handler: TrainerHandler
    champion: str
    republish: ModelRecord | None


def _latest_record(settings: StreamSettings, timeout: float) -> ModelRecord | None:
    """Return the newest valid ``models`` record of the model name (None: none)."""
    from streamlabel.stream._topics import read_to_end

    key = settings.model_name.encode("utf-8")
    found = read_to_end(
        settings,
        "models",
        timeout=timeout,
        client_id=f"{settings.trainer_group_id}-models-start",
        keep=lambda k: k == key,
    )
    if found is None:
        return None
    for raw in reversed(found[0]):
        if not raw.value:  # a tombstone: the name was withdrawn
            return None
        try:
            return decode_model_record(raw.value)
        except ModelRecordError as exc:
            logger.warning("models record %s skipped: %s", raw.source, exc)
    return None


def prepare_trainer(settings: StreamSettings, timeout: float = 30.0) -> TrainerStart:
    """Build the trainer and reconcile its registry with the ``models`` topic.

    Raises
    ------
    StartupError
        No features configured.
    """
    trainer = build_trainer(settings)
    registry = trainer.registry
    try:
        latest = _latest_record(settings, timeout)
    except Exception as exc:  # the registry alone still knows the champion
        logger.warning("models topic not read at start-up (%s)", exc)
        latest = None
    champion = registry.champion
    republish = None
    if champion is None and latest is not None:
        mv = latest.version
        try:
            model = loads_model_artifact(latest.artifact, expected_sha256=mv.sha256)
        except ArtifactError as exc:
            logger.warning("champion %s on the models topic not imported: %s", mv.version, exc)
            note = "none (the topic's record did not load)"
        else:
            version = mv.version if mv.version not in registry else None
            parent = mv.parent if mv.parent in registry else None
            imported = registry.register(model, mv.metrics, mv.lineage, parent, version=version)
            registry.promote(
                imported.version,
                f"imported from the models topic ({mv.version}: {latest.entry.reason})",
                actor=trainer.actor,
            )
            note = f"{imported.version} imported from the models topic"
    elif champion is not None:
        note = f"{champion.version} from the registry"
        if latest is None or (latest.version.version, latest.version.sha256) != (
            champion.version,
            champion.sha256,
        ):
            republish = trainer.champion_record()
            note += ", published again (the models topic did not have it)"
    else:
        note = "none yet"
    handler = TrainerHandler(trainer, settings.group_id, max_event_bytes=settings.max_event_bytes)
    note += f"; {_warm_start(settings, handler, timeout)}"
    return TrainerStart(handler, note, republish)


def _warm_start(settings: StreamSettings, handler: TrainerHandler, timeout: float) -> str:
    """Refill the window from the tails of ``labels``, ``events`` and ``feedback``.

    The group resumes from its committed offsets, which a restarted trainer has passed:
    without this its window would start empty. The last ``train_window`` offsets of every
    partition are read (labels first, so events join as they come); records the group
    then delivers again are duplicates the window ignores. The schedule counts from
    here. Failures are logged: the window then fills from the group's offsets.
    """
    from streamlabel.stream._topics import read_to_end

    window = handler.trainer.window
    read = 0
    try:
        for logical in ("labels", "events", "feedback"):
            found = read_to_end(
                settings,
                logical,
                timeout=timeout,
                client_id=f"{settings.trainer_group_id}-warm-{logical}",
                last=settings.train_window,
            )
            for raw in found[0] if found is not None else []:
                handler.offer(logical, raw)
                read += 1
    except Exception as exc:
        logger.warning("window not refilled at start-up (%s)", exc)
    handler.trainer.reset_schedule()
    return f"window refilled with {len(window)} labeled events from {read} records"


def _publish(producer: Any, settings: StreamSettings, record: ModelRecord) -> bool:
    value = encode_model_record(record)
    if len(value) > MODEL_RECORD_MAX_BYTES:
        logger.error(
            "model %s %s not published: its record has %d bytes (limit %d); "
            "lower STREAMLABEL_FEATURE_BITS",
            record.name,
            record.version.version,
            len(value),
            MODEL_RECORD_MAX_BYTES,
        )
        return False
    key = record.name.encode("utf-8")
    producer.send(settings.topic("models"), key=key, value=value).get(timeout=30)
    logger.warning(
        "streamlabel model published: %s %s (sha256 %s, %d bytes)",
        record.name,
        record.version.version,
        record.version.sha256[:12],
        len(value),
    )
    return True


def _publish_view(producer: Any, settings: StreamSettings, handler: TrainerHandler) -> None:
    """Publish the registry view on ``model-registry`` (key = model name)."""
    value = json.dumps(handler.registry_view(), separators=(",", ":")).encode()
    key = settings.model_name.encode("utf-8")
    producer.send(settings.topic("model-registry"), key=key, value=value).get(timeout=30)


def _log_result(result: TrainingResult) -> None:
    if not result.trained:
        outcome = "no model"
    elif result.promoted:
        outcome = f"{result.version.version if result.version else '?'} promoted"
    else:
        outcome = f"{result.version.version if result.version else '?'} not promoted"
    logger.warning(
        "streamlabel training (%s) at %d labeled events: %s; %d training, %d held-out "
        "events scored against %s; %s",
        result.trigger,
        result.at,
        outcome,
        result.n_train,
        result.n_holdout,
        result.truth,
        result.reason,
    )


def run_trainer(
    settings: StreamSettings,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    poll_timeout: float = 0.5,
    create_topics: bool = True,
    metrics: Metrics | None = None,
) -> TrainerHandler:
    """Run the trainer until ``should_stop()``; return its handler (its state then).

    ``metrics`` (optional) gets the handler's counts (retraining requests and rounds)
    and the consumer lag of the trainer's group.

    Raises
    ------
    StartupError
        No features configured.
    """
    from kafka import KafkaConsumer

    started = time.monotonic()
    _require_features(settings)  # before any connection: fail fast
    if create_topics:
        created = ensure_topics(settings)
        if created:
            logger.warning("created topics %s", ", ".join(created))
    start = prepare_trainer(settings)
    handler = start.handler
    handler.metrics = metrics
    producer = record_producer(settings, "trainer")
    names = {settings.topic(n): n for n in _INPUTS}
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.trainer_group_id,
        client_id=f"{settings.trainer_group_id}-consumer",
        # A new group starts at the beginning: the window fills with what is retained.
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=max(100, settings.session_timeout_ms // 3),
        max_poll_records=max(settings.batch_size, 500),
    )
    try:
        if start.republish is not None:
            _publish(producer, settings, start.republish)
        _publish_view(producer, settings, handler)
        consumer.subscribe(sorted(names))
        logger.warning(
            "streamlabel trainer ready in %.2f s; model %r, champion %s; group %s",
            time.monotonic() - started,
            settings.model_name,
            start.champion,
            settings.trainer_group_id,
        )
        while not should_stop():
            for batch in consumer.poll(timeout_ms=int(poll_timeout * 1000)).values():
                for rec in batch:
                    raw = RawEvent(rec.key, rec.value or b"", rec.topic, rec.partition, rec.offset)
                    handler.offer(names[rec.topic], raw)
            seen = handler.commands_seen_
            for record in handler.apply_commands():  # before training: an operator's word
                _publish(producer, settings, record)
            changed = handler.commands_seen_ != seen  # refusals are news for the view too
            for result in handler.step():
                _log_result(result)
                changed = changed or result.version is not None
                if result.record is not None:
                    _publish(producer, settings, result.record)
            if changed:
                _publish_view(producer, settings, handler)
            if metrics is not None:
                record_lag(consumer, metrics)
    finally:
        consumer.close()
        producer.close(timeout=10)
    return handler


def serve_trainer(settings: StreamSettings, *, loglevel: str = "warning") -> None:
    """Run :func:`run_trainer` until SIGTERM or SIGINT, then exit the process (status 0).

    Raises
    ------
    StartupError
        No features configured (before anything runs).
    """
    _require_features(settings)  # before a port is bound
    serve_until_signalled(
        settings,
        "trainer",
        lambda should_stop, metrics: run_trainer(
            settings, should_stop=should_stop, metrics=metrics
        ),
        loglevel=loglevel,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the trainer with settings from ``STREAMLABEL_*`` until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m streamlabel.stream._trainer")
    parser.add_argument("--loglevel", default="warning", help="log level")
    args = parser.parse_args(argv)
    try:
        serve_trainer(StreamSettings.from_env(), loglevel=args.loglevel)
    except StartupError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
