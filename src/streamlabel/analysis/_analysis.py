"""Running labeling-function diagnostics over a vote stream.

Snorkel's ``LFAnalysis`` vocabulary (coverage, overlaps, conflicts, polarity, empirical
accuracy), kept as integer counters so it can run forever, cover LF sets that change while the
stream runs, and merge across partitions. Besides the all-time figures it keeps exact figures
for the last ``window`` rows.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["LFAnalysis", "LFStats", "OverallStats", "SupportsLFAccuracies"]

from streamlabel._constants import ABSTAIN as _ABSTAIN

# Column layout of the per-LF counter matrix; the label counts follow at ``_LABELS``.
_ACTIVE, _FIRED, _OVERLAP, _CONFLICT, _GOLD, _CORRECT = range(6)
_LABELS = 6
# Row-level (overall) counters.
_ROWS, _COVERED, _OVERLAPPED, _CONFLICTED = range(4)

_I64 = NDArray[np.int64]


class SupportsLFAccuracies(Protocol):
    """A label model that reports its estimate of each LF's accuracy."""

    def lf_accuracies(self) -> Mapping[str, float]:
        """Return P(vote correct | LF fires) keyed by LF id."""
        ...


@dataclass(frozen=True)
class LFStats:
    """Diagnostics of one labeling function (one row of :meth:`LFAnalysis.summary`).

    Fractions are over the rows in which the LF was *active* (listed in ``lf_ids`` or a key of
    ``votes``); with a fixed LF set that is every row, as in Snorkel.

    Attributes
    ----------
    lf : str
        LF id.
    polarity : tuple of int
        Sorted labels the LF has emitted.
    coverage : float
        Fraction of active rows where the LF voted.
    overlaps : float
        Fraction of active rows where it voted and at least one other LF voted.
    conflicts : float
        Fraction of active rows where it voted and another LF voted a different label.
    correct, incorrect : int
        Votes equal to / different from the gold label, over rows with known gold.
    emp_acc : float
        ``correct / (correct + incorrect)``; NaN without gold.
    est_acc : float
        Accuracy estimated by the label model passed to ``summary``; NaN if none.
    n_active, n_fired, n_gold : int
        Active rows, rows voted, rows voted with known gold.
    """

    lf: str
    polarity: tuple[int, ...]
    coverage: float
    overlaps: float
    conflicts: float
    correct: int
    incorrect: int
    emp_acc: float
    est_acc: float
    n_active: int
    n_fired: int
    n_gold: int


@dataclass(frozen=True)
class OverallStats:
    """Row-level diagnostics over all LFs (Snorkel's ``label_coverage`` and friends).

    Attributes
    ----------
    n_rows : int
        Rows seen.
    coverage : float
        Fraction of rows with at least one vote.
    overlap : float
        Fraction of rows with at least two votes.
    conflict : float
        Fraction of rows whose votes disagree (at least two distinct labels).
    """

    n_rows: int
    coverage: float
    overlap: float
    conflict: float


@dataclass
class _Block:
    """Raw rows kept for the recent window, and their counters (local column order)."""

    L: _I64
    y: _I64
    cols: NDArray[np.intp]  # global LF index of each column of L
    rows: _I64  # overall counters, shape (4,)
    per_lf: _I64  # shape (len(cols), 6 + cardinality)

    @property
    def n(self) -> int:
        return int(self.L.shape[0])


def _count(L: _I64, y: _I64, cardinality: int) -> tuple[_I64, _I64]:
    """Count the additive statistics of a block of rows (all columns active)."""
    n, m = L.shape
    per_lf = np.zeros((m, _LABELS + cardinality), dtype=np.int64)
    per_lf[:, _ACTIVE] = n
    if n == 0 or m == 0:
        return np.array([n, 0, 0, 0], dtype=np.int64), per_lf
    fired = L != _ABSTAIN
    k = np.count_nonzero(fired, axis=1)
    multi = k >= 2
    # A row conflicts iff its smallest and largest vote differ; abstain (-1) is below every
    # label so the plain max is the largest vote, and the min ignores abstains via `cardinality`.
    vmax = L.max(axis=1)
    vmin = np.where(fired, L, cardinality).min(axis=1)
    conflicted = multi & (vmax != vmin)
    per_lf[:, _FIRED] = np.count_nonzero(fired, axis=0)
    per_lf[:, _OVERLAP] = np.count_nonzero(fired[multi], axis=0)
    per_lf[:, _CONFLICT] = np.count_nonzero(fired[conflicted], axis=0)
    known = y != _ABSTAIN
    if known.any():
        Lk = L[known]
        per_lf[:, _GOLD] = np.count_nonzero(Lk != _ABSTAIN, axis=0)
        # Gold is never -1 here, so equality implies the LF fired.
        per_lf[:, _CORRECT] = np.count_nonzero(Lk == y[known, None], axis=0)
    # Votes per (LF, label) in one pass: shift labels by one so abstain lands in bin 0.
    flat = (L + 1) + (cardinality + 1) * np.arange(m, dtype=np.int64)
    per_lf[:, _LABELS:] = np.bincount(flat.ravel(), minlength=m * (cardinality + 1)).reshape(
        m, cardinality + 1
    )[:, 1:]
    rows = np.array(
        [n, np.count_nonzero(k), np.count_nonzero(multi), np.count_nonzero(conflicted)],
        dtype=np.int64,
    )
    return rows, per_lf


def _ratio(num: int, den: int) -> float:
    return num / den if den else math.nan


def _jsonable(v: Any) -> Any:
    if isinstance(v, float):
        return None if math.isnan(v) else v  # NaN is not valid JSON; None becomes null
    return list(v) if isinstance(v, tuple) else v


class LFAnalysis:
    """Running LF diagnostics: coverage, overlaps, conflicts, polarity and accuracy.

    Counters are integers keyed by LF id, so analyses of different partitions can be merged
    exactly. LFs may appear and retire mid-stream: a new id gets fresh counters, a retired
    id keeps its all-time figures and drops out of the recent window as its rows age out.

    Parameters
    ----------
    cardinality : int
        Number of classes; votes and gold labels lie in ``-1..cardinality-1`` (``-1`` =
        abstain / unknown gold).
    window : int, default 1000
        The recent window covers exactly the last ``window`` rows. Memory is bounded by
        ``window`` rows of raw votes.

    Attributes
    ----------
    lf_ids_ : list of str
        LF ids seen so far, in order of first appearance.
    n_rows_ : int
        Rows seen so far.

    Examples
    --------
    >>> import numpy as np
    >>> a = LFAnalysis(cardinality=2, window=1)
    >>> L = np.array([[1, 1, -1], [1, 0, -1], [-1, -1, 0]])
    >>> a.update_many(L, ["kw@1", "regex@1", "short@1"], y=[1, 0, -1])
    >>> [(s.lf, s.polarity, round(s.coverage, 3), s.conflicts, s.emp_acc) for s in a.summary()]
    [('kw@1', (1,), 0.667, 0.333..., 0.5), ('regex@1', (0, 1), 0.667, 0.333..., 1.0),
     ('short@1', (0,), 0.333, 0.0, nan)]
    >>> a.update_one({"kw@1": 1, "new@1": 1}, y=1)  # regex@1 and short@1 retired
    >>> a.overall(window=True)
    OverallStats(n_rows=1, coverage=1.0, overlap=1.0, conflict=0.0)
    >>> [s.lf for s in a.summary(window=True)], a.lf_ids_
    (['kw@1', 'new@1'], ['kw@1', 'regex@1', 'short@1', 'new@1'])
    """

    def __init__(self, cardinality: int, window: int = 1000) -> None:
        if cardinality < 1:
            raise ValueError(f"cardinality must be >= 1, got {cardinality}")
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.cardinality = cardinality
        self.window = window

    # -- state ---------------------------------------------------------------------------

    def _ensure_state(self) -> None:
        # State is created on first use so that __init__ only stores settings.
        if "_index" in self.__dict__:
            return
        width = _LABELS + self.cardinality
        self._index: dict[str, int] = {}
        self._lf_ids: list[str] = []
        self._rows: _I64 = np.zeros(4, dtype=np.int64)
        self._per_lf: _I64 = np.zeros((0, width), dtype=np.int64)
        self._win_rows: _I64 = np.zeros(4, dtype=np.int64)
        self._win_per_lf: _I64 = np.zeros((0, width), dtype=np.int64)
        self._blocks: deque[_Block] = deque()

    @property
    def lf_ids_(self) -> list[str]:
        """LF ids seen so far, in order of first appearance."""
        return list(self._lf_ids) if "_lf_ids" in self.__dict__ else []

    @property
    def n_rows_(self) -> int:
        """Rows seen so far."""
        return int(self._rows[_ROWS]) if "_rows" in self.__dict__ else 0

    def _register(self, lf_ids: Sequence[str]) -> NDArray[np.intp]:
        new = [i for i in lf_ids if i not in self._index]
        if new:
            for lf in new:
                self._index[lf] = len(self._lf_ids)
                self._lf_ids.append(lf)
            pad = np.zeros((len(new), self._per_lf.shape[1]), dtype=np.int64)
            self._per_lf = np.vstack([self._per_lf, pad])
            self._win_per_lf = np.vstack([self._win_per_lf, pad])
        return np.array([self._index[i] for i in lf_ids], dtype=np.intp)

    # -- updates -------------------------------------------------------------------------

    def update_many(self, L: ArrayLike, lf_ids: Sequence[str], y: ArrayLike | None = None) -> None:
        """Add a block of rows.

        Parameters
        ----------
        L : array-like of int, shape (n, m)
            Votes; ``-1`` = abstain. Column ``j`` holds LF ``lf_ids[j]``.
        lf_ids : sequence of str
            Distinct LF ids; these LFs count as active in every row of the block.
        y : array-like of int, shape (n,), optional
            Gold labels, ``-1`` where unknown.
        """
        self._ensure_state()
        L_arr, y_arr, ids = self._validate(L, lf_ids, y)
        cols = self._register(ids)
        n = L_arr.shape[0]
        if n == 0:
            return
        rows, per_lf = _count(L_arr, y_arr, self.cardinality)
        self._rows += rows
        self._per_lf[cols] += per_lf
        # Only the block's last `window` rows can be in the window; reuse the counts if whole.
        if n > self.window:
            L_arr, y_arr = L_arr[-self.window :], y_arr[-self.window :]
            rows, per_lf = _count(L_arr, y_arr, self.cardinality)
        # Copy: the caller may reuse its buffers, and evictions re-count these rows later.
        self._push(_Block(L_arr.copy(), y_arr.copy(), cols, rows, per_lf))

    def update_one(self, votes: Mapping[str, int], y: int | None = None) -> None:
        """Add one row.

        Parameters
        ----------
        votes : mapping of str to int
            LF id -> vote. Every key counts as active in this row, including ``-1`` votes;
            pass the abstains of the LFs that ran so that coverage is measured against them.
        y : int, optional
            Gold label; None or ``-1`` when unknown.
        """
        # Pure-Python counting: for one row it is several times faster than the numpy path.
        ids = [str(i) for i in votes]
        vals = [int(v) for v in votes.values()]
        gold = _ABSTAIN if y is None else int(y)
        top = self.cardinality - 1
        if any(v < _ABSTAIN or v > top for v in vals) or not _ABSTAIN <= gold <= top:
            raise ValueError(f"votes and gold labels must lie in -1..{top}")
        self._ensure_state()
        cols = self._register(ids)
        fired = [v for v in vals if v != _ABSTAIN]
        multi = len(fired) >= 2
        conflicted = multi and min(fired) != max(fired)
        known = gold != _ABSTAIN
        rows = np.array([1, len(fired) > 0, multi, conflicted], dtype=np.int64)
        per_lf = np.zeros((len(vals), _LABELS + self.cardinality), dtype=np.int64)
        per_lf[:, _ACTIVE] = 1
        for j, v in enumerate(vals):
            if v != _ABSTAIN:
                per_lf[j, _FIRED : _GOLD + 1] = (1, multi, conflicted, known)
                per_lf[j, _CORRECT] = v == gold
                per_lf[j, _LABELS + v] = 1
        L = np.array([vals], dtype=np.int64).reshape(1, len(vals))
        self._rows += rows
        self._per_lf[cols] += per_lf
        self._push(_Block(L, np.array([gold], dtype=np.int64), cols, rows, per_lf))

    def _validate(
        self, L: ArrayLike, lf_ids: Sequence[str], y: ArrayLike | None
    ) -> tuple[_I64, _I64, list[str]]:
        arr = np.asarray(L)
        if isinstance(lf_ids, str):
            raise TypeError("lf_ids must be a sequence of LF ids, not one string")
        ids = [str(i) for i in lf_ids]
        if arr.size == 0 and arr.ndim < 2:  # e.g. [] for "no rows"
            arr = arr.reshape(0, len(ids))
        if arr.ndim != 2 or arr.shape[1] != len(ids):
            raise ValueError(f"L must have shape (n, {len(ids)}), got {arr.shape}")
        if arr.dtype.kind not in "iu" and arr.size:
            raise TypeError(f"L must hold integers, got dtype {arr.dtype}")
        if len(set(ids)) != len(ids):
            raise ValueError("lf_ids must be distinct")
        n = arr.shape[0]
        if y is None:
            y_arr = np.full(n, _ABSTAIN, dtype=np.int64)
        else:
            y_raw = np.asarray(y)
            if y_raw.shape != (n,):
                raise ValueError(f"y must have shape ({n},), got {y_raw.shape}")
            if y_raw.dtype.kind not in "iu" and y_raw.size:
                raise TypeError(f"y must hold integers, got dtype {y_raw.dtype}")
            y_arr = y_raw.astype(np.int64, copy=False)
        L_arr = arr.astype(np.int64, copy=False)
        top = self.cardinality - 1
        for what, a in (("votes", L_arr), ("gold labels", y_arr)):
            if a.size and (a.min() < _ABSTAIN or a.max() > top):
                raise ValueError(f"{what} must lie in -1..{top}")
        return L_arr, y_arr, ids

    def _push(self, block: _Block) -> None:
        self._blocks.append(block)
        self._win_rows += block.rows
        self._win_per_lf[block.cols] += block.per_lf
        excess = int(self._win_rows[_ROWS]) - self.window
        while excess > 0:
            old = self._blocks[0]
            if old.n <= excess:
                self._blocks.popleft()
                out_rows, out_per_lf = old.rows, old.per_lf
                excess -= old.n
            else:
                # Part of the oldest block ages out: count that prefix and keep the rest.
                out_rows, out_per_lf = _count(old.L[:excess], old.y[:excess], self.cardinality)
                self._blocks[0] = _Block(
                    old.L[excess:].copy(),  # copy so a view does not pin a large array
                    old.y[excess:].copy(),
                    old.cols,
                    old.rows - out_rows,
                    old.per_lf - out_per_lf,
                )
                excess = 0
            self._win_rows -= out_rows
            self._win_per_lf[old.cols] -= out_per_lf

    def merge(self, other: LFAnalysis) -> LFAnalysis:
        """Add another analysis's counters into this one, in place.

        All-time figures become the sums. The recent window becomes exactly what it would be
        had this analysis seen ``other``'s rows after its own.

        Parameters
        ----------
        other : LFAnalysis
            An analysis with the same cardinality and a window at least as long.

        Returns
        -------
        LFAnalysis
            ``self``.

        Examples
        --------
        >>> a, b = LFAnalysis(2), LFAnalysis(2)
        >>> a.update_one({"x@1": 1, "y@1": -1}, y=1)
        >>> b.update_one({"y@1": 0}, y=1)
        >>> [(s.lf, s.coverage, s.correct, s.incorrect) for s in a.merge(b).summary()]
        [('x@1', 1.0, 1, 0), ('y@1', 0.5, 0, 1)]
        """
        if other.cardinality != self.cardinality:
            raise ValueError(
                f"cannot merge analyses of cardinality {other.cardinality} and {self.cardinality}"
            )
        if other.window < self.window:
            # Its window may have dropped rows that belong in ours; the result would be inexact.
            raise ValueError(f"cannot merge a window of {other.window} into one of {self.window}")
        self._ensure_state()
        if "_index" not in other.__dict__:
            return self
        blocks = list(other._blocks)  # snapshot first: `other` may be `self`
        other_ids, other_rows, other_per_lf = list(other._lf_ids), other._rows, other._per_lf
        cols = self._register(other_ids)
        self._rows = self._rows + other_rows
        self._per_lf[cols] += other_per_lf
        for b in blocks:
            remapped = cols[b.cols]
            self._push(_Block(b.L, b.y, remapped, b.rows.copy(), b.per_lf.copy()))
        return self

    # -- reports -------------------------------------------------------------------------

    def overall(self, window: bool = False) -> OverallStats:
        """Row-level coverage, overlap and conflict over all LFs.

        Parameters
        ----------
        window : bool, default False
            Report the recent window instead of all time.

        Returns
        -------
        OverallStats
        """
        self._ensure_state()
        r = self._win_rows if window else self._rows
        n = int(r[_ROWS])
        return OverallStats(
            n_rows=n,
            coverage=_ratio(int(r[_COVERED]), n),
            overlap=_ratio(int(r[_OVERLAPPED]), n),
            conflict=_ratio(int(r[_CONFLICTED]), n),
        )

    def summary(
        self, window: bool = False, label_model: SupportsLFAccuracies | None = None
    ) -> list[LFStats]:
        """Per-LF diagnostics, like Snorkel's ``LFAnalysis.lf_summary``.

        Parameters
        ----------
        window : bool, default False
            Report the recent window (only LFs active in it) instead of all time.
        label_model : object with ``lf_accuracies() -> dict[str, float]``, optional
            Source of the ``est_acc`` column; NaN where absent.

        Returns
        -------
        list of LFStats
            One row per LF, in order of first appearance.
        """
        self._ensure_state()
        per_lf = self._win_per_lf if window else self._per_lf
        est: Mapping[str, float] = label_model.lf_accuracies() if label_model is not None else {}
        out: list[LFStats] = []
        for lf, c in zip(self._lf_ids, per_lf.tolist(), strict=True):
            active, fired, gold, correct = c[_ACTIVE], c[_FIRED], c[_GOLD], c[_CORRECT]
            if window and active == 0:
                continue
            out.append(
                LFStats(
                    lf=lf,
                    polarity=tuple(j for j, v in enumerate(c[_LABELS:]) if v),
                    coverage=_ratio(fired, active),
                    overlaps=_ratio(c[_OVERLAP], active),
                    conflicts=_ratio(c[_CONFLICT], active),
                    correct=correct,
                    incorrect=gold - correct,
                    emp_acc=_ratio(correct, gold),
                    est_acc=float(est.get(lf, math.nan)),
                    n_active=active,
                    n_fired=fired,
                    n_gold=gold,
                )
            )
        return out

    def to_dict(self, label_model: SupportsLFAccuracies | None = None) -> dict[str, Any]:
        """All-time and recent-window diagnostics as a JSON-able dict (NaN becomes None).

        Parameters
        ----------
        label_model : object with ``lf_accuracies()``, optional
            Source of ``est_acc``.

        Returns
        -------
        dict
            ``{"cardinality", "window", "all_time": {"overall", "lfs"}, "recent": {...}}``.

        Examples
        --------
        >>> import json
        >>> a = LFAnalysis(2)
        >>> a.update_one({"kw@1": 1}, y=0)
        >>> d = a.to_dict()
        >>> d["all_time"]["lfs"][0]["emp_acc"], d["recent"]["overall"]["n_rows"]
        (0.0, 1)
        >>> _ = json.dumps(d, allow_nan=False)
        """

        def clean(obj: dict[str, Any]) -> dict[str, Any]:
            return {k: _jsonable(v) for k, v in obj.items()}

        def part(window: bool) -> dict[str, Any]:
            return {
                "overall": clean(asdict(self.overall(window))),
                "lfs": [clean(asdict(s)) for s in self.summary(window, label_model)],
            }

        return {
            "cardinality": self.cardinality,
            "window": self.window,
            "all_time": part(False),
            "recent": part(True),
        }

    def to_table(
        self, window: bool | None = None, label_model: SupportsLFAccuracies | None = None
    ) -> str:
        """Fixed-width table of :meth:`summary`, like Snorkel's ``lf_summary``.

        Parameters
        ----------
        window : bool or None, default None
            None prints the all-time section and then the recent window; True or False
            prints just one.
        label_model : object with ``lf_accuracies()``, optional
            Source of the ``est_acc`` column.

        Returns
        -------
        str

        Examples
        --------
        >>> a = LFAnalysis(2, window=10)
        >>> a.update_many([[1, 0], [1, -1]], ["kw@1", "short@1"], y=[1, 1])
        >>> print(a.to_table(window=False))
        all time: 2 rows, coverage 1.000, overlap 0.500, conflict 0.500
        lf       polarity  coverage  overlaps  conflicts  correct  incorrect  emp_acc  est_acc
        kw@1     [1]          1.000     0.500      0.500        2          0    1.000        -
        short@1  [0]          0.500     0.500      0.500        0          1    0.000        -
        """
        windows = (False, True) if window is None else (window,)
        sections = [self._section(w, label_model) for w in windows]
        return "\n\n".join(sections)

    def _section(self, window: bool, label_model: SupportsLFAccuracies | None) -> str:
        o = self.overall(window)
        title = f"recent window (last {self.window})" if window else "all time"
        head = (
            f"{title}: {o.n_rows} rows, coverage {_fmt(o.coverage)}, "
            f"overlap {_fmt(o.overlap)}, conflict {_fmt(o.conflict)}"
        )
        names = (
            "lf",
            "polarity",
            "coverage",
            "overlaps",
            "conflicts",
            "correct",
            "incorrect",
            "emp_acc",
            "est_acc",
        )
        body = [
            [
                s.lf,
                "[" + ", ".join(map(str, s.polarity)) + "]",
                _fmt(s.coverage),
                _fmt(s.overlaps),
                _fmt(s.conflicts),
                str(s.correct),
                str(s.incorrect),
                _fmt(s.emp_acc),
                _fmt(s.est_acc),
            ]
            for s in self.summary(window, label_model)
        ]
        widths = [max(len(r[j]) for r in [list(names), *body]) for j in range(len(names))]

        def line(cells: Sequence[str]) -> str:
            # Text columns (lf, polarity) left-aligned, numbers right-aligned.
            parts = [
                c.ljust(w) if j < 2 else c.rjust(w)
                for j, (c, w) in enumerate(zip(cells, widths, strict=True))
            ]
            return "  ".join(parts).rstrip()

        return "\n".join([head, line(names), *(line(r) for r in body)])


def _fmt(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.3f}"
