"""Replay through the control API: one background job at a time in the API process.

``POST /replays`` (write role, audited) starts a replay of a time range of ``events``
through an LF set version; ``GET /replays/{job_id}`` reads its progress and, once done,
its result (flips per class pair and per changed LF, as ``streamlabel replay`` prints);
``GET /replays`` lists the recent jobs.

*How it runs, and why.* A :class:`ReplayJobs` runs the backend's replayer in **one
worker thread of the API process**, one job at a time (a second request while one runs is
refused with 409 ``busy``). On Kafka the replayer is
:meth:`~streamlabel.api.KafkaBackend.run_replay`, i.e. the same
:func:`~streamlabel.stream._replay.start_replay` as the CLI, with its checkpoint in the
API's ``replay_dir``: it reads outside any consumer group, its memory is bounded by its
batch and an on-disk label index, and it is resumable and idempotent, so nothing needs a
separate service. One at a time because a replay is I/O- and CPU-heavy (it re-reads
``events`` and indexes ``labels``) and shares the process with the API's requests; a
queue would hide that a second replay waits behind the first. Job records are kept in
memory (the last :data:`MAX_JOBS`): after an API restart the progress of a job is lost,
but its replay state is not, and the same request (same replay id) resumes it. Several
API replicas each run their own jobs; two replays of the same range only repeat
identical revisions (keyed by event id).

The embedded mode and tests use :class:`LogReplayer`, the same core over an in-process
event log.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from streamlabel.api._model import AuditEntry, ControlError, Principal

if TYPE_CHECKING:
    from streamlabel.labelmodel import OnlineLabelModel
    from streamlabel.lf import LFSet
    from streamlabel.pipeline import LabelRecord, RevisionRecord

__all__ = ["MAX_JOBS", "LogReplayer", "ReplayJobRequest", "ReplayJobs", "Replayer"]

logger = logging.getLogger("streamlabel.api")

#: Finished jobs kept for ``GET /replays`` (the oldest are dropped).
MAX_JOBS: Final = 50


@dataclass(frozen=True, slots=True)
class ReplayJobRequest:
    """A replay asked through the API (validated).

    Attributes
    ----------
    lfset, version : str
        The LF set and the version to apply.
    start, stop : float
        Epoch seconds: events with a timestamp in ``[start, stop)``.
    reason : str
        Why (audited, stored in every revision).
    replay_id : str
        Names the replay and its checkpoint (the same id resumes an interrupted one).
    """

    lfset: str
    version: str
    start: float
    stop: float
    reason: str
    replay_id: str

    def to_dict(self) -> dict[str, Any]:
        """Return the request with the API's field names (``set``, ``from``, ``to``)."""
        return {
            "set": self.lfset,
            "version": self.version,
            "from": self.start,
            "to": self.stop,
            "reason": self.reason,
            "replay_id": self.replay_id,
        }


class Replayer(Protocol):
    """Runs one replay to its end (blocking) and returns its report.

    ``progress`` is called with the live report after every batch. The report is a dict
    shaped like :meth:`~streamlabel.stream._replay.ReplayReport.to_dict`: at least
    ``summary`` (:meth:`~streamlabel.pipeline.ReplaySummary.to_dict`), ``done``,
    ``already_done``, ``events_read``, ``revisions_sent`` and ``ranges`` (per partition
    ``[start, stop, position]``).
    """

    def __call__(
        self,
        request: ReplayJobRequest,
        lfset: LFSet,
        progress: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]: ...


def _progress(report: Mapping[str, Any]) -> dict[str, Any]:
    """Events done of the range, from a report's ``ranges``."""
    ranges = report.get("ranges") or {}
    total = sum(max(0, int(r[1]) - int(r[0])) for r in ranges.values())
    done = sum(max(0, min(int(r[2]), int(r[1])) - int(r[0])) for r in ranges.values())
    summary = report.get("summary") or {}
    return {
        "events_total": total,
        "events_done": done,
        "fraction": 1.0 if total == 0 and report.get("done") else (done / total if total else 0.0),
        "revised": int(summary.get("revised", 0)),
    }


class ReplayJobs:
    """Replay jobs of one API process: at most one running, in a worker thread.

    Parameters
    ----------
    replayer : Replayer
        What runs a replay (:meth:`KafkaBackend.run_replay`, a :class:`LogReplayer`).
    clock : callable, default=time.time
        Epoch seconds for ``started_at`` / ``finished_at``.
    max_jobs : int, default=MAX_JOBS
        Jobs kept for :meth:`list` / :meth:`get`.
    on_change : callable, optional
        Called with a copy of a job when it starts and when it ends (the control API
        passes :meth:`Metrics.observe_replay_job <streamlabel.metrics.Metrics.observe_replay_job>`).

    Examples
    --------
    >>> jobs = ReplayJobs(lambda req, lfset, progress: {"done": True, "summary": {}})
    >>> jobs.busy
    False
    """

    def __init__(
        self,
        replayer: Replayer,
        *,
        clock: Callable[[], float] = time.time,
        max_jobs: int = MAX_JOBS,
        on_change: Callable[[dict[str, Any]], object] | None = None,
    ) -> None:
        self.replayer = replayer
        self.clock = clock
        self.max_jobs = max_jobs
        self.on_change = on_change
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._running: str | None = None
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """Whether a job is running."""
        with self._lock:
            return self._running is not None

    def start(
        self,
        request: ReplayJobRequest,
        lfset: LFSet,
        who: Principal,
        audit: Callable[[AuditEntry], Any],
        *,
        label_names: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Audit the request, start it in the worker thread and return the job.

        Raises
        ------
        ControlError
            409 ``busy`` while another job runs (nothing is audited or started).
        """
        with self._lock:
            if self._running is not None:
                running = self._jobs[self._running]
                raise ControlError(
                    409,
                    f"replay job {running['job_id']} ({running['set']} v{running['version']}) "
                    "is running; "
                    "one replay at a time: poll it and start this one when it is done",
                    code="busy",
                )
            job_id = uuid.uuid4().hex[:16]
            entry = AuditEntry.new(
                who.name,
                "replay.start",
                f"lfset:{request.lfset}",
                request.reason,
                {**request.to_dict(), "job_id": job_id},
            )
            audit(entry)  # recorded before anything runs: the effect comes last
            job: dict[str, Any] = {
                "job_id": job_id,
                **request.to_dict(),
                "state": "running",
                "actor": who.name,
                "audit_id": entry.id,
                "started_at": self.clock(),
                "finished_at": None,
                "progress": {"events_total": None, "events_done": 0, "fraction": 0.0, "revised": 0},
                "result": None,
                "flips": None,
                "error": None,
            }
            self._jobs[job_id] = job
            while len(self._jobs) > self.max_jobs:
                self._jobs.popitem(last=False)
            self._running = job_id
            names = list(label_names) if label_names else None
            self._thread = threading.Thread(
                target=self._run,
                args=(job_id, request, lfset, names),
                name=f"streamlabel-replay-{job_id}",
                daemon=True,  # a replay cut by shutdown resumes from its checkpoint
            )
            self._thread.start()
            self._changed(job)
            return dict(job)

    def _changed(self, job: dict[str, Any]) -> None:
        if self.on_change is not None:
            self.on_change(dict(job))

    def _run(
        self,
        job_id: str,
        request: ReplayJobRequest,
        lfset: LFSet,
        label_names: list[str] | None,
    ) -> None:
        from streamlabel.pipeline import ReplaySummary

        def progress(report: dict[str, Any]) -> None:
            with self._lock:
                self._jobs[job_id]["progress"] = _progress(report)

        try:
            result = self.replayer(request, lfset, progress)
        except Exception as exc:  # the job records it; the API goes on
            # The traceback goes to the log, not to readers of the job.
            logger.exception("streamlabel replay job %s failed", job_id)
            with self._lock:
                job = self._jobs[job_id]
                job.update(state="failed", finished_at=self.clock())
                job["error"] = f"{type(exc).__name__}: {exc}"
                self._running = None
                self._changed(job)
            return
        summary = ReplaySummary.from_dict(result.get("summary") or {})
        with self._lock:
            job = self._jobs[job_id]
            job.update(
                state="done" if result.get("done", True) else "partial",
                finished_at=self.clock(),
                result=result,
                progress=_progress(result),
                flips=_named_flips(summary.flips, label_names),
                text=summary.to_table(label_names),
            )
            self._running = None
            self._changed(job)

    def get(self, job_id: str) -> dict[str, Any]:
        """Return a job (a copy); ControlError 404 when unknown."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise ControlError(404, f"no replay job {job_id!r}", code="not_found")
            return _copy(job)

    def list(self) -> list[dict[str, Any]]:
        """Return the kept jobs, oldest first."""
        with self._lock:
            return [_copy(j) for j in self._jobs.values()]

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the running job; return whether none runs."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.busy


def _copy(job: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in job.items()}


def _named_flips(flips: Mapping[str, int], names: Sequence[str] | None) -> list[dict[str, Any]]:
    """Flips per class pair with the class names: ``[{"from", "to", "count"}]``."""

    def name(c: int) -> str | int:
        return names[c] if names is not None and 0 <= c < len(names) else c

    out = []
    for pair, n in sorted(flips.items()):
        a, b = (int(c) for c in pair.split("->"))
        out.append({"from": name(a), "to": name(b), "count": int(n)})
    return out


class LogReplayer:
    """A :class:`Replayer` over an in-process event log (embedded mode, tests).

    Events whose ``ts`` lies in ``[start, stop)`` are relabeled in batches by a
    :class:`~streamlabel.pipeline.Relabeler` (a frozen copy of ``model()``), compared
    with the latest label of each event from ``labels()``; the revisions of each batch
    are handed to ``on_revisions`` (the host appends them to its label log, so they are
    the latest labels of a later replay). A finished replay id is not run again
    (``already_done``), as on Kafka.

    Parameters
    ----------
    events, labels, model
        Callables returning the event log (dicts, in log order), the label records
        emitted so far (records or dicts, revisions included; the last per id wins) and
        the current label model. Called when a replay starts.
    on_revisions
        Receives each batch's revisions.
    batch_size
        Events per relabeled batch (one progress report each).
    clock
        Epoch seconds for ``revised_at``.

    Examples
    --------
    >>> from streamlabel.datasets import fraud_lfsets, make_fraud_stream
    >>> from streamlabel.labelmodel import OnlineLabelModel
    >>> from streamlabel.pipeline import Labeler
    >>> v1, v2 = fraud_lfsets()[:2]
    >>> stream = make_fraud_stream(2000, seed=0)
    >>> labeler = Labeler(v1, OnlineLabelModel(cardinality=2))
    >>> labels = labeler.process_many([(e, None) for e in stream.events]).labels
    >>> log = LogReplayer(lambda: stream.events, lambda: labels, lambda: labeler.model,
    ...                   on_revisions=labels.extend)
    >>> ts = [e["ts"] for e in stream.events]
    >>> req = ReplayJobRequest("fraud-stream", "2", ts[400], ts[800], "gift cards", "r1")
    >>> report = log(req, v2, lambda r: None)
    >>> report["done"], report["summary"]["events"], report["summary"]["revised"] > 0
    (True, 400, True)
    >>> log(req, v2, lambda r: None)["already_done"]
    True
    """

    def __init__(
        self,
        events: Callable[[], Sequence[Mapping[str, Any]]],
        labels: Callable[[], Iterable[LabelRecord | Mapping[str, Any]]],
        model: Callable[[], OnlineLabelModel],
        *,
        on_revisions: Callable[[list[RevisionRecord]], Any] | None = None,
        batch_size: int = 1_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self.events = events
        self.labels = labels
        self.model = model
        self.on_revisions = on_revisions
        self.batch_size = batch_size
        self.clock = clock
        self._done: dict[str, dict[str, Any]] = {}

    def __call__(
        self,
        request: ReplayJobRequest,
        lfset: LFSet,
        progress: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        """Run the replay (see the class description); return its report."""
        from streamlabel.pipeline import Relabeler, ReplaySummary, parse_label_value

        if request.replay_id in self._done:
            return {**self._done[request.replay_id], "already_done": True}
        selected = [e for e in self.events() if request.start <= _ts(e.get("ts")) < request.stop]
        previous: dict[str, LabelRecord] = {}
        for rec in self.labels():
            label = rec if not isinstance(rec, Mapping) else parse_label_value(rec)[0]
            previous[label.event_id] = label
        relabeler = Relabeler(
            lfset,
            self.model(),
            replay_id=request.replay_id,
            reason=request.reason,
            clock=self.clock,
        )
        summary = ReplaySummary()
        report: dict[str, Any] = {
            "replay_id": request.replay_id,
            "lfset": lfset.name,
            "version": lfset.version,
            "labelmodel_version": relabeler.labelmodel_version,
            "summary": summary.to_dict(),
            "done": False,
            "resumed": False,
            "already_done": False,
            "events_read": 0,
            "revisions_sent": 0,
            "ranges": {"0": [0, len(selected), 0]},
        }
        t0 = time.perf_counter()
        for lo in range(0, len(selected), self.batch_size):
            batch = selected[lo : lo + self.batch_size]
            out = relabeler.relabel_many([(e, None) for e in batch], previous)
            for rev in out.revisions:
                previous[rev.event_id] = rev.to_label_record()
            if out.revisions and self.on_revisions is not None:
                self.on_revisions(list(out.revisions))
            summary.merge(out.summary)
            report["events_read"] += len(batch)
            report["revisions_sent"] += len(out.revisions)
            report["ranges"]["0"][2] = lo + len(batch)
            report["summary"] = summary.to_dict()
            progress(dict(report))
        seconds = time.perf_counter() - t0
        report.update(
            done=True,
            seconds=round(seconds, 3),
            events_per_second=round(report["events_read"] / seconds, 1) if seconds > 0 else 0.0,
        )
        self._done[request.replay_id] = dict(report)
        return report


def _ts(value: Any) -> float:
    try:
        ts = float(value)
    except (TypeError, ValueError):
        return math.nan  # not in any range
    return ts


def replay_routes(
    app: Any,
    jobs: ReplayJobs | None,
    control: Any,
    backend: Any,
    reader: Callable[..., Any],
    writer: Callable[..., Any],
) -> None:
    """Add ``POST /replays``, ``GET /replays`` and ``GET /replays/{job_id}`` to ``app``.

    ``jobs`` None (a backend that cannot replay): the endpoints answer 501.
    """
    from fastapi import Body, Depends
    from pydantic import BaseModel, ConfigDict, Field

    class ReplayBody(BaseModel):
        model_config = ConfigDict(populate_by_name=True, extra="forbid")

        lfset: str = Field(alias="set", min_length=1, description="LF set name")
        version: str = Field(min_length=1, description="the LF set version to apply")
        start: float | str = Field(
            alias="from", description="start (inclusive): epoch seconds or ISO-8601 (UTC)"
        )
        stop: float | str = Field(alias="to", description="end (exclusive), as ``from``")
        reason: str = Field(min_length=1, max_length=2000, description="why (audited)")
        replay_id: str | None = Field(
            default=None,
            min_length=1,
            max_length=200,
            description="names (and resumes) the replay; default: from set, version, range",
        )

    def _jobs() -> ReplayJobs:
        if jobs is None:
            raise ControlError(
                501, "this backend cannot replay (no event log to read)", code="unsupported"
            )
        return jobs

    def start_replay(
        body: ReplayBody = Body(...),  # noqa: B008
        who: Principal = Depends(writer),  # noqa: B008
    ) -> dict[str, Any]:
        from streamlabel.api._control import _check_reason
        from streamlabel.lf import LFSet
        from streamlabel.stream._replay import default_replay_id, parse_time

        runner = _jobs()
        reason = _check_reason(body.reason)
        try:
            start = parse_time(body.start)
        except ValueError as exc:
            raise ControlError(422, str(exc), field="from") from None
        try:
            stop = parse_time(body.stop)
        except ValueError as exc:
            raise ControlError(422, str(exc), field="to") from None
        if not (math.isfinite(start) and math.isfinite(stop)) or stop <= start:
            raise ControlError(422, f"'to' ({stop}) must be after 'from' ({start})", field="to")
        version = control.get_version(body.lfset, body.version)  # 404 if unknown
        lfset = LFSet.from_spec(dict(version.spec))
        replay_id = body.replay_id or default_replay_id(body.lfset, body.version, start, stop)
        request = ReplayJobRequest(body.lfset, body.version, start, stop, reason, replay_id)
        return runner.start(
            request, lfset, who, backend.record_audit, label_names=lfset.label_names
        )

    def list_replays(who: Principal | None = Depends(reader)) -> list[dict[str, Any]]:  # noqa: B008
        return _jobs().list()

    def show_replay(
        job_id: str,
        who: Principal | None = Depends(reader),  # noqa: B008
    ) -> dict[str, Any]:
        return _jobs().get(job_id)

    # This module postpones annotations (``from __future__``): FastAPI resolves them in
    # the module's globals, where the body model, local to this function, is not.
    start_replay.__annotations__["body"] = ReplayBody
    app.post("/replays", status_code=202, tags=["replay"], summary="Start a replay")(start_replay)
    app.get("/replays", tags=["replay"], summary="Recent replay jobs")(list_replays)
    app.get("/replays/{job_id}", tags=["replay"], summary="A replay job's progress and result")(
        show_replay
    )
