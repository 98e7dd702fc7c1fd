"""Drift monitors: one river detector behind a name, a signal, evidence gates and a state.

:class:`Monitor` is the one generic class; the factories (:func:`coverage_monitor`,
:func:`accuracy_monitor`, ...) only choose the detector and its tuned settings for each
signal. The settings and the measurements behind them are in ``docs/architecture.md``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "RATE_CHUNK",
    "STATES",
    "Detector",
    "DriftEvent",
    "DriftKind",
    "Monitor",
    "State",
    "accuracy_monitor",
    "coverage_monitor",
    "disagreement_monitor",
    "feature_monitor",
    "gold_error_monitor",
    "score_monitor",
]

#: What a monitor says after an update.
State = Literal["ok", "warning", "drift"]
#: Every state, from calm to alarmed.
STATES: Final[tuple[State, ...]] = ("ok", "warning", "drift")
#: The kind of a :class:`DriftEvent`.
DriftKind = Literal["warning", "drift"]

# Inputs kept for the "recent" side of a drift event's details; only summed at detection.
_RECENT: Final = 200


class Detector(Protocol):
    """What a monitor needs of a detector: river's ``DriftDetector`` verbs.

    Binary detectors (DDM, EDDM) also have ``warning_detected``, read when present.
    """

    @property
    def drift_detected(self) -> bool:
        """Whether the last update detected a drift."""
        ...

    def update(self, x: Any) -> Any:
        """Take one value."""
        ...

    def clone(self) -> Any:
        """Return a fresh detector with the same settings."""
        ...


def _json_float(v: float | int | None) -> float | int | None:
    if isinstance(v, float) and not math.isfinite(v):
        return None  # NaN/inf are not valid JSON
    return v


@dataclass(frozen=True, slots=True)
class DriftEvent:
    """A warning or a drift reported by a monitor.

    Attributes
    ----------
    monitor : str
        Name of the monitor that reported it.
    signal : str
        What the monitor watches (``"coverage"``, ``"gold_error"``, ...).
    kind : {"warning", "drift"}
        A drift, or entry into a detector's warning zone (DDM/EDDM only).
    index : int
        Position in the stream at detection: the ``index`` the caller passed with the
        update (e.g. the stream's event count), else the monitor's update count.
    n_updates : int
        Updates the monitor had taken, this one included.
    timestamp : float or None
        Supplied by the caller; the monitor never reads a clock.
    details : dict of str to float, int or None
        ``mean_before``: mean input since the previous reported drift (or the start) up to
        the last 200 inputs; ``mean_recent``: mean of the last 200 inputs (for score and
        feature monitors, means of the raw values); ``n_before``, ``n_recent``: their counts.
        ``None`` where undefined.

    Examples
    --------
    >>> from streamlabel.drift import DriftEvent
    >>> e = DriftEvent("coverage:kw@1", "coverage", "drift", 5200, 5200, None,
    ...                {"mean_before": 0.3, "mean_recent": 0.06})
    >>> DriftEvent.from_dict(e.to_dict()) == e
    True
    """

    monitor: str
    signal: str
    kind: DriftKind
    index: int
    n_updates: int
    timestamp: float | None = None
    details: dict[str, float | int | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-able dict (non-finite floats become ``None``)."""
        return {
            "monitor": self.monitor,
            "signal": self.signal,
            "kind": self.kind,
            "index": self.index,
            "n_updates": self.n_updates,
            "timestamp": _json_float(self.timestamp),
            "details": {k: _json_float(v) for k, v in self.details.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DriftEvent:
        """Build the record from :meth:`to_dict`'s output."""
        kind = d["kind"]
        if kind not in ("warning", "drift"):
            raise ValueError(f"DriftEvent.from_dict: kind must be warning or drift, got {kind!r}")
        ts = d.get("timestamp")
        return cls(
            str(d["monitor"]),
            str(d["signal"]),
            kind,
            int(d["index"]),
            int(d["n_updates"]),
            None if ts is None else float(ts),
            dict(d.get("details") or {}),
        )


def _check_count(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


class Monitor:
    """One signal watched by one river drift detector, with minimum evidence.

    Each :meth:`update` feeds one value to the detector and returns the monitor's state:

    - ``"drift"`` when the detector detected a drift on this update;
    - ``"warning"`` while a detector with a warning zone (river's binary DDM/EDDM) is in
      it;
    - ``"ok"`` otherwise, and always before ``min_samples`` updates and during the
      ``grace`` updates that follow a reported drift.

    The detector sees every value, gates or not, so its reference is built during them;
    a detection inside a gate is dropped (and the detector, as river's do after any
    detection, starts a new reference: a change completed before ``min_samples`` is
    the monitor's baseline, not an alarm). A reported drift, and an entry into the warning zone (at
    most one warning event per ``grace`` updates), is recorded as a :class:`DriftEvent` in
    :attr:`last_event_`.

    Parameters
    ----------
    name
        Unique name, e.g. ``"coverage:kw@1"``.
    signal
        Short string naming what is watched (``"coverage"``, ``"accuracy"``, ...).
    detector
        A river drift detector (``river.drift.ADWIN()``, ...). It is a setting: the
        monitor works on ``detector.clone()``, never on the object passed.
    min_samples
        No warning or drift is reported before this many updates.
    grace
        No warning or drift is reported during this many updates after a reported drift
        (the detector has just reset and is rebuilding its reference); nor a second
        warning event within this many updates of the previous one.
    stride
        The detector sees one update in ``stride`` (updates ``stride``, ``2*stride``, ...);
        for detectors whose test is costly (KSWIN). Counts (``min_samples``, ``grace``,
        ``index``) stay in updates.
    chunk
        The detector sees the *sum* of each ``chunk`` consecutive updates, fed at updates
        ``chunk``, ``2*chunk``, ...: for high-rate 0/1 signals, where a detector update
        per value costs more than the labeling it watches (see :data:`RATE_CHUNK`). Counts
        (``min_samples``, ``grace``, ``index``) and event details stay in updates; a
        detection is stamped with the update that completed its chunk. Not with
        ``stride`` > 1.

    Attributes
    ----------
    detector_ : river detector
        The working clone of ``detector``.
    n_ : int
        Updates taken.
    state_ : {"ok", "warning", "drift"}
        State after the last update.
    n_drifts_, n_warnings_ : int
        Drift events / warning events reported.
    last_drift_, last_warning_ : int or None
        Update count (``n_``) at the last drift / warning event.
    last_event_ : DriftEvent or None
        The event reported by the last update, if any.

    Notes
    -----
    :meth:`update_many` is :meth:`update` over many values (same states, events and
    detector inputs); with ``chunk`` or ``stride`` > 1 and a detector without a warning
    zone it touches the detector only where it is fed, which makes it cheap per value.

    Examples
    --------
    >>> from river.drift import ADWIN
    >>> from streamlabel.drift import Monitor
    >>> m = Monitor("fraud-rate", "label_rate", ADWIN(delta=1e-5), min_samples=500)
    >>> events = []
    >>> for i in range(4_000):  # the rate goes from 0.1 to 0.5 at update 2,000
    ...     if m.update(i % (10 if i < 2_000 else 2) == 0, index=i) == "drift":
    ...         events.append(m.last_event_)
    >>> [(e.kind, e.index, e.details["mean_recent"]) for e in events]
    [('drift', 2079, 0.26)]
    >>> m.state, m.n_drifts_
    ('ok', 1)
    """

    def __init__(
        self,
        name: str,
        signal: str,
        detector: Detector,
        *,
        min_samples: int = 1000,
        grace: int = 1000,
        stride: int = 1,
        chunk: int = 1,
    ) -> None:
        self.name = name
        self.signal = signal
        self.detector = detector
        self.min_samples = min_samples
        self.grace = grace
        self.stride = stride
        self.chunk = chunk

    def _ensure_state(self) -> None:
        if not hasattr(self, "detector_"):
            self.reset()

    def reset(self) -> Monitor:
        """Check the settings and forget everything learned: a fresh detector clone."""
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty str, got {self.name!r}")
        if not isinstance(self.signal, str) or not self.signal:
            raise ValueError(f"signal must be a non-empty str, got {self.signal!r}")
        _check_count("min_samples", self.min_samples, 0)
        _check_count("grace", self.grace, 0)
        _check_count("stride", self.stride, 1)
        _check_count("chunk", self.chunk, 1)
        if self.stride > 1 and self.chunk > 1:
            raise ValueError(
                f"stride and chunk cannot both be > 1, got {self.stride}, {self.chunk}"
            )
        self.detector_: Any = self.detector.clone()
        self.n_ = 0
        self.state_: State = "ok"
        self.n_drifts_ = 0
        self.n_warnings_ = 0
        self.last_drift_: int | None = None
        self.last_warning_: int | None = None
        self.last_event_: DriftEvent | None = None
        # Inputs since the last reported drift: their sum and count, the latest in a ring.
        self._sum = 0.0
        self._count = 0
        self._recent: deque[float] = deque(maxlen=_RECENT)
        self._pending = 0.0  # sum of the current, incomplete chunk
        return self

    @property
    def state(self) -> State:
        """State after the last update (``"ok"`` before any)."""
        self._ensure_state()
        return self.state_

    @property
    def drift_detected(self) -> bool:
        """Whether the last update reported a drift (river's name)."""
        return self.state == "drift"

    @property
    def warning_detected(self) -> bool:
        """Whether the monitor is in a reported warning zone (river's name)."""
        return self.state == "warning"

    def update(
        self, x: float, *, index: int | None = None, timestamp: float | None = None
    ) -> State:
        """Feed one value; return the state it leaves the monitor in.

        Parameters
        ----------
        x
            The value (0/1 for rates, a float otherwise; ``bool`` is accepted).
        index
            The stream position to stamp on an event this update reports (e.g. the
            event count); defaults to the monitor's update count.
        timestamp
            Stamped on the event as is.
        """
        self._ensure_state()
        value = float(x)
        self.n_ += 1
        n = self.n_
        self._sum += value
        self._count += 1
        self._recent.append(value)
        det = self.detector_
        drift = False
        if self.chunk > 1:
            self._pending += value
            if n % self.chunk == 0:
                det.update(self._pending)
                self._pending = 0.0
                drift = bool(det.drift_detected)
        elif n % self.stride == 0:
            det.update(value)
            drift = bool(det.drift_detected)
        warning = not drift and bool(getattr(det, "warning_detected", False))
        armed = self._armed(n)
        state: State = "ok"
        kind: DriftKind | None = None  # the event this update reports, if any
        if armed and drift:
            state = kind = "drift"
        elif armed and warning:
            state = "warning"
            # A warning zone lasts many updates and a detector near its threshold flickers
            # in and out of it: entering it is an event at most once per `grace` updates.
            if self.state_ != "warning" and (
                self.last_warning_ is None or n - self.last_warning_ > self.grace
            ):
                kind = "warning"
        self.state_ = state
        self.last_event_ = None
        if kind is not None:
            at = n if index is None else int(index)
            self.last_event_ = DriftEvent(
                self.name, self.signal, kind, at, n, timestamp, self._details()
            )
            if kind == "drift":
                self.n_drifts_ += 1
                self.last_drift_ = n
                self._sum, self._count = 0.0, 0
                self._recent.clear()
            else:
                self.n_warnings_ += 1
                self.last_warning_ = n
        return state

    def _armed(self, n: int) -> bool:
        return n >= self.min_samples and (
            self.last_drift_ is None or n - self.last_drift_ > self.grace
        )

    def update_many(
        self,
        xs: ArrayLike,
        *,
        index: int | Sequence[int] | np.ndarray | None = None,
        timestamp: float | None = None,
    ) -> list[DriftEvent]:
        """Feed values in order, as :meth:`update` would one by one; return their events.

        Parameters
        ----------
        xs
            The values, 1-d (0/1 for rates, ``bool`` accepted).
        index
            Stream positions to stamp on events: one per value, or the position of the
            first value (the i-th gets ``index + i``); by default the update count.
        timestamp
            Stamped on every event as is.

        Notes
        -----
        With ``chunk`` or ``stride`` > 1 and a detector without a warning zone the
        detector is touched only at the updates that feed it, and the per-value
        bookkeeping is done with numpy: the cost per value is a small fraction of a
        :meth:`update` call. Otherwise it loops over :meth:`update`.
        """
        self._ensure_state()
        vals = np.asarray(xs, dtype=np.float64).reshape(-1)
        m = len(vals)
        idx: np.ndarray | None = None
        start: int | None = None
        if isinstance(index, int | np.integer):
            start = int(index)
        elif index is not None:
            idx = np.asarray(index, dtype=np.int64).reshape(-1)
            if len(idx) != m:
                raise ValueError(f"{len(idx)} indices for {m} values")
        period = max(self.chunk, self.stride)
        det = self.detector_

        def at(k: int) -> int | None:
            if idx is not None:
                return int(idx[k])
            return None if start is None else start + k

        if m == 0:
            return []
        if period == 1 or hasattr(det, "warning_detected"):
            events: list[DriftEvent] = []
            for k, x in enumerate(vals.tolist()):
                self.update(x, index=at(k), timestamp=timestamp)
                if self.last_event_ is not None:
                    events.append(self.last_event_)
            return events
        n0 = self.n_
        csum = np.cumsum(vals)
        events = []
        # Running sums since the last reported drift: before this call, or reset at `cut`.
        base_sum, base_count, cut = self._sum, self._count, -1
        last_event: DriftEvent | None = None
        # The values that feed the detector, computed at once: every `stride`-th value,
        # or each chunk's sum (the first one completes the chunk pending from before).
        fed_at = np.arange(period - n0 % period - 1, m, period)
        if self.chunk > 1:
            fed = csum[fed_at]
            fed[1:] -= fed[:-1].copy()
            if len(fed_at):
                fed[0] += self._pending
                self._pending = 0.0
            done = float(csum[fed_at[-1]]) if len(fed_at) else 0.0
            self._pending += float(csum[m - 1]) - done
        else:
            fed = vals[fed_at]
        update = det.update
        for k, x in zip(fed_at.tolist(), fed.tolist(), strict=True):
            update(x)
            if not det.drift_detected:
                continue
            n = n0 + k + 1
            if not self._armed(n):
                continue
            # A reported drift: its details are what `update` would have kept.
            since = csum[k] - (csum[cut] if cut >= 0 else 0.0)
            count = k - cut
            recent = vals[max(cut + 1, k + 1 - _RECENT) : k + 1].tolist()
            if cut < 0 and len(recent) < _RECENT:
                recent = list(self._recent)[len(recent) - _RECENT :] + recent
            if cut < 0:
                since, count = since + base_sum, count + base_count
            stamp = at(k)
            event = DriftEvent(
                self.name,
                self.signal,
                "drift",
                n if stamp is None else stamp,
                n,
                timestamp,
                self._details(float(since), count, recent),
            )
            events.append(event)
            self.n_drifts_ += 1
            self.last_drift_ = n
            cut = k
            if k == m - 1:
                last_event = event
        if cut < 0:
            self._sum = base_sum + float(csum[m - 1])
            self._count = base_count + m
        else:
            self._sum = float(csum[m - 1] - csum[cut])
            self._count = m - 1 - cut
            self._recent.clear()
        self._recent.extend(vals[max(cut + 1, m - _RECENT) :].tolist())
        self.n_ = n0 + m
        self.last_event_ = last_event
        self.state_ = "drift" if last_event is not None else "ok"
        return events

    def _details(
        self, total: float | None = None, count: int = 0, recent: Sequence[float] = ()
    ) -> dict[str, float | int | None]:
        if total is None:  # the monitor's own running state
            total, count, recent = self._sum, self._count, self._recent
        n_recent = len(recent)
        recent_sum = math.fsum(recent)
        n_before = count - n_recent
        return {
            "mean_before": (total - recent_sum) / n_before if n_before > 0 else None,
            "mean_recent": recent_sum / n_recent if n_recent else None,
            "n_before": n_before,
            "n_recent": n_recent,
        }

    def __repr__(self) -> str:
        return (
            f"Monitor({self.name!r}, {self.signal!r}, {self.detector!r}, "
            f"min_samples={self.min_samples}, grace={self.grace}, stride={self.stride}, "
            f"chunk={self.chunk})"
        )


# The factories import river when called: `import river.drift` runs the package's
# __init__, which loads river.datasets and, when installed, scikit-learn and pandas
# (~5 s on the 2-core dev box), a cost `import streamlabel.drift` should not impose.
# Names are imported one by one: `from river.drift import *` fails in river 0.26.1 (its
# __all__ lists PeriodicTrigger, which does not exist).

#: ADWIN's significance for 0/1 rates. river's default (0.002) raised a false alarm on
#: one of 12 stationary streams of 1M values; 1e-5 raised none and adds ~30-100 events
#: of delay on the shifts tested (ADWIN checks every 32 updates, its default clock).
ADWIN_DELTA: Final = 1e-5

#: Values per detector update of the 0/1 rate monitors (coverage, agreement,
#: disagreement): their ADWIN sees the count of ones in each chunk of 16 values and checks
#: for a cut every 2 chunks (``clock=2``), i.e. every 32 values as the per-value ADWIN
#: did (river's clock of 32). Why it is the same test: river's cut bound,
#: ``sqrt(2 var m d) + 2/3 d m`` with ``m = 1/n0 + 1/n1``, is in the units of its inputs;
#: fed sums of ``c`` values, ``m`` scales by ``c``, the variance of an input by ``c``
#: (``c p (1 - p)``, estimated across chunks) and the mean difference by ``c``, so both
#: sides scale by ``c``: the per-value test of the rates, evaluated at chunk boundaries
#: only (fewer cut points, coarser ones further back in ADWIN's buckets), with
#: ``min_window_length`` one chunk (16 values; it was 5) and ``d = ln(2 ln(width) /
#: delta)`` counting chunks (~2% smaller). Measured: the same delays to ~+60 values
#: (chunks of 32 added up to ~130) and no false alarm on stationary streams (see
#: ``docs/architecture.md``), at 1/16 of the detector updates; the per-value work left
#: is numpy bookkeeping in :meth:`Monitor.update_many`.
RATE_CHUNK: Final = 16


def _adwin(chunk: int = 1) -> Detector:
    from river.drift import ADWIN

    if chunk == 1:
        return ADWIN(delta=ADWIN_DELTA)  # type: ignore[no-untyped-call]  # river: no annotations
    # A check every 32 values, as the per-value ADWIN's clock; subwindows of >= 1 chunk.
    return ADWIN(  # type: ignore[no-untyped-call]
        delta=ADWIN_DELTA, clock=max(1, round(32 / chunk)), min_window_length=1
    )


def coverage_monitor(
    lf: str, *, min_samples: int = 1000, grace: int = 1000, chunk: int = RATE_CHUNK
) -> Monitor:
    """Watch an LF's firing rate: one update per event, 1 if the LF voted, else 0.

    ADWIN (``delta=1e-5``): a 0/1 mean, no scale to tune, variance-aware bound, fed the
    count of each ``chunk`` (16) of events (:data:`RATE_CHUNK`; ``chunk=1``: every
    value). A fall 0.3 -> 0.05 is found 150-215 events later (10 seeds; the same
    with ``chunk=1``).

    Examples
    --------
    >>> from streamlabel.drift import coverage_monitor
    >>> m = coverage_monitor("kw@1")
    >>> m.name, m.signal, m.update(1), m.chunk
    ('coverage:kw@1', 'coverage', 'ok', 16)
    """
    return Monitor(
        f"coverage:{lf}",
        "coverage",
        _adwin(chunk),
        min_samples=min_samples,
        grace=grace,
        chunk=chunk,
    )


def disagreement_monitor(
    name: str = "disagreement",
    *,
    min_samples: int = 1000,
    grace: int = 1000,
    chunk: int = RATE_CHUNK,
) -> Monitor:
    """Watch how often the label model and the serving model disagree: 0/1 per event.

    ADWIN (``delta=1e-5``) over chunks of 16 events, as for coverage. A rise 0.05 -> 0.3
    is found 90-120 events later.

    Examples
    --------
    >>> from streamlabel.drift import disagreement_monitor
    >>> disagreement_monitor().signal
    'disagreement'
    """
    return Monitor(
        name, "disagreement", _adwin(chunk), min_samples=min_samples, grace=grace, chunk=chunk
    )


def agreement_monitor(
    lf: str, *, min_samples: int = 1000, grace: int = 1000, chunk: int = RATE_CHUNK
) -> Monitor:
    """Watch how often an LF's vote agrees with the emitted label: 0/1 per vote it casts.

    A label-free proxy of the LF's accuracy, fed only when the LF votes. ADWIN
    (``delta=1e-5``) over chunks of 16 votes, as for coverage: a 0/1 mean.

    Examples
    --------
    >>> from streamlabel.drift import agreement_monitor
    >>> m = agreement_monitor("kw@1")
    >>> m.name, m.signal
    ('agreement:kw@1', 'agreement')
    """
    return Monitor(
        f"agreement:{lf}",
        "agreement",
        _adwin(chunk),
        min_samples=min_samples,
        grace=grace,
        chunk=chunk,
    )


def accuracy_monitor(lf: str, *, min_samples: int = 1000, grace: int = 1000) -> Monitor:
    """Watch an LF's estimated accuracy: one float in [0, 1] per update.

    Page-Hinkley, ``delta=0.02`` (changes of the mean below 2 points are tolerated),
    ``threshold=10``, ``alpha=1`` (no fading: the classic cumulative test; with river's
    default fading, 0.9999, the faded sums hover at ``-delta / (1 - alpha)`` and their
    running range keeps growing: 1-5 false alarms per 100k values at these settings).
    Built for estimates, not 0/1 outcomes (use :func:`gold_error_monitor` for those):
    no false alarm on 100k stationary values with noise sd 0.05 to 0.2 (10 seeds each);
    a drop of 0.35 is found ~30 updates later, 0.1 ~130, 0.05 ~350 (sd 0.05).

    Examples
    --------
    >>> from streamlabel.drift import accuracy_monitor
    >>> m = accuracy_monitor("kw@1", min_samples=100)
    >>> _ = [m.update(0.9) for _ in range(200)]
    >>> [m.update(0.5) for _ in range(30)].count("drift")
    1
    """
    from river.drift import PageHinkley

    return Monitor(
        f"accuracy:{lf}",
        "accuracy",
        PageHinkley(min_instances=30, delta=0.02, threshold=10.0, alpha=1.0),
        min_samples=min_samples,
        grace=grace,
    )


def feature_monitor(
    feature: str, *, scale: float = 1.0, min_samples: int = 1000, grace: int = 1000
) -> Monitor:
    """Watch the mean of an input feature: one float per event.

    Page-Hinkley in units of ``scale`` (pass the feature's standard deviation):
    ``delta=0.15 * scale`` (shifts below 0.15 sd are tolerated), ``threshold=50 * scale``,
    ``alpha=1`` (no fading, see :func:`accuracy_monitor`). The test is scale-equivariant,
    so scaling its settings equals standardising the input. On a Gaussian feature: no
    false alarm in 100k events (20 seeds; 5-6 per 100k with river's default fading); a
    1 sd shift is found 45-70 events later, 0.5 sd 100-190, 0.25 sd 200-1,850.
    Heavy-tailed features (amounts) should be log-transformed first.

    Examples
    --------
    >>> from streamlabel.drift import feature_monitor
    >>> m = feature_monitor("amount_log", scale=1.3)
    >>> m.name, m.detector.threshold
    ('feature:amount_log', 65.0)
    """
    if not (isinstance(scale, int | float) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    from river.drift import PageHinkley

    return Monitor(
        f"feature:{feature}",
        "feature",
        PageHinkley(min_instances=30, delta=0.15 * scale, threshold=50.0 * scale, alpha=1.0),
        min_samples=min_samples,
        grace=grace,
    )


def score_monitor(
    name: str = "score",
    *,
    stride: int = 10,
    seed: int | None = 0,
    min_samples: int = 1000,
    grace: int = 1000,
) -> Monitor:
    """Watch the distribution of prediction scores (floats in [0, 1]).

    KSWIN (two-sample Kolmogorov-Smirnov over a sliding window): ``window_size=450``,
    ``stat_size=150``, ``alpha=1e-8``, fed one score in ``stride`` (10). Why the stride:
    each KSWIN update runs scipy's ``ks_2samp`` (~0.4 ms whatever the sizes), more than
    labeling an event costs; one in 10 costs ~50 µs per event. Thinning an i.i.d. stream
    keeps its distribution, and the windows then span 4,500 / 1,500 events. ``alpha`` is
    tiny because KSWIN tests on every update it sees (10,000 tests per 100k events; at
    ``1e-6`` one of 24 stationary streams alarmed, at ``1e-8`` none of 18). Beta(2, 5)
    -> Beta(3, 3) (mean 0.29 -> 0.5, KS distance 0.45) is found 650-1,150 events later;
    Beta(2, 5) -> Beta(2, 3) (distance 0.24) is mostly missed (2 of 6 found, ~1,500).

    Examples
    --------
    >>> from streamlabel.drift import score_monitor
    >>> m = score_monitor()
    >>> m.stride, m.detector.window_size, m.detector.stat_size
    (10, 450, 150)
    """
    from river.drift import KSWIN

    return Monitor(
        name,
        "score",
        KSWIN(alpha=1e-8, window_size=450, stat_size=150, seed=seed),
        min_samples=min_samples,
        grace=grace,
        stride=stride,
    )


def gold_error_monitor(
    name: str = "gold_error", *, min_samples: int = 1000, grace: int = 1000
) -> Monitor:
    """Watch the serving model's error against late gold labels: 1 = wrong, 0 = right.

    DDM (``warm_start=1000``, ``warning_threshold=4``, ``drift_threshold=5``): river's
    defaults (30, 2, 3) raised ~1 false alarm per 100k stationary labels, mostly when the
    minimum ``p + s`` was set by a lucky early run; a longer warm start and 5 sd raised
    none on 240 streams of 100k (error rates 0.05 and 0.2). DDM's statistics are
    cumulative since its last reset, so its delay grows with the history: a rise
    0.05 -> 0.3 is found a median ~280 (up to ~560) labels later after 5k stationary
    labels, ~900 (up to ~3,900) after 50k. EDDM was rejected: ~35 false alarms per 100k at its
    defaults, ~4 with ``alpha=0.85, beta=0.8``.

    Examples
    --------
    >>> from streamlabel.drift import gold_error_monitor
    >>> m = gold_error_monitor()
    >>> m.signal, m.detector.drift_threshold
    ('gold_error', 5.0)
    """
    from river.drift.binary import DDM

    return Monitor(
        name,
        "gold_error",
        DDM(warm_start=1000, warning_threshold=4.0, drift_threshold=5.0),
        min_samples=min_samples,
        grace=grace,
    )
