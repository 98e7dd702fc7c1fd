"""The labeler service: the pipeline's Labeler behind the adapter's batch handler.

:class:`LabelerHandler` adapts :class:`~streamlabel.pipeline.Labeler` to the batch-handler
interface and adds LF-set hot reload from ``lfsets`` and late gold from ``feedback``;
:func:`prepare_labeler` reads ``lfsets`` at start-up to pick the set to start with.

Nothing here imports faust; :func:`read_lfsets` imports kafka-python when it runs.

Hand-off of a new LF set version: every agent and task of a worker runs in one asyncio
event loop and the handler's methods are synchronous, so no two of them interleave.
:meth:`LabelerHandler.offer_lfset` (called for each ``lfsets`` record) validates the spec
and parks a valid new version in a *pending slot*; :meth:`LabelerHandler.__call__` swaps
it in (``Labeler.set_lfset``) at the start of the next batch. A batch is therefore
labeled by exactly one version, and every label names it.

Label-model snapshots: the handler adds a record to the compacted ``labelmodel-stats``
topic (key: the consumer group id) every ``snapshot_every`` batches, and the worker
publishes one more when it stops cleanly (:func:`publish_snapshot`); at start-up
:func:`prepare_labeler` restores the group's latest snapshot (:func:`read_snapshot`). The
record value is the JSON envelope of :func:`snapshot_value`; :func:`parse_snapshot` reads it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from streamlabel.analysis import LabelQuality
from streamlabel.drift import RetrainRequest, TriggerPolicy
from streamlabel.labelmodel import (
    IncompatibleModelError,
    OnlineLabelModel,
    dumps_model,
    loads_model,
)
from streamlabel.lf import LFApplier, LFSet, LFSpecError, load_lfset
from streamlabel.metrics import SERVICE_PORTS, Metrics, MetricsServer, serve_metrics
from streamlabel.pipeline import (
    SHADOW_REPORT_FORMAT,
    CandidateRecord,
    DLQRecord,
    DriftWatch,
    InvalidEvent,
    Labeler,
    ReviewPolicy,
    Source,
    drift_record,
    parse_feedback,
)
from streamlabel.stream._app import Output, RawEvent, encode_output
from streamlabel.stream._logs import configure_service_logging
from streamlabel.stream._settings import StreamSettings

__all__ = [
    "INVALID_LFSET",
    "SNAPSHOT_FORMAT",
    "SNAPSHOT_MAX_BYTES",
    "LFSetLog",
    "LabelerHandler",
    "LabelerStart",
    "Snapshot",
    "SnapshotError",
    "StartupError",
    "parse_lfset_record",
    "parse_snapshot",
    "prepare_labeler",
    "publish_snapshot",
    "read_lfsets",
    "read_params",
    "read_snapshot",
    "record_lag",
    "service_metrics",
    "snapshot_value",
]

logger = logging.getLogger("streamlabel.stream")

#: DLQ reason of an ``lfsets`` record that is not a usable version of the served set.
INVALID_LFSET: Final = "invalid_lfset"

#: ``format`` of a ``labelmodel-stats`` / ``labelmodel-params`` record value;
#: ``format_version`` is 2 (1 was keyed by group only, before the aggregator).
SNAPSHOT_FORMAT: Final = "streamlabel.labelmodel-snapshot"
_SNAPSHOT_VERSION: Final = 2
#: A snapshot record larger than this (bytes of JSON) is not published, with a warning:
#: the broker's default ``message.max.bytes`` is about 1 MB.
SNAPSHOT_MAX_BYTES: Final = 900_000


def service_metrics(
    settings: StreamSettings, service: str, *, label_names: Sequence[str] | None = None
) -> tuple[Metrics | None, MetricsServer | None]:
    """Create a service's metrics bundle and serve it at ``/metrics``, per the settings.

    Returns ``(None, None)`` when ``metrics_enabled`` is off. The port is
    ``metrics_port``, else the service's default (:data:`~streamlabel.metrics.SERVICE_PORTS`);
    the server is None when the port cannot be bound (logged; the service runs on).

    Examples
    --------
    >>> m, server = service_metrics(StreamSettings(metrics_port=0), "labeler")
    >>> m is not None and server is not None and server.port > 0
    True
    >>> server.close()
    >>> service_metrics(StreamSettings(metrics_enabled=False), "labeler")
    (None, None)
    """
    if not settings.metrics_enabled:
        return None, None
    metrics = Metrics(label_names=label_names)
    port = settings.metrics_port
    if port is None:
        port = SERVICE_PORTS[service]
    return metrics, serve_metrics(metrics, settings.metrics_host, port, service=service)


def serve_until_signalled(
    settings: StreamSettings,
    service: str,
    run: Callable[[Callable[[], bool], Metrics | None], Any],
    *,
    loglevel: str = "warning",
) -> None:
    """Run a plain-loop service until SIGTERM or SIGINT, then exit the process (status 0).

    Sets up logging, turns both signals into a stop flag that ``run(should_stop,
    metrics)`` polls, serves the service's ``/metrics`` while it runs (see
    :func:`service_metrics`) and closes that server however ``run`` ends.
    """
    import signal
    import sys

    configure_service_logging(loglevel)
    stop = {"now": False}

    def on_signal(signum: int, frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    metrics, server = service_metrics(settings, service)
    try:
        run(lambda: stop["now"], metrics)
    finally:
        if server is not None:
            server.close()
    sys.exit(0)


def record_lag(consumer: Any, metrics: Metrics | None) -> dict[tuple[str, int], int]:
    """Set the lag of a kafka-python consumer's assigned partitions; return them.

    High watermark (from the consumer's last fetch) minus position, for every assigned
    partition whose watermark is known.
    """
    lags: dict[tuple[str, int], int] = {}
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is None:
            continue
        try:
            position = consumer.position(tp, timeout_ms=1000)
        except Exception:  # mid-rebalance: the next update sets it
            continue
        if position is None:
            continue
        lags[(tp.topic, tp.partition)] = max(0, int(high) - int(position))
    if metrics is not None:
        for (topic, partition), lag in lags.items():
            metrics.set_consumer_lag(topic, partition, lag)
    return lags


class StartupError(RuntimeError):
    """The labeler cannot start: no LF set to serve, or ``lfsets`` could not be read."""


class _RefusedError(ValueError):
    """An ``lfsets`` record refused, with the LF and field when known."""

    def __init__(self, detail: str, *, lf: str | None = None, field: str | None = None) -> None:
        self.detail = detail
        self.lf = lf
        self.field = field
        self.candidate: str | None = None  # the candidate version, for candidate records
        super().__init__(detail)


def parse_lfset_record(name: str, value: bytes) -> LFSet:
    """Validate one ``lfsets`` record value as a version of the LF set ``name``.

    Parameters
    ----------
    name : str
        The served set (the record key).
    value : bytes
        ``LFSetSpec.model_dump(mode="json")`` as UTF-8 JSON (the ``lf push`` contract).

    Returns
    -------
    LFSet
        Compiled from the declarative spec; no code runs.

    Raises
    ------
    ValueError
        The value is not JSON, not an object, not a valid spec (the message names the LF,
        field and reason) or names another set. Its ``lf`` and ``field`` attributes are
        set when known.

    Examples
    --------
    >>> spec = {"name": "s", "version": "2", "cardinality": 2, "lfs": [{"name": "big",
    ...     "label": 1, "when": {"kind": "threshold", "field": "amount", "op": "gt",
    ...     "value": 9}}]}
    >>> parse_lfset_record("s", json.dumps(spec).encode()).ids
    ('big@1',)
    >>> spec["lfs"][0]["label"] = 5
    >>> try:
    ...     parse_lfset_record("s", json.dumps(spec).encode())
    ... except ValueError as e:
    ...     print(e.lf, e.field, "|", e)
    big label | LF 'big', field 'label': label 5 is outside 0..1
    """
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _RefusedError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _RefusedError(f"an LF set spec must be a JSON object, got {type(data).__name__}")
    try:
        # A mapping, never a string: load_lfset reads a file named by a short string.
        lfset = load_lfset(data)
    except LFSpecError as exc:
        raise _RefusedError(str(exc), lf=exc.lf, field=exc.field) from None
    except ValueError as exc:  # e.g. a set-level check of LFSet itself
        raise _RefusedError(str(exc)) from None
    if lfset.name != name:
        raise _RefusedError(
            f"the record for set {name!r} holds a spec named {lfset.name!r}", field="name"
        )
    return lfset


@dataclass(frozen=True, slots=True)
class LFSetLog:
    """What :func:`read_lfsets` found on ``lfsets`` for one set.

    Attributes
    ----------
    records : list of RawEvent
        The set's records in log order (one partition holds them all: they share a key).
    end_offsets : dict of int to int
        Per partition, the offset after the last record read; the running worker follows
        ``lfsets`` from there.
    """

    records: list[RawEvent]
    end_offsets: dict[int, int]


def read_lfsets(settings: StreamSettings, name: str, timeout: float = 30.0) -> LFSetLog:
    """Read the ``lfsets`` topic to its end (kafka-python, no consumer group).

    Parameters
    ----------
    settings : StreamSettings
        Brokers and topic prefix.
    name : str
        The set whose records are kept (records with other keys are skipped).
    timeout : float, default=30
        Seconds for the whole read.

    Raises
    ------
    StartupError
        The topic does not exist or could not be read to its end in time.
    """
    return _read_to_end(settings, "lfsets", name, timeout)


def _read_to_end(settings: StreamSettings, logical: str, name: str, timeout: float) -> LFSetLog:
    """Read ``logical`` to its end; keep the records keyed ``name``, in log order."""
    from streamlabel.stream._topics import TopicReadTimeoutError, read_to_end

    key = name.encode("utf-8")
    try:
        found = read_to_end(
            settings,
            logical,
            timeout=timeout,
            client_id=f"{settings.group_id}-{logical}-start",
            keep=lambda k: k == key,
            wait_for_topic=timeout,
        )
    except TopicReadTimeoutError as exc:
        raise StartupError(str(exc)) from None
    if found is None:
        topic = settings.topic(logical)
        raise StartupError(f"topic {topic!r} not found on {settings.bootstrap_servers}")
    records, end = found
    return LFSetLog(records, end)


# ---------------------------------------------------------------------- snapshots


class SnapshotError(ValueError):
    """A ``labelmodel-stats`` record that cannot be restored."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A label model read back from ``labelmodel-stats``.

    Attributes
    ----------
    model : OnlineLabelModel
    lfset, lfset_version : str
        The LF set (and its version) in effect when the snapshot was taken.
    batches : int
        ``events`` batches the publishing worker had processed (summed over the workers
        for merged parameters).
    source : str
        ``topic:partition:offset`` of the record.
    at : float
        Epoch seconds when it was taken.
    quality : dict, optional
        The worker's :class:`~streamlabel.analysis.LabelQuality` state
        (``LabelQuality.to_dict``), absent from merged parameters and older snapshots.
    """

    model: OnlineLabelModel
    lfset: str
    lfset_version: str
    batches: int
    source: str
    at: float = 0.0
    quality: Mapping[str, Any] | None = None


def snapshot_value(
    model: OnlineLabelModel,
    *,
    key: str,
    lfset: LFSet | tuple[str, str],
    batches: int,
    at: float,
    quality: LabelQuality | None = None,
) -> dict[str, Any]:
    """Return the JSON value of a ``labelmodel-stats`` or ``labelmodel-params`` record.

    ``{"format": SNAPSHOT_FORMAT, "format_version": 2, "key", "lfset", "lfset_version",
    "labelmodel_version", "batches", "at", "model"}`` where ``key`` is the record's key
    and ``model`` the base64 of :func:`~streamlabel.labelmodel.dumps_model` (``.npz`` +
    JSON header, no pickle). ``lfset`` is the set or its ``(name, version)``. A worker's
    snapshot adds ``"quality"``: its label-quality state (``LabelQuality.to_dict``), so a
    restarted worker keeps its calibration (readers of format version 2 without it
    ignore the key).
    """
    name, version = (lfset.name, lfset.version) if isinstance(lfset, LFSet) else lfset
    extra = {} if quality is None else {"quality": quality.to_dict()}
    return {
        "format": SNAPSHOT_FORMAT,
        "format_version": _SNAPSHOT_VERSION,
        "key": key,
        "lfset": name,
        "lfset_version": version,
        "labelmodel_version": model.version_,
        "batches": batches,
        "at": at,
        "model": base64.b64encode(dumps_model(model)).decode("ascii"),
        **extra,
    }


def parse_snapshot(value: bytes, source: str = "?") -> Snapshot:
    """Read a ``labelmodel-stats`` record value (see :func:`snapshot_value`).

    Raises
    ------
    SnapshotError
        Not JSON, another format or format version, or a model that does not load
        (:class:`~streamlabel.labelmodel.IncompatibleModelError`).
    """
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"snapshot {source}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotError(f"snapshot {source}: not a {SNAPSHOT_FORMAT!r} record")
    if data.get("format_version") != _SNAPSHOT_VERSION:
        raise SnapshotError(
            f"snapshot {source}: format version {data.get('format_version')!r}, "
            f"this streamlabel reads {_SNAPSHOT_VERSION}"
        )
    try:
        model = loads_model(base64.b64decode(data["model"], validate=True))
        return Snapshot(
            model,
            str(data["lfset"]),
            str(data["lfset_version"]),
            int(data["batches"]),
            source,
            float(data["at"]),
            data.get("quality") if isinstance(data.get("quality"), dict) else None,
        )
    except (KeyError, TypeError, ValueError, binascii.Error, IncompatibleModelError) as exc:
        raise SnapshotError(f"snapshot {source}: {exc}") from None


def read_snapshot(
    settings: StreamSettings, timeout: float = 30.0, *, logical: str = "labelmodel-stats"
) -> Snapshot | None:
    """Return this worker's latest label-model record, or None.

    Reads ``labelmodel-stats`` for the key :attr:`StreamSettings.stats_key`, or, with
    ``logical="labelmodel-params"``, the group's merged parameters (key: the group id).
    None (with a warning in the log) also when the topic cannot be read or the latest
    record cannot be restored: the worker then starts without it, never crashes.
    """
    return _read_latest(settings, logical, timeout)[0]


def read_params(
    settings: StreamSettings, timeout: float = 30.0
) -> tuple[Snapshot | None, dict[int, int]]:
    """Return the group's latest merged parameters (or None) and ``labelmodel-params`` ends.

    The end offsets are where the running worker follows the topic from; both are empty
    when the topic cannot be read (logged, never fatal).
    """
    return _read_latest(settings, "labelmodel-params", timeout)


def _read_latest(
    settings: StreamSettings, logical: str, timeout: float
) -> tuple[Snapshot | None, dict[int, int]]:
    """Return the latest usable record of this worker's key on ``logical``, and the end offsets."""
    key = settings.stats_key if logical == "labelmodel-stats" else settings.group_id
    try:
        log = _read_to_end(settings, logical, key, timeout)
    except Exception as exc:  # a snapshot is an optimisation
        logger.warning("%s not read (%s); starting without it", logical, exc)
        return None, {}
    records = [r for r in log.records if r.value]
    if not records:
        return None, dict(log.end_offsets)
    latest = records[-1]
    try:
        return parse_snapshot(latest.value, latest.source), dict(log.end_offsets)
    except SnapshotError as exc:
        logger.warning("%s; starting without it", exc)
        return None, dict(log.end_offsets)


def publish_snapshot(
    settings: StreamSettings, handler: LabelerHandler, timeout: float = 10.0
) -> bool:
    """Publish ``handler``'s snapshot with kafka-python (the worker does this at exit).

    Returns whether it was written; a failure is logged, never raised.
    """
    out = handler.snapshot()
    if out is None:
        return False
    try:
        producer = record_producer(settings, "snapshot")
        try:
            send_record(producer, settings, out, timeout)
        finally:
            producer.close(timeout=timeout)
    except Exception as exc:  # at exit: log, do not mask the exit status
        logger.warning("final label-model snapshot not published: %s", exc)
        return False
    logger.warning(
        "streamlabel label-model snapshot published at exit: version %s",
        out.value["labelmodel_version"],
    )
    return True


def record_producer(settings: StreamSettings, role: str) -> Any:
    """Return a kafka-python producer for a few large records (label-model states)."""
    from kafka import KafkaProducer

    return KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.group_id}-{role}",
        acks="all",
        max_request_size=4_194_304,
    )


def send_record(producer: Any, settings: StreamSettings, out: Output, timeout: float) -> None:
    """Send one output with ``producer`` and wait until the broker has it."""
    key, value = encode_output(out)
    producer.send(settings.topic(out.topic), key=key, value=value).get(timeout=timeout)


def _dlq_output(
    reason: str,
    detail: str,
    record: RawEvent,
    at: float,
    extra: dict[str, Any] | None = None,
) -> Output:
    source = Source(record.topic, record.partition, record.offset)
    value = DLQRecord.of(reason, detail, record.value, source, at).to_dict()
    if extra:
        value.update(extra)
    return Output("dlq", record.source.encode("utf-8"), value)


class LabelerHandler:
    """Adapt a :class:`~streamlabel.pipeline.Labeler` to the stream adapter's interface.

    - ``handler(batch)`` (``events``): one ``labels`` record per valid event keyed by the
      event id (:meth:`LabelRecord.to_dict`), ``dlq`` records keyed
      ``topic:partition:offset`` with the reason, ``review`` records keyed by event id. A
      pending LF set version is swapped in first.
    - :meth:`offer_lfset` (``lfsets``): validate a record for the served set and park a
      valid new version for the next batch; an unusable one is a ``dlq`` record with
      reason ``invalid_lfset`` (plus ``lfset``, ``lf``, ``field``).
    - :meth:`on_feedback` (``feedback``): late gold labels into the label model; an
      invalid message is a ``dlq`` record.
    - every ``snapshot_every`` batches, one ``labelmodel-stats`` record keyed
      ``snapshot_key`` (:meth:`snapshot`) after the batch's outputs.
    - :meth:`offer_params` (``labelmodel-params``): the model the aggregator merged from
      every worker's statistics; labels are computed with it from the next batch on
      (:meth:`~streamlabel.pipeline.Labeler.use_params`).
    - :meth:`offer_candidate` (``lfset-candidates``): deploy (or clear) a candidate LF set
      version scored beside the served one from the next batch
      (:meth:`~streamlabel.pipeline.Labeler.set_candidate`), emitting nothing; an
      unusable one is a ``dlq`` record (reason ``invalid_lfset``, plus ``candidate``).
      Its report goes to ``shadow-reports`` (key ``<set>/<report_key>``) after the first
      batch it scored, then at most every ``report_interval`` seconds (after a batch or
      late gold).
    - with a ``watch``, every batch's labels (and every late gold label, against the
      label this worker emitted for the event) feed the
      :class:`~streamlabel.pipeline.DriftWatch`; its drift events and retraining requests
      become ``drift`` records (:func:`~streamlabel.pipeline.drift_record`), keyed by
      monitor name (a request: its monitors, comma-separated).

    Parameters
    ----------
    labeler : Labeler
        The labeler (its LF set is the one served; records for other sets are ignored).
    clock : callable, default=time.time
        Epoch seconds for the ``at`` of DLQ records.
    snapshot_every : int, default=0
        Batches between label-model snapshots; 0 publishes none.
    snapshot_key : str, default="streamlabel-labeler"
        Key of the snapshot records (the worker passes ``group id/worker id``).
    params_key : str, default="streamlabel-labeler"
        Key of the ``labelmodel-params`` records it takes (the worker passes its group
        id); records of other keys are ignored.
    watch : DriftWatch, optional
        Drift monitors over the labels; no ``drift`` records when None.
    drift_context : mapping, optional
        Copied into every ``drift`` record (the worker passes its group and worker id).
    metrics : Metrics, optional
        Fed after every batch (:meth:`Metrics.observe_labels`,
        :meth:`Metrics.sync_labeler`, batch duration, drift detections, retraining
        requests, DLQ records of ``lfsets`` and ``feedback``); none when None. May be set
        later (the worker sets it before the first batch).
    report_interval : float, default=10.0
        Seconds (of ``clock``) between two ``shadow-reports`` records of a candidate.
    report_key : str, default="streamlabel-labeler"
        This worker in the key of its reports (the worker passes ``group id/worker id``).

    Attributes
    ----------
    pending : LFSet or None
        The version to swap in at the next batch.
    lfsets_accepted_, lfsets_invalid_, lfsets_ignored_ : int
        ``lfsets`` records parked, refused (DLQ) and ignored (other sets, tombstones,
        re-deliveries of the version in effect).
    feedback_invalid_ : int
        ``feedback`` messages sent to the DLQ.
    snapshots_, snapshots_skipped_ : int
        Snapshot records returned; snapshots not published (larger than
        :data:`SNAPSHOT_MAX_BYTES`).
    drift_events_, retrain_requests_ : int
        ``drift`` records of drift/warning events and of retraining requests returned.
    candidate_record : CandidateRecord or None
        The deployment of the candidate being scored (None without a candidate).
    candidates_accepted_, candidates_invalid_, candidates_ignored_ : int
        ``lfset-candidates`` records parked, refused (DLQ) and ignored (other sets).
    shadow_reports_ : int
        ``shadow-reports`` records returned.

    Examples
    --------
    >>> from streamlabel.pipeline import Labeler
    >>> spec = {"name": "s", "version": "1", "cardinality": 2, "lfs": [{"name": "big",
    ...     "label": 1, "when": {"kind": "threshold", "field": "amount", "op": "gt",
    ...     "value": 9}}]}
    >>> handler = LabelerHandler(Labeler(load_lfset(spec), OnlineLabelModel(cardinality=2)))
    >>> event = b'{"id": "tx1", "ts": 1, "entity": "c1", "payload": {"amount": 50}}'
    >>> batch = [RawEvent(b"c1", event, "events", 0, 0), RawEvent(None, b"{", "events", 0, 1)]
    >>> out = handler(batch)
    >>> [(o.topic, o.key, o.value.get("lfset_version") or o.value["reason"]) for o in out]
    [('labels', b'tx1', '1'), ('dlq', b'events:0:1', 'not_json')]
    >>> spec["version"] = "2"
    >>> handler.offer_lfset(RawEvent(b"s", json.dumps(spec).encode(), "lfsets", 0, 3))
    []
    >>> out = handler([RawEvent(b"c1", event.replace(b"tx1", b"tx2"), "events", 0, 2)])
    >>> out[0].value["lfset_version"]
    '2'
    """

    def __init__(
        self,
        labeler: Labeler,
        *,
        clock: Callable[[], float] = time.time,
        snapshot_every: int = 0,
        snapshot_key: str = "streamlabel-labeler",
        params_key: str = "streamlabel-labeler",
        watch: DriftWatch | None = None,
        drift_context: dict[str, Any] | None = None,
        metrics: Metrics | None = None,
        report_interval: float = 10.0,
        report_key: str = "streamlabel-labeler",
    ) -> None:
        if snapshot_every < 0:
            raise ValueError(f"snapshot_every must be >= 0, got {snapshot_every}")
        self.labeler = labeler
        self.clock = clock
        self.snapshot_every = snapshot_every
        self.snapshot_key = snapshot_key
        self.params_key = params_key
        self.params_applied_ = 0
        self.params_ignored_ = 0
        self.snapshots_ = 0
        self.snapshots_skipped_ = 0
        self._since_snapshot = 0
        self.pending: LFSet | None = None
        self._pending_record: RawEvent | None = None
        self.lfsets_accepted_ = 0
        self.lfsets_invalid_ = 0
        self.lfsets_ignored_ = 0
        self.feedback_invalid_ = 0
        self.watch = watch
        self.drift_context = dict(drift_context or {})
        self.drift_events_ = 0
        self.retrain_requests_ = 0
        self.metrics = metrics
        self._quarantines = labeler.quarantines_
        # The label emitted for each recent event, for the gold-error monitor: as many
        # as the labeler keeps votes for (late gold for older events is unmatched anyway).
        self._emitted: OrderedDict[str, int] = OrderedDict()
        self.report_interval = report_interval
        self.report_key = report_key
        self.candidate_record: CandidateRecord | None = None
        # A candidate change for the next batch: (record, compiled set or None, source).
        self._candidate_change: tuple[CandidateRecord, LFSet | None, RawEvent] | None = None
        self._last_report: float | None = None
        self._report_dirty = False  # scored events or gold since the last report
        self.candidates_accepted_ = 0
        self.candidates_invalid_ = 0
        self.candidates_ignored_ = 0
        self.shadow_reports_ = 0

    @classmethod
    def from_settings(
        cls,
        settings: StreamSettings,
        lfset: LFSet,
        model: OnlineLabelModel | None = None,
        quality: LabelQuality | None = None,
    ) -> LabelerHandler:
        """Build the labeler (online label model, review policy) from the settings.

        ``model`` is a restored label model (a snapshot) or None for a fresh one, and
        ``quality`` the snapshot's label-quality estimate (None: a fresh one). The LFs
        of ``lfset`` it lacks are added (a new version of an LF it knows inherits that
        LF's estimate, as on a hot reload); the LFs it holds that are not in ``lfset`` are
        retired (``retire_lf``), as a hot reload to ``lfset`` would.
        """
        review = (
            ReviewPolicy(
                min_confidence=settings.review_min_confidence,
                route_conflicts=settings.review_conflicts,
                max_per_1000=settings.review_max_per_1000,
            )
            if settings.review_max_per_1000 > 0
            else None
        )
        if not isinstance(settings.balance, str) and len(settings.balance) != lfset.cardinality:
            raise ValueError(
                f"balance (STREAMLABEL_BALANCE) gives {len(settings.balance)} class shares; "
                f"LF set {lfset.name!r} has {lfset.cardinality} classes"
            )
        if model is None:
            model = OnlineLabelModel(
                cardinality=lfset.cardinality,
                half_life=settings.half_life,
                prior_weight=settings.prior_weight,
                unanimous_weight=settings.unanimous_weight,
                balance=settings.balance,
            )
        else:
            # Prediction settings, not statistics: a restored model takes the worker's.
            for name in OnlineLabelModel.prediction_settings:
                setattr(model, name, getattr(settings, name))
        labeler = Labeler(
            lfset,
            model,
            review=review,
            feedback_cache=settings.feedback_cache,
            max_bytes=settings.max_event_bytes,
            quarantine_threshold=settings.lf_quarantine_threshold or None,
            quarantine_window=settings.lf_quarantine_window,
            quality=quality,
        )
        for lf_id in [i for i in model.lf_ids_ if i not in lfset.ids]:
            model.retire_lf(lf_id)
        watch = None
        if settings.drift_enabled:
            policy = TriggerPolicy(
                min_monitors=settings.drift_min_monitors,
                critical=["gold_error"],
                cooldown=settings.drift_cooldown,
                window=settings.drift_window,
            )
            n = settings.drift_min_samples
            # An alarm on one LF makes the label model re-learn that LF (Labeler.forget_lf).
            watch = DriftWatch(
                lfset.ids, policy=policy, min_samples=n, grace=n, on_lf_drift=labeler.forget_lf
            )
        return cls(
            labeler,
            snapshot_every=settings.snapshot_every,
            snapshot_key=settings.stats_key,
            params_key=settings.group_id,
            watch=watch,
            drift_context={"group": settings.group_id, "worker": settings.worker_id},
            report_interval=settings.shadow_report_interval,
            report_key=settings.stats_key,
        )

    @property
    def name(self) -> str:
        """The served LF set's name."""
        return self.labeler.lfset.name

    # ------------------------------------------------------------------ events

    def __call__(self, batch: Sequence[RawEvent]) -> list[Output]:
        """Label one micro-batch of ``events`` (after swapping in a pending LF set)."""
        t0 = time.perf_counter()
        outputs = self._count_dlq(self._swap_pending())
        outputs.extend(self._count_dlq(self._apply_candidate()))
        labeler = self.labeler
        outcome = labeler.process_many(
            [(ev.value, Source(ev.topic, ev.partition, ev.offset)) for ev in batch]
        )
        if labeler.quarantines_ != self._quarantines:
            self._quarantines = labeler.quarantines_
            for q in labeler.quarantined_.values():
                if q.batch == labeler.batches_:
                    logger.error("streamlabel LF %s quarantined: %s", q.lf_id, q.reason)
        m = self.metrics
        if m is not None:
            m.observe_labels(outcome.labels, labeler.lfset.ids)
            m.sync_labeler(labeler)
        outputs.extend(
            Output("labels", rec.event_id.encode("utf-8"), rec.to_dict()) for rec in outcome.labels
        )
        for dlq in outcome.dlq:
            src = dlq.source
            key = None if src is None else f"{src.topic}:{src.partition}:{src.offset}".encode()
            outputs.append(Output("dlq", key, dlq.to_dict()))
        outputs.extend(
            Output("review", rec.event_id.encode("utf-8"), rec.to_dict()) for rec in outcome.review
        )
        if self.watch is not None and outcome.labels:
            requests = self.watch.observe(outcome.labels, timestamp=self.clock())
            outputs.extend(self._drift_outputs(requests))
            cap = self.labeler.feedback_cache
            if cap:
                emitted = self._emitted
                for rec in outcome.labels:
                    emitted[rec.event_id] = rec.label
                while len(emitted) > cap:
                    emitted.popitem(last=False)
        if self.snapshot_every:
            self._since_snapshot += 1
            if self._since_snapshot >= self.snapshot_every:
                snap = self.snapshot()
                if snap is not None:
                    outputs.append(snap)
        if labeler.candidate is not None:
            self._report_dirty = True
            outputs.extend(self.shadow_report())
        if m is not None:
            m.batch_seconds.observe(time.perf_counter() - t0)
        return outputs

    def _count_dlq(self, outputs: list[Output]) -> list[Output]:
        """Count the ``dlq`` outputs the labeler's counters do not (lfsets, feedback)."""
        m = self.metrics
        if m is not None:
            for o in outputs:
                if o.topic == "dlq":
                    m.dlq.labels(str(o.value.get("reason", "unknown"))).inc()
        return outputs

    def _drift_outputs(self, requests: Sequence[RetrainRequest]) -> list[Output]:
        """``drift`` records of the watch's new events and of ``requests``."""
        watch = self.watch
        if watch is None:
            return []
        lfset = self.labeler.lfset
        context = {**self.drift_context, "lfset": lfset.name, "lfset_version": lfset.version}
        out = [
            Output("drift", e.monitor.encode("utf-8"), drift_record(e, context))
            for e in watch.events_
        ]
        # The topic is the record of them: the watch need not keep them all.
        self.drift_events_ += len(watch.events_)
        if self.metrics is not None:
            self.metrics.observe_drift(watch.events_)
            self.metrics.retrain_requests.inc(len(requests))
        watch.events_.clear()
        for r in requests:
            self.retrain_requests_ += 1
            logger.warning("streamlabel retraining request: %s", r.reason)
            out.append(Output("drift", ",".join(r.monitors).encode(), drift_record(r, context)))
        return out

    def snapshot(self) -> Output | None:
        """Return a ``labelmodel-stats`` record of the model now (:func:`snapshot_value`).

        None when it is larger than :data:`SNAPSHOT_MAX_BYTES` (logged, counted in
        ``snapshots_skipped_``). Resets the count of batches since the last snapshot.
        """
        self._since_snapshot = 0
        labeler = self.labeler
        value = snapshot_value(
            labeler.model,
            key=self.snapshot_key,
            lfset=labeler.lfset,
            batches=labeler.batches_,
            at=self.clock(),
            quality=labeler.quality,
        )
        size = len(json.dumps(value))  # the model's base64 and the quality state's lists
        if size > SNAPSHOT_MAX_BYTES:
            self.snapshots_skipped_ += 1
            logger.warning(
                "label-model snapshot of %d bytes not published (limit %d)",
                size,
                SNAPSHOT_MAX_BYTES,
            )
            return None
        self.snapshots_ += 1
        return Output("labelmodel-stats", self.snapshot_key.encode("utf-8"), value)

    def offer_params(self, record: RawEvent) -> list[Output]:
        """Take merged parameters from ``labelmodel-params`` for the next batches.

        Records of another key, tombstones, unreadable ones (logged) and parameters that
        do not fit (another LF set or cardinality) are ignored (``params_ignored_``):
        the labeler then keeps predicting with what it has. Returns no outputs.
        """
        if record.key is None or record.key.decode("utf-8", "replace") != self.params_key:
            self.params_ignored_ += 1
            return []
        if not record.value:
            self.params_ignored_ += 1
            self.labeler.use_params(None)
            return []
        try:
            snap = parse_snapshot(record.value, record.source)
        except SnapshotError as exc:
            self.params_ignored_ += 1
            logger.warning("label-model params ignored: %s", exc)
            return []
        self.take_params(snap)
        return []

    def take_params(self, snap: Snapshot) -> bool:
        """Predict with ``snap``'s model if it fits the served LF set; return whether."""
        lfset = self.labeler.lfset
        if snap.lfset != lfset.name or snap.model.cardinality != lfset.cardinality:
            self.params_ignored_ += 1
            logger.warning(
                "label-model params %s ignored: LF set %r, cardinality %d (served: %r, %d)",
                snap.source,
                snap.lfset,
                snap.model.cardinality,
                lfset.name,
                lfset.cardinality,
            )
            return False
        self.labeler.use_params(snap.model)
        self.params_applied_ += 1
        logger.warning(
            "streamlabel label-model params in use: version %s from %s (%d batches)",
            snap.model.version_,
            snap.source,
            snap.batches,
        )
        return True

    def _swap_pending(self) -> list[Output]:
        new, record = self.pending, self._pending_record
        if new is None or record is None:
            return []
        self.pending = self._pending_record = None
        old = self.labeler.lfset.version
        try:
            diff = self.labeler.set_lfset(new)
        except ValueError as exc:  # LFVersionError too; offer_lfset checked both already
            self.lfsets_invalid_ += 1
            logger.warning("LF set %r version %r refused: %s", new.name, new.version, exc)
            return [_dlq_output(INVALID_LFSET, str(exc), record, self.clock(), {"lfset": new.name})]
        if self.watch is not None:
            self.watch.set_lfs(new.ids)
        self._rebase_candidate()
        logger.warning(
            "streamlabel LF set %r version %r in effect (was %r): %d added, %d removed, %d changed",
            new.name,
            new.version,
            old,
            len(diff.added),
            len(diff.removed),
            len(diff.changed),
        )
        return []

    # ------------------------------------------------------------------ lfsets

    def offer_lfset(self, record: RawEvent) -> list[Output]:
        """Validate one ``lfsets`` record; park a valid new version for the next batch.

        Returns
        -------
        list of Output
            Empty, or one ``dlq`` record (reason ``invalid_lfset``) when the record is a
            spec for the served set that cannot be used: not JSON, invalid (LF, field and
            reason), another name inside, another cardinality, an LF whose logic changed
            under the same ``name@version``, or the version in effect with other content.
            The version in effect (and any pending one) stays.

        Notes
        -----
        The latest record wins, as on the compacted topic: a re-delivery of the version
        in effect cancels a pending one. Records of other sets and tombstones (empty
        values) are ignored.
        """
        name = self.name
        if record.key != name.encode("utf-8"):
            self.lfsets_ignored_ += 1
            return []
        if not record.value:
            self.lfsets_ignored_ += 1
            logger.warning("tombstone for LF set %r at %s ignored", name, record.source)
            return []
        try:
            new = parse_lfset_record(name, record.value)
            self._check_compatible(new)
        except _RefusedError as exc:
            self.lfsets_invalid_ += 1
            logger.warning("LF set record %s refused: %s", record.source, exc)
            extra = {"lfset": name, "lf": exc.lf, "field": exc.field}
            return self._count_dlq(
                [_dlq_output(INVALID_LFSET, str(exc), record, self.clock(), extra)]
            )
        current = self.labeler.lfset
        if new.version == current.version:  # checked: same content
            self.lfsets_ignored_ += 1
            self.pending = self._pending_record = None
            return []
        self.pending, self._pending_record = new, record
        self.lfsets_accepted_ += 1
        logger.warning(
            "streamlabel LF set %r version %r received at %s (applies at the next batch)",
            name,
            new.version,
            record.source,
        )
        return []

    def _check_compatible(self, new: LFSet) -> None:
        current = self.labeler.lfset
        if new.cardinality != current.cardinality:
            raise _RefusedError(
                f"cardinality {new.cardinality}; the labeler's is {current.cardinality}",
                field="cardinality",
            )
        if new.version == current.version and new.content_hash != current.content_hash:
            raise _RefusedError(
                f"version {new.version!r} is in effect with other content; "
                "a set version is immutable, publish a new version",
                field="version",
            )
        for old_id, new_id in current.diff(new).changed:
            if old_id == new_id:
                raise _RefusedError(
                    f"LF {new_id!r} changed its logic but kept its version; bump the LF's version",
                    lf=new_id.rpartition("@")[0],
                    field="version",
                )

    # ------------------------------------------------------------------ feedback

    def on_feedback(self, batch: Sequence[RawEvent]) -> list[Output]:
        """Learn the late gold labels of a batch of ``feedback`` records.

        A message that does not parse (:func:`~streamlabel.pipeline.parse_feedback`) or
        names a label outside the classes is a ``dlq`` record; an unknown or already
        labeled event only counts in the labeler's ``feedback_unmatched_`` /
        ``feedback_duplicate_``.
        """
        outputs: list[Output] = []
        max_bytes = self.labeler.max_bytes
        for ev in batch:
            try:
                record = parse_feedback(ev.value, max_bytes=max_bytes)
                learned = self.labeler.learn_feedback(record)
                self._report_dirty |= learned and self.labeler.candidate is not None
            except InvalidEvent as exc:
                self.feedback_invalid_ += 1
                outputs.append(_dlq_output(exc.reason, exc.detail, ev, self.clock()))
                continue
            emitted = self._emitted.get(record.event_id)
            if learned and self.watch is not None and emitted is not None:
                requests = self.watch.observe_gold(emitted, record.label, timestamp=self.clock())
                outputs.extend(self._drift_outputs(requests))
        if self.metrics is not None:
            self.metrics.sync_labeler(self.labeler)  # feedback outcomes
            self._count_dlq(outputs)
        outputs.extend(self.shadow_report())  # gold is what decides a candidate's verdict
        return outputs

    # ------------------------------------------------------------------ candidates

    def offer_candidate(self, record: RawEvent) -> list[Output]:
        """Validate one ``lfset-candidates`` record; park the change for the next batch.

        A deploy record's spec is checked as an ``lfsets`` record would be (valid spec of
        the served set, same cardinality, no LF logic changed under its id, applicable)
        and must not be the version in effect; a record without a spec (discard, the
        clean-up after a promotion) or a tombstone clears the candidate.

        Returns
        -------
        list of Output
            Empty, or one ``dlq`` record (reason ``invalid_lfset``, with ``lfset``,
            ``candidate`` (the version, if known), ``lf`` and ``field``) when the record
            cannot be used. The candidate being scored (and any parked change) stays.
        """
        name = self.name
        if record.key != name.encode("utf-8"):
            self.candidates_ignored_ += 1
            return []
        try:
            rec = self._parse_candidate(record)
            new = None if rec.spec is None else self._check_candidate(rec)
        except _RefusedError as exc:
            self.candidates_invalid_ += 1
            logger.warning("LF set candidate record %s refused: %s", record.source, exc)
            extra = {
                "lfset": name,
                "candidate": exc.candidate,
                "lf": exc.lf,
                "field": exc.field,
            }
            return self._count_dlq(
                [_dlq_output(INVALID_LFSET, str(exc), record, self.clock(), extra)]
            )
        self._candidate_change = (rec, new, record)
        self.candidates_accepted_ += 1
        logger.warning(
            "streamlabel LF set %r candidate %s received at %s (applies at the next batch)",
            name,
            "cleared" if new is None else f"version {new.version!r}",
            record.source,
        )
        return []

    def _parse_candidate(self, record: RawEvent) -> CandidateRecord:
        name = self.name
        if not record.value:  # a tombstone: no candidate
            return CandidateRecord(name, "discard", "tombstone", None, None, None, "?", "", 0.0)
        try:
            data = json.loads(record.value)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _RefusedError(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise _RefusedError(f"a candidate record is a JSON object, not {type(data).__name__}")
        try:
            rec = CandidateRecord.from_dict(data)
        except ValueError as exc:
            raise _RefusedError(str(exc)) from None
        if rec.lfset != name:
            raise _RefusedError(
                f"the record for set {name!r} names the set {rec.lfset!r}", field="lfset"
            )
        return rec

    def _check_candidate(self, rec: CandidateRecord) -> LFSet:
        """Return the compiled candidate of a deploy record; ``_RefusedError`` if unusable."""
        spec = json.dumps(rec.spec).encode("utf-8")
        try:
            new = parse_lfset_record(self.name, spec)
            self._check_compatible(new)
            if new.version == self.labeler.lfset.version:
                raise _RefusedError(
                    f"candidate version {new.version!r} is the version in effect",
                    field="version",
                )
            try:
                LFApplier(new).reset()  # applicable: refused here, not at the next batch
            except (ValueError, TypeError) as exc:
                raise _RefusedError(f"not applicable: {exc}") from None
        except _RefusedError as exc:
            exc.candidate = rec.version
            raise
        return new

    def _apply_candidate(self) -> list[Output]:
        """Apply a parked candidate change (before a batch); a DLQ record if it fails."""
        change, self._candidate_change = self._candidate_change, None
        if change is None:
            return []
        rec, new, raw = change
        labeler = self.labeler
        if new is None:
            gone = labeler.discard_candidate()
            self.candidate_record = None
            if gone is not None:
                logger.warning(
                    "streamlabel LF set %r candidate %r %s (%d events scored)",
                    self.name,
                    gone.candidate.version,
                    "promoted" if rec.action == "promote" else "discarded",
                    gone.n_,
                )
            return []
        if new.version == labeler.lfset.version:
            # A promotion's new active version came first: it is no longer a candidate.
            labeler.discard_candidate()
            self.candidate_record = None
            return []
        try:
            labeler.set_candidate(new)
        except ValueError as exc:  # LFVersionError too; checked when offered
            self.candidates_invalid_ += 1
            logger.warning("LF set candidate %r refused: %s", new.version, exc)
            extra = {"lfset": new.name, "candidate": new.version}
            return [_dlq_output(INVALID_LFSET, str(exc), raw, self.clock(), extra)]
        self.candidate_record = rec
        logger.warning(
            "streamlabel LF set %r candidate version %r deployed beside version %r",
            new.name,
            new.version,
            labeler.lfset.version,
        )
        self._last_report = None  # due after this batch: the API sees it deployed
        self._report_dirty = True
        return []

    def _rebase_candidate(self) -> None:
        """After a swap: drop a candidate that became active, else score it afresh."""
        labeler = self.labeler
        shadow = labeler.candidate
        if shadow is None:
            return
        cand = shadow.candidate
        if cand.version == labeler.lfset.version:
            labeler.discard_candidate()
            self.candidate_record = None
            logger.warning(
                "streamlabel LF set %r candidate %r is now the version in effect",
                cand.name,
                cand.version,
            )
            return
        try:
            # Its report compares with the active version: start again against the new one.
            labeler.set_candidate(cand)
        except ValueError as exc:
            labeler.discard_candidate()
            self.candidate_record = None
            logger.warning("LF set candidate %r dropped after the swap: %s", cand.version, exc)

    def shadow_report(self, *, force: bool = False) -> list[Output]:
        """Return this worker's ``shadow-reports`` record if one is due (or ``force``).

        Due when events or gold were scored since the last report and ``report_interval``
        has passed since it. The worker also calls this on a timer (every
        ``report_interval``), so the last gold of a burst is reported even when no event
        follows.

        The value: ``{"format": SHADOW_REPORT_FORMAT, "format_version": 1, "key",
        "lfset", "worker", "candidate_id", "candidate_version", "active_version", "at",
        "batches", "report"}`` with ``report`` from
        :meth:`~streamlabel.pipeline.ShadowLFSet.report`. Nothing without a candidate.
        """
        shadow, rec = self.labeler.candidate, self.candidate_record
        if shadow is None or rec is None:
            return []
        now = self.clock()
        last = self._last_report
        if not force and (
            not self._report_dirty or (last is not None and now - last < self.report_interval)
        ):
            return []
        self._last_report = now
        self._report_dirty = False
        self.shadow_reports_ += 1
        key = f"{self.name}/{self.report_key}"
        value = {
            "format": SHADOW_REPORT_FORMAT,
            "format_version": 1,
            "key": key,
            "lfset": self.name,
            "worker": self.report_key,
            "candidate_id": rec.id,
            "candidate_version": shadow.candidate.version,
            "active_version": self.labeler.lfset.version,
            "at": now,
            "batches": self.labeler.batches_,
            "report": shadow.report(),
        }
        return [Output("shadow-reports", key.encode("utf-8"), value)]


# ---------------------------------------------------------------------- start-up


@dataclass(frozen=True, slots=True)
class LabelerStart:
    """A labeler ready to run: the handler, where it came from, where to follow ``lfsets``.

    Attributes
    ----------
    handler : LabelerHandler
    origin : str
        ``"topic <topic>:<partition>:<offset>"`` or ``"file <path>"``.
    lfsets_from : dict of int to int
        Per ``lfsets`` partition, the offset the running worker reads from.
    skipped : list of str
        Why later records on ``lfsets`` were not used at start-up (invalid ones).
    restored : str or None
        The label-model version restored from a snapshot (after the LF-set alignment),
        None when the model starts fresh.
    params_from : dict of int to int
        Per ``labelmodel-params`` partition, the offset the running worker follows from
        (empty when the topic could not be read).
    feedback_from : dict of int to int
        Per ``feedback`` partition, its end at start-up: where the worker (batched reader)
        follows ``feedback`` from (empty when the topic could not be read).
    candidates_from : dict of int to int
        Per ``lfset-candidates`` partition, where the worker follows it from (empty when
        the topic could not be read: no candidate is followed).
    """

    handler: LabelerHandler
    origin: str
    lfsets_from: dict[int, int]
    skipped: list[str] = field(default_factory=list)
    restored: str | None = None
    params_from: dict[int, int] = field(default_factory=dict)
    feedback_from: dict[int, int] = field(default_factory=dict)
    candidates_from: dict[int, int] = field(default_factory=dict)


def _same_balance(a: str | Sequence[float], b: str | Sequence[float]) -> bool:
    """Whether two ``balance`` settings are the same (class shares compared normalised).

    Examples
    --------
    >>> _same_balance([94.0, 6.0], (0.94, 0.06)), _same_balance("majority", (0.5, 0.5))
    (True, False)
    """
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return x.shape == y.shape and bool(np.allclose(x / x.sum(), y / y.sum(), rtol=1e-12, atol=0))


def _load_file(path: Path) -> LFSet:
    try:
        return load_lfset(Path(path))
    except FileNotFoundError:
        raise StartupError(f"LF set file {str(path)!r} not found") from None
    except (LFSpecError, ValueError) as exc:
        raise StartupError(f"LF set file {str(path)!r} is invalid: {exc}") from None


def prepare_labeler(settings: StreamSettings, timeout: float = 30.0) -> LabelerStart:
    """Choose the LF set to start with and build the handler.

    The newest valid version of the set on ``lfsets`` (read to its end with
    :func:`read_lfsets`) wins; without one, ``settings.lfset_file``; without that, the
    labeler refuses to start. The label model is the group's latest snapshot
    (:func:`read_snapshot`) when there is one that fits the set (same set name and
    cardinality, same ``half_life`` and ``balance``), else a fresh one; an unreadable or
    incompatible snapshot is logged, never fatal.

    Raises
    ------
    StartupError
        No set name, no usable version anywhere, an invalid or mismatched file, or
        ``lfsets`` unreadable. The message says what to do.
    """
    file_set: LFSet | None = None
    if settings.lfset_file is not None:
        file_set = _load_file(settings.lfset_file)
    name = settings.lfset or (file_set.name if file_set is not None else None)
    if name is None:
        raise StartupError(
            "no LF set to serve: set STREAMLABEL_LFSET (streamlabel run --lfset NAME) "
            "and/or STREAMLABEL_LFSET_FILE (--lfset-file FILE)"
        )
    if file_set is not None and file_set.name != name:
        raise StartupError(
            f"LF set file {str(settings.lfset_file)!r} holds set {file_set.name!r}, not {name!r}"
        )
    log = read_lfsets(settings, name, timeout=timeout)
    skipped: list[str] = []
    chosen: tuple[LFSet, str] | None = None
    for record in reversed(log.records):  # the newest valid version wins
        if not record.value:
            continue
        try:
            chosen = (parse_lfset_record(name, record.value), f"topic {record.source}")
            break
        except ValueError as exc:
            skipped.append(f"{record.source}: {exc}")
    if chosen is None and file_set is not None:
        chosen = (file_set, f"file {settings.lfset_file}")
    if chosen is None:
        found = f"{len(log.records)} record(s), none valid" if log.records else "no record"
        raise StartupError(
            f"no version of LF set {name!r} to start with: topic "
            f"{settings.topic('lfsets')!r} has {found} for it and no LF set file is given. "
            f"Publish one (streamlabel lf push FILE --set {name}) or pass --lfset-file FILE "
            "(STREAMLABEL_LFSET_FILE)."
        )
    lfset, origin = chosen
    for why in skipped:
        logger.warning("LF set record skipped at start-up: %s", why)
    model, quality = _restorable(settings, lfset, timeout)
    handler = LabelerHandler.from_settings(settings, lfset, model, quality)
    params, params_end = read_params(settings, timeout)
    if params is not None:
        handler.take_params(params)
    candidates_end = _start_candidate(settings, handler, timeout)
    return LabelerStart(
        handler,
        origin,
        dict(log.end_offsets),
        skipped,
        restored=None if model is None else handler.labeler.model.version_,
        params_from=params_end,
        feedback_from=_feedback_end(settings, timeout),
        candidates_from=candidates_end,
    )


def _start_candidate(
    settings: StreamSettings, handler: LabelerHandler, timeout: float
) -> dict[int, int]:
    """Deploy the set's candidate on ``lfset-candidates`` (if any); return the end offsets.

    Never fatal: an unreadable topic or record is logged and the worker starts without.
    """
    try:
        log = _read_to_end(settings, "lfset-candidates", handler.name, timeout)
    except Exception as exc:  # a candidate is an addition; labeling goes on without it
        logger.warning("lfset-candidates not read (%s): candidates are not followed", exc)
        return {}
    if log.records:
        for out in handler.offer_candidate(log.records[-1]):
            logger.warning("candidate at start-up refused: %s", out.value.get("detail"))
        handler._apply_candidate()  # its first report goes out after the first batch
    return dict(log.end_offsets)


def _feedback_end(settings: StreamSettings, timeout: float) -> dict[int, int]:
    """Return the end offsets of ``feedback`` now; empty (logged) when unreadable."""
    from streamlabel.stream._topics import end_offsets

    try:
        found = end_offsets(
            settings, "feedback", timeout=timeout, client_id=f"{settings.group_id}-feedback-start"
        )
    except Exception as exc:  # feedback is an addition; labeling goes on without it
        logger.warning("feedback end offsets not read (%s): late gold is not followed", exc)
        return {}
    return found or {}


def _restorable(
    settings: StreamSettings, lfset: LFSet, timeout: float
) -> tuple[OnlineLabelModel | None, LabelQuality | None]:
    """Return the worker's latest snapshot model if it fits ``lfset`` and the settings.

    With it, the snapshot's label-quality estimate when it has one that loads and fits
    the set's cardinality (else None, logged: the estimate starts afresh, the model is
    restored all the same).
    """
    if settings.snapshot_every == 0:
        return None, None
    snap = read_snapshot(settings, timeout=timeout)
    if snap is None:
        return None, None
    model = snap.model
    why = None
    if snap.lfset != lfset.name:
        why = f"it is of LF set {snap.lfset!r}, the worker serves {lfset.name!r}"
    elif model.cardinality != lfset.cardinality:
        why = f"cardinality {model.cardinality}, the LF set's is {lfset.cardinality}"
    elif model.half_life != settings.half_life:
        why = f"half_life {model.half_life}, the settings' is {settings.half_life}"
    elif not _same_balance(model.balance, settings.balance):
        why = f"balance {model.balance!r}, the settings' is {settings.balance!r}"
    if why is not None:
        logger.warning("label-model snapshot %s not restored: %s; starting fresh", snap.source, why)
        return None, None
    quality = None
    if snap.quality is not None:
        try:
            quality = LabelQuality.from_dict(snap.quality)
            if quality.cardinality != lfset.cardinality:
                raise ValueError(f"cardinality {quality.cardinality}")
        except ValueError as exc:
            logger.warning("label-quality state of %s not restored (%s)", snap.source, exc)
            quality = None
    logger.warning(
        "streamlabel label model restored from %s: version %s (LF set version %r, %d batches)",
        snap.source,
        model.version_,
        snap.lfset_version,
        snap.batches,
    )
    return model, quality
