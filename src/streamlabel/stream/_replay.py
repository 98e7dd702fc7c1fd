"""Replay over Kafka: relabel a time range of ``events`` with LF set version V.

``streamlabel replay --set NAME --version V --from TIME [--to TIME]`` (and, later, the
control API through :func:`start_replay`) runs :func:`run_replay`:

1. **Plan.** ``offsets_for_times`` on every partition of ``events`` turns ``--from`` /
   ``--to`` (Kafka record timestamps, epoch ms) into an offset range per partition; no
   ``--to`` means the end offsets when the replay starts. The plan, the LF set version
   and a copy of the label model are written to ``<state_dir>/<replay id>.json`` /
   ``.model.npz`` before anything is read.
2. **Index the previous labels.** ``labels`` is read from ``offsets_for_times(from -
   label_margin)`` (a label is produced after its event, so nothing earlier can belong
   to the range; the margin absorbs clock skew between hosts) to its end offsets, and
   the latest label of the set per event id goes into an on-disk SQLite table
   (``<replay id>.labels.sqlite``): memory stays bounded (SQLite's page cache, capped
   at ~8 MB) however long the range; disk grows with the labels read.
3. **Relabel.** ``events`` is read in batches of at most ``batch_size`` records; each
   batch's previous labels are looked up in the index, the pure
   :class:`~streamlabel.pipeline.Relabeler` computes the revisions, and they are
   produced to ``labels`` (key: event id; value: the new label record with the
   revision under ``"revision"``), flushed, written into the index, and only then is
   the position per partition recorded in the state file (written to a temporary name
   and renamed).

Guarantees: it never joins a consumer group (manual assignment, ``group_id=None``), so
the live labeler's group is never rebalanced or committed for; memory is
O(``batch_size``) plus SQLite's cache; an interrupted replay resumes from the recorded
positions with the same label-model copy (the index catches up first, so revisions
already sent are previous labels now and are not sent again); a finished replay id
does nothing; a *new* replay of the same range with the same version and model finds
no flips left (the revisions are the latest labels). Everything read or written is
keyed by event id, so at-least-once delivery only repeats identical revisions.

Nothing here imports faust; aiokafka (reading) and kafka-python (metadata, revisions) are
imported when a replay runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from streamlabel.labelmodel import OnlineLabelModel, load_model, save_model
from streamlabel.lf import LFSet
from streamlabel.pipeline import (
    LabelRecord,
    Relabeler,
    ReplaySummary,
    RevisionRecord,
    Source,
)
from streamlabel.pipeline._labeler import RawInput
from streamlabel.stream._app import Output, encode_output
from streamlabel.stream._settings import StreamSettings

__all__ = [
    "REPLAY_STATE_FORMAT",
    "ReplayError",
    "ReplayReport",
    "ReplayRequest",
    "default_replay_id",
    "load_lfset_version",
    "load_replay_model",
    "parse_time",
    "run_replay",
    "start_replay",
]

logger = logging.getLogger("streamlabel.stream")

#: ``format`` of a replay state file; ``format_version`` is 1.
REPLAY_STATE_FORMAT: Final = "streamlabel.replay-state"
_STATE_VERSION: Final = 1
# SQLite page cache of the label index, in KiB (negative = KiB for SQLite).
_INDEX_CACHE_KIB: Final = 8_000


class ReplayError(RuntimeError):
    """A replay cannot run: unknown LF set version, no label model, a conflicting state."""


def parse_time(text: str | float) -> float:
    """Epoch seconds from epoch seconds or ISO-8601 (zone-less = UTC).

    Examples
    --------
    >>> parse_time("1700000000"), parse_time("2023-11-14T22:13:20Z")
    (1700000000.0, 1700000000.0)
    >>> parse_time("2023-11-14T22:13:20")
    1700000000.0
    """
    if isinstance(text, int | float):
        return float(text)
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not epoch seconds or ISO-8601: {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def default_replay_id(name: str, version: str, start: float, stop: float | None) -> str:
    """Return the replay id used when none is given (the same command resumes it).

    Examples
    --------
    >>> default_replay_id("fraud-stream", "2", 1.7e9, None)
    'fraud-stream-v2-1700000000000-end'
    """
    end = "end" if stop is None else str(round(stop * 1000))
    return f"{name}-v{version}-{round(start * 1000)}-{end}"


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    """What a replay is asked to do (the CLI's flags; the API endpoint's body).

    Attributes
    ----------
    lfset : str
        LF set name.
    version : str
        The LF set version to apply.
    start : float
        Epoch seconds: events with a Kafka timestamp at or after it are replayed.
    stop : float or None
        Epoch seconds: events before it; None = up to the end offsets at the start.
    replay_id : str or None
        Names the replay (and its state); None = :func:`default_replay_id`.
    reason : str or None
        Stored in every revision.
    """

    lfset: str
    version: str
    start: float
    stop: float | None = None
    replay_id: str | None = None
    reason: str | None = None

    def resolved_id(self) -> str:
        """Return the replay id (given or default)."""
        if self.replay_id:
            return self.replay_id
        return default_replay_id(self.lfset, self.version, self.start, self.stop)


@dataclass
class ReplayReport:
    """What a replay did (JSON-able through :meth:`to_dict`).

    Attributes
    ----------
    replay_id, lfset, version : str
    labelmodel_version : str
        Parameters of the label-model copy every new label comes from.
    summary : ReplaySummary
        Counts over the whole replay (all runs of this replay id).
    done : bool
        The whole range was replayed.
    resumed : bool
        This run continued an interrupted one.
    already_done : bool
        The replay id had finished before this run: nothing was read or sent.
    events_read, revisions_sent : int
        This run's counts.
    seconds : float
        This run's relabeling time (after the label index was built).
    index_seconds : float
        This run's time to index the previous labels.
    labels_indexed : int
        Label records read into the index by this run.
    ranges : dict of int to list of int
        Per ``events`` partition, ``[start, stop, position]`` offsets.
    """

    replay_id: str
    lfset: str
    version: str
    labelmodel_version: str
    summary: ReplaySummary
    done: bool
    resumed: bool = False
    already_done: bool = False
    events_read: int = 0
    revisions_sent: int = 0
    seconds: float = 0.0
    index_seconds: float = 0.0
    labels_indexed: int = 0
    ranges: dict[int, list[int]] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        """Events replayed per second of relabeling in this run (0 when none)."""
        return self.events_read / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-able dict."""
        return {
            "replay_id": self.replay_id,
            "lfset": self.lfset,
            "version": self.version,
            "labelmodel_version": self.labelmodel_version,
            "summary": self.summary.to_dict(),
            "done": self.done,
            "resumed": self.resumed,
            "already_done": self.already_done,
            "events_read": self.events_read,
            "revisions_sent": self.revisions_sent,
            "seconds": round(self.seconds, 3),
            "index_seconds": round(self.index_seconds, 3),
            "labels_indexed": self.labels_indexed,
            "events_per_second": round(self.events_per_second, 1),
            "ranges": {str(p): list(r) for p, r in sorted(self.ranges.items())},
        }


# ---------------------------------------------------------------------- inputs


def load_lfset_version(
    settings: StreamSettings, name: str, version: str, *, timeout: float = 30.0
) -> LFSet:
    """Find version ``version`` of LF set ``name`` on the compacted ``lfsets`` topic.

    ``lfsets`` keeps the latest record per set (compaction), so an older version is
    found only while the broker has not compacted it away: keep the YAML of every version
    pushed and pass it instead (the CLI's ``--file``).

    Raises
    ------
    ReplayError
        The topic cannot be read or holds no valid record of that version.
    """
    from streamlabel.stream._service import StartupError, parse_lfset_record, read_lfsets

    try:
        log = read_lfsets(settings, name, timeout=timeout)
    except StartupError as exc:
        raise ReplayError(str(exc)) from None
    found: LFSet | None = None
    seen: list[str] = []
    for rec in log.records:
        try:
            lfset = parse_lfset_record(name, rec.value)
        except ValueError:
            continue
        seen.append(lfset.version)
        if lfset.version == version:
            found = lfset
    if found is None:
        raise ReplayError(
            f"LF set {name!r} version {version!r} is not on {settings.topic('lfsets')} "
            f"(versions there: {sorted(set(seen)) or 'none'}); pass its spec file"
        )
    return found


def load_replay_model(
    settings: StreamSettings, source: str = "auto", *, timeout: float = 30.0
) -> OnlineLabelModel:
    """Read the current label model: the aggregator's parameters or a worker's snapshot.

    Parameters
    ----------
    source : {"auto", "params", "stats"}
        ``params``: the group's merged parameters on ``labelmodel-params``; ``stats``:
        this worker's latest snapshot on ``labelmodel-stats`` (key
        :attr:`StreamSettings.stats_key`); ``auto``: params, else the snapshot.

    Raises
    ------
    ReplayError
        Nothing usable found.
    """
    from streamlabel.stream._service import read_params, read_snapshot

    if source not in ("auto", "params", "stats"):
        raise ValueError(f"source must be auto, params or stats, got {source!r}")
    if source in ("auto", "params"):
        snap, _ = read_params(settings, timeout)
        if snap is not None:
            return snap.model
    if source in ("auto", "stats"):
        snap = read_snapshot(settings, timeout)
        if snap is not None:
            return snap.model
    raise ReplayError(
        f"no label model on {settings.topic('labelmodel-params')} (key {settings.group_id!r})"
        + (
            f" nor {settings.topic('labelmodel-stats')} (key {settings.stats_key!r})"
            if source == "auto"
            else ""
        )
    )


# ---------------------------------------------------------------------- state


def _state_paths(state_dir: Path, replay_id: str) -> tuple[Path, Path, Path]:
    # The id names files: keep it readable but safe.
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in replay_id)[:100]
    digest = hashlib.blake2b(replay_id.encode("utf-8"), digest_size=4).hexdigest()
    base = state_dir / f"{safe}-{digest}"
    return (
        base.with_name(base.name + ".json"),
        base.with_name(base.name + ".model.npz"),
        base.with_name(base.name + ".labels.sqlite"),
    )


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class _LabelIndex:
    """Latest label per event id of one LF set, on disk (SQLite), with offsets indexed.

    A row keeps only what a replay compares and reports (entity, set version, votes,
    posterior, label, label-model version) as compact JSON.
    """

    def __init__(self, path: Path, lfset: str) -> None:
        self.lfset = lfset
        self.conn = sqlite3.connect(path)
        self.conn.execute(f"PRAGMA cache_size=-{_INDEX_CACHE_KIB}")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS labels (id TEXT PRIMARY KEY, value TEXT)")
        self.conn.execute("CREATE TABLE IF NOT EXISTS pos (part INTEGER PRIMARY KEY, off INTEGER)")
        self.conn.commit()

    def positions(self) -> dict[int, int]:
        return {int(p): int(o) for p, o in self.conn.execute("SELECT part, off FROM pos")}

    def put(self, rows: Sequence[tuple[str, str]], positions: Mapping[int, int]) -> None:
        with self.conn:  # one transaction: labels and how far they go
            self.conn.executemany("INSERT OR REPLACE INTO labels VALUES (?, ?)", rows)
            self.conn.executemany(
                "INSERT OR REPLACE INTO pos VALUES (?, ?)", list(positions.items())
            )

    def get(self, ids: Sequence[str]) -> dict[str, LabelRecord]:
        out: dict[str, LabelRecord] = {}
        unique = list(dict.fromkeys(ids))
        name = self.lfset
        for i in range(0, len(unique), 500):  # SQLite's bound on host parameters
            chunk = unique[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for eid, value in self.conn.execute(
                f"SELECT id, value FROM labels WHERE id IN ({marks})", chunk
            ):
                entity, version, votes, posterior, label, lm_version = json.loads(value)
                out[eid] = LabelRecord(
                    eid, entity, name, version, votes, posterior, label,
                    max(posterior), lm_version, 0.0, 0.0, None,
                )  # fmt: skip
        return out

    def close(self) -> None:
        self.conn.close()


def _row(d: Mapping[str, Any]) -> tuple[str, str]:
    """Index row of a label record dict (raises on a malformed one)."""
    label, posterior = int(d["label"]), [float(p) for p in d["posterior"]]
    if not posterior:
        raise ValueError("empty posterior")
    votes = {str(k): int(v) for k, v in d["votes"].items()}
    value = [
        str(d["entity"]),
        str(d["lfset_version"]),
        votes,
        posterior,
        label,
        str(d["labelmodel_version"]),
    ]
    return str(d["event_id"]), json.dumps(value, separators=(",", ":"))


# ---------------------------------------------------------------------- Kafka


class _Consumer:
    """A blocking facade over an aiokafka consumer outside any group.

    aiokafka decodes record batches in C; kafka-python does it (and CRC32C) in pure
    Python, which measured at ~75 µs per record here, the bulk of a replay's time. The
    consumer's event loop runs in a daemon thread, so its fetcher prefetches the next
    records while the replay thread relabels the current batch; each call waits for
    its coroutine (bounded by the request timeout).
    """

    def __init__(self, settings: StreamSettings, role: str, timeout: float) -> None:
        from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]

        self.ms = max(int(timeout * 1000), 1000)
        self.settings = settings
        self.client_id = f"{settings.group_id}-replay-{role}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name=self.client_id, daemon=True
        )
        self.thread.start()

        async def make() -> Any:
            return AIOKafkaConsumer(
                bootstrap_servers=settings.bootstrap_servers,
                client_id=self.client_id,
                group_id=None,  # never join (and so never disturb) the labeler's group
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                request_timeout_ms=self.ms,
                fetch_max_wait_ms=200,
            )

        try:
            self.consumer = self._run(make())
            self._run(self.consumer.start())
        except BaseException:
            self.close()
            raise

    def _run(self, coro: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=self.ms / 1000 + 5)

    def partitions(self, logical: str) -> list[Any]:
        from aiokafka import TopicPartition

        from streamlabel.stream._topics import end_offsets

        # The metadata look-up the other services use (kafka-python, one request).
        found = end_offsets(
            self.settings, logical, timeout=self.ms / 1000, client_id=f"{self.client_id}-meta"
        )
        topic = self.settings.topic(logical)
        if not found:
            raise ReplayError(f"topic {topic!r} not found")
        return [TopicPartition(topic, p) for p in sorted(found)]

    def end_offsets(self, tps: Sequence[Any]) -> dict[Any, int]:
        return dict(self._run(self.consumer.end_offsets(list(tps))))

    def offsets_for_times(self, times: Mapping[Any, int]) -> dict[Any, Any]:
        return dict(self._run(self.consumer.offsets_for_times(dict(times))))

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        # aiokafka's synchronous methods create futures: they run on the loop's thread.
        async def call() -> Any:
            return fn(*args)

        return self._run(call())

    def assign(self, tps: Sequence[Any]) -> None:
        self._call(self.consumer.assign, list(tps))

    def seek(self, tp: Any, offset: int) -> None:
        self._call(self.consumer.seek, tp, offset)

    def poll(self, timeout_ms: int, max_records: int) -> dict[Any, list[Any]]:
        return dict(
            self._run(self.consumer.getmany(timeout_ms=timeout_ms, max_records=max_records))
        )

    def position(self, tp: Any) -> int:
        return int(self._run(self.consumer.position(tp)))

    def pause(self, *tps: Any) -> None:
        self._call(self.consumer.pause, *tps)

    def close(self) -> None:
        try:
            if "consumer" in self.__dict__:
                with contextlib.suppress(Exception):
                    self._run(self.consumer.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            if not self.thread.is_alive():
                self.loop.close()


def _offsets_at(
    consumer: _Consumer, tps: Sequence[Any], ms: int, end: Mapping[Any, int]
) -> dict[Any, int]:
    """First offset with a timestamp >= ``ms`` per partition (the end offset when none)."""
    found = consumer.offsets_for_times(dict.fromkeys(tps, ms))
    out: dict[Any, int] = {}
    for tp in tps:
        hit = found.get(tp)
        out[tp] = end[tp] if hit is None else int(hit.offset)
    return out


def _read_ranges(
    consumer: _Consumer,
    ranges: Mapping[Any, tuple[int, int]],
    *,
    max_records: int,
    idle_timeout: float,
) -> Iterator[list[Any]]:
    """Yield lists of records (at most ``max_records``) of each ``[start, stop)`` range.

    Partitions that reached their stop are paused; the loop ends when all have, or
    raises :class:`ReplayError` after ``idle_timeout`` seconds without a record.
    """
    todo = {tp: r for tp, r in ranges.items() if r[0] < r[1]}
    if not todo:
        return
    consumer.assign(list(todo))
    for tp, (start, _) in todo.items():
        consumer.seek(tp, start)
    last = time.monotonic()
    while todo:
        polled = consumer.poll(timeout_ms=500, max_records=max_records)
        out: list[Any] = []
        for tp, recs in polled.items():
            stop = todo.get(tp, (0, -1))[1]
            out.extend(r for r in recs if r.offset < stop)
        finished = [tp for tp in todo if consumer.position(tp) >= todo[tp][1]]
        for tp in finished:
            del todo[tp]
        if finished:
            consumer.pause(*finished)
        if out:
            last = time.monotonic()
            yield out
        elif todo and time.monotonic() - last > idle_timeout:
            behind = {tp.partition: (consumer.position(tp), todo[tp][1]) for tp in todo}
            raise ReplayError(f"no records for {idle_timeout:g} s; (position, stop) {behind}")


def _progress_bar(total: int, desc: str, out: TextIO | None) -> Any:
    if out is None:
        return contextlib.nullcontext(None)
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="ev", file=out, mininterval=0.5, smoothing=0.1)


def run_replay(
    settings: StreamSettings,
    request: ReplayRequest,
    lfset: LFSet | None,
    model: OnlineLabelModel | None,
    *,
    state_dir: Path,
    batch_size: int = 2_000,
    label_margin: float = 300.0,
    timeout: float = 30.0,
    progress: TextIO | None = None,
    max_batches: int | None = None,
    on_batch: Callable[[ReplayReport], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> ReplayReport:
    """Replay ``request`` over Kafka; return the report (see the module docstring).

    Parameters
    ----------
    settings
        Brokers and topic prefix.
    request
        LF set name, version, time range, replay id, reason.
    lfset, model
        LF set version ``request.version`` and the current label model. Both may be
        None when resuming (the state holds the model; the LF set must then be given
        anyway unless the replay is done). The model is copied, never trained.
    state_dir
        Where the replay's state (plan, positions, summary), model copy and label index
        are kept.
    batch_size
        Most events relabeled at once (the memory bound of the relabeling step).
    label_margin
        Seconds before ``request.start`` from which ``labels`` is indexed.
    timeout
        Seconds of broker silence (no record while behind the stop offsets) tolerated.
    progress
        A stream for the progress bar with ETA (e.g. ``sys.stderr``); None: no bar.
    max_batches
        Stop after this many batches, leaving the replay resumable (tests; a bounded
        step for a caller that wants to yield).
    on_batch
        Called with the (live) report after each batch is recorded: ``ranges`` holds
        ``[start, stop, position]`` per partition, ``summary`` the counts so far (an API
        can expose progress from it).
    clock
        Epoch seconds for ``revised_at``.

    Raises
    ------
    ReplayError
        A missing topic, a state of another request under the same id, a broker silent
        for ``timeout``, or nothing to label with.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    if not label_margin >= 0:
        raise ValueError(f"label_margin must be >= 0 seconds, got {label_margin!r}")
    replay_id = request.resolved_id()
    state_dir.mkdir(parents=True, exist_ok=True)
    state_path, model_path, index_path = _state_paths(state_dir, replay_id)
    what = {
        "lfset": request.lfset,
        "version": request.version,
        "start": request.start,
        "stop": request.stop,
    }
    state: dict[str, Any] | None = None
    if state_path.exists():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        if state.get("format") != REPLAY_STATE_FORMAT or state.get("format_version") != 1:
            raise ReplayError(f"{state_path} is not a replay state this streamlabel reads")
        if state["request"] != what:
            raise ReplayError(
                f"replay id {replay_id!r} was started for {state['request']}, not {what}"
            )
        if state["done"]:
            return ReplayReport(
                replay_id,
                request.lfset,
                request.version,
                state["labelmodel_version"],
                ReplaySummary.from_dict(state["summary"]),
                done=True,
                already_done=True,
                ranges={int(p): list(r) for p, r in state["ranges"].items()},
            )
        model = load_model(model_path)  # the copy the interrupted run used
    if lfset is None or model is None:
        raise ReplayError("a replay needs the LF set version and a label model")
    if (lfset.name, lfset.version) != (request.lfset, request.version):
        raise ReplayError(
            f"LF set {lfset.name!r} v{lfset.version} given for {request.lfset!r} v{request.version}"
        )
    # A resumed replay keeps the reason it started with.
    reason = request.reason if state is None else str(state.get("reason") or request.reason)
    relabeler = Relabeler(lfset, model, replay_id=replay_id, reason=reason, clock=clock)

    events_topic = settings.topic("events")
    labels_topic = settings.topic("labels")
    consumer = _Consumer(settings, "read", timeout)
    index = _LabelIndex(index_path, request.lfset)
    producer: Any = None
    try:
        ev_tps = consumer.partitions("events")
        lb_tps = consumer.partitions("labels")
        resumed = state is not None
        if state is None:
            ev_end = consumer.end_offsets(ev_tps)
            begin = _offsets_at(consumer, ev_tps, round(request.start * 1000), ev_end)
            stop = (
                ev_end
                if request.stop is None
                else _offsets_at(consumer, ev_tps, round(request.stop * 1000), ev_end)
            )
            lb_end = consumer.end_offsets(lb_tps)
            lb_begin = _offsets_at(
                consumer, lb_tps, round((request.start - label_margin) * 1000), lb_end
            )
            save_model(relabeler.model, model_path)
            state = {
                "format": REPLAY_STATE_FORMAT,
                "format_version": _STATE_VERSION,
                "replay_id": replay_id,
                "request": what,
                "reason": relabeler.reason,
                "labelmodel_version": relabeler.labelmodel_version,
                "ranges": {
                    str(tp.partition): [begin[tp], max(begin[tp], stop[tp]), begin[tp]]
                    for tp in ev_tps
                },
                "labels_from": {str(tp.partition): lb_begin[tp] for tp in lb_tps},
                "summary": ReplaySummary().to_dict(),
                "done": False,
                "started_at": clock(),
            }
            _write_json(state_path, state)
        ranges: dict[int, list[int]] = {int(p): list(r) for p, r in state["ranges"].items()}
        summary = ReplaySummary.from_dict(state["summary"])
        report = ReplayReport(
            replay_id,
            request.lfset,
            request.version,
            str(state["labelmodel_version"]),
            summary,
            done=False,
            resumed=resumed,
            ranges=ranges,
        )

        # Index the previous labels: from where the index stopped (or the margin) to now.
        t0 = time.perf_counter()
        indexed = index.positions()
        lb_end = consumer.end_offsets(lb_tps)
        lb_ranges = {
            tp: (
                # A partition added since the plan is read from its beginning.
                indexed.get(tp.partition, int(state["labels_from"].get(str(tp.partition), 0))),
                lb_end[tp],
            )
            for tp in lb_tps
        }
        total = sum(max(0, b - a) for a, b in lb_ranges.values())
        name = request.lfset
        with _progress_bar(total, "index labels", progress) as bar:
            for recs in _read_ranges(consumer, lb_ranges, max_records=5_000, idle_timeout=timeout):
                rows: list[tuple[str, str]] = []
                pos: dict[int, int] = {}
                for r in recs:
                    pos[r.partition] = max(pos.get(r.partition, 0), r.offset + 1)
                    try:
                        d = json.loads(r.value)
                        if d.get("lfset") == name:
                            rows.append(_row(d))
                    except (ValueError, TypeError, AttributeError, KeyError):
                        continue  # not a label record: nothing to compare with
                index.put(rows, pos)
                report.labels_indexed += len(recs)
                if bar is not None:
                    bar.update(len(recs))
        # Partitions with nothing new still count as indexed up to their end.
        index.put([], {tp.partition: lb_end[tp] for tp in lb_tps})
        report.index_seconds = time.perf_counter() - t0

        # Relabel.
        from aiokafka import TopicPartition
        from kafka import KafkaProducer

        producer = KafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.group_id}-replay",
            acks="all",
            linger_ms=20,
        )
        t1 = time.perf_counter()
        ev_ranges = {
            TopicPartition(events_topic, p): (r[2], r[1]) for p, r in ranges.items() if r[2] < r[1]
        }
        total = sum(r[1] - r[0] for r in ranges.values())
        done_before = sum(r[2] - r[0] for r in ranges.values())
        batches = 0
        with _progress_bar(total, f"replay {name} v{request.version}", progress) as bar:
            if bar is not None:
                bar.update(done_before)
            reader = _read_ranges(consumer, ev_ranges, max_records=batch_size, idle_timeout=timeout)
            for recs in reader:
                if max_batches is not None and batches >= max_batches:
                    break
                inputs: list[RawInput] = [
                    (r.value, Source(events_topic, r.partition, r.offset)) for r in recs
                ]
                sent = _relabel_batch(relabeler, index, producer, labels_topic, inputs, summary)
                for r in recs:
                    rng = ranges[r.partition]
                    rng[2] = max(rng[2], r.offset + 1)
                state["summary"] = summary.to_dict()
                state["ranges"] = {str(p): r for p, r in ranges.items()}
                _write_json(state_path, state)
                report.events_read += len(recs)
                report.revisions_sent += sent
                batches += 1
                if on_batch is not None:
                    on_batch(report)
                if bar is not None:
                    bar.update(len(recs))
                    bar.set_postfix(revised=summary.revised, refresh=False)
            else:
                # Every partition reached its stop; offsets without a record there (a
                # transaction marker, a compacted or expired record) count as done.
                for rng in ranges.values():
                    rng[2] = max(rng[2], rng[1])
        report.seconds = time.perf_counter() - t1
        report.done = all(r[2] >= r[1] for r in ranges.values())
        if report.done:
            state["done"] = True
            state["finished_at"] = clock()
            _write_json(state_path, state)
        return report
    finally:
        if producer is not None:
            with contextlib.suppress(Exception):
                producer.close(timeout=timeout)
        with contextlib.suppress(Exception):
            consumer.close()
        index.close()


def _relabel_batch(
    relabeler: Relabeler,
    index: _LabelIndex,
    producer: Any,
    topic: str,
    inputs: list[RawInput],
    summary: ReplaySummary,
) -> int:
    """Relabel one batch, send and flush its revisions, record them in the index."""
    out = relabeler.relabel_many(inputs, index.get)
    revisions: list[RevisionRecord] = out.revisions
    for rev in revisions:
        key, value = encode_output(Output("labels", rev.event_id, rev.label_value()))
        producer.send(topic, key=key, value=value)
    if revisions:
        producer.flush()
        # Sent first, indexed after: a crash in between re-reads them from labels.
        index.put([_row(rev.to_label_record().to_dict()) for rev in revisions], {})
    summary.merge(out.summary)
    return len(revisions)


def start_replay(
    settings: StreamSettings,
    request: ReplayRequest,
    *,
    state_dir: Path,
    lfset: LFSet | None = None,
    model_source: str = "auto",
    timeout: float = 30.0,
    **kwargs: Any,
) -> ReplayReport:
    """Load the inputs of ``request`` from the topics and :func:`run_replay` it.

    The entry point for the control API's replay endpoint and the CLI: ``lfset`` (a
    spec file's set) overrides the ``lfsets`` look-up; the label model comes from
    :func:`load_replay_model` unless the replay id resumes (its copy is reused).
    """
    state_path = _state_paths(state_dir, request.resolved_id())[0]
    started = state_path.exists()
    done = started and bool(json.loads(state_path.read_text(encoding="utf-8")).get("done"))
    if lfset is None and not done:  # a finished replay needs nothing (it reads nothing)
        lfset = load_lfset_version(settings, request.lfset, request.version, timeout=timeout)
    model = None if started else load_replay_model(settings, model_source, timeout=timeout)
    return run_replay(
        settings, request, lfset, model, state_dir=state_dir, timeout=timeout, **kwargs
    )
