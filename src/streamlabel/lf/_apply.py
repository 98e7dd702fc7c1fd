"""The LF applier: votes of a set of LFs on one event or on a batch, fault-tolerant."""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from streamlabel.lf._compile import CompiledBatch, DeclarativeLF, as_row, as_rows
from streamlabel.lf._core import ABSTAIN, LabelingFunction
from streamlabel.lf._lfset import LF, LFSet

__all__ = ["LFApplier", "LFReport"]

_INT_TYPES = frozenset({int})
#: The largest label an int64 vote matrix can hold.
_MAX_LABEL = int(np.iinfo(np.int64).max)


@dataclass(frozen=True, slots=True)
class LFReport:
    """One event an LF could not vote on.

    Attributes
    ----------
    position : int
        Index of the event among all events this applier has seen.
    index : int
        Index of the event in its batch (0 for ``apply_one``).
    lf_id : str
        The LF concerned.
    kind : {"invalid", "fault"}
        ``"invalid"``: the event lacks a field the LF needs or has the wrong type there;
        ``"fault"``: the LF raised or returned something that is not a label.
    reason : str
        Human-readable reason.
    """

    position: int
    index: int
    lf_id: str
    kind: Literal["invalid", "fault"]
    reason: str


def _classify(lf: LabelingFunction, exc: BaseException) -> tuple[Literal["invalid", "fault"], str]:
    """Whether an exception from a code LF means a bad event (invalid) or a bad LF (fault)."""
    if lf.fields:
        if isinstance(exc, KeyError) and exc.args and exc.args[0] in lf.fields:
            return "invalid", f"missing field {exc.args[0]!r}"
        if isinstance(exc, AttributeError) and getattr(exc, "name", None) in lf.fields:
            return "invalid", f"missing field {exc.name!r}"
        if isinstance(exc, TypeError):
            return "invalid", f"wrong type in fields {list(lf.fields)}: {exc}"
    return "fault", f"{type(exc).__name__}: {exc}"


class LFApplier:
    """Apply labeling functions to events, one at a time or in batches.

    Code LFs run column by column (one LF over the whole batch inside one ``try``), falling
    back to a per-event ``try`` only for the chunk where an LF raised. Declarative LFs run
    through one :class:`CompiledBatch`. An LF that raises or returns a non-label votes
    ``ABSTAIN`` for that event and counts a fault; an event missing a field an LF needs (or
    holding the wrong type) makes that LF abstain and counts as invalid. Nothing stops a
    batch.

    Parameters
    ----------
    lfs
        An :class:`LFSet` or a sequence of LFs (code and declarative mixed).
    cardinality
        Number of classes, to check the votes of code LFs; taken from the set when ``lfs``
        is an :class:`LFSet`. ``None`` accepts any int >= -1.
    max_reports
        Length of the ``reports_`` deque (most recent reports kept).
    chunk_size
        Events per chunk of a code LF's column: the most work redone when an LF raises.

    Attributes
    ----------
    lf_ids_ : tuple of str
        LF ids in column order.
    fault_counts_ : dict of str to int
        Per LF id, events on which the LF raised or returned a non-label.
    invalid_counts_ : dict of str to int
        Per LF id, events that lacked a needed field or had the wrong type there.
    reports_ : collections.deque of LFReport
        The most recent faults and invalid events.
    n_events_ : int
        Events seen so far.

    Examples
    --------
    >>> from streamlabel.lf import ABSTAIN, LFApplier, LFSet, labeling_function
    >>> @labeling_function(fields=["amount"])
    ... def big(event):
    ...     return 1 if event["amount"] > 1000 else ABSTAIN
    >>> lfset = LFSet.from_spec({"name": "s", "cardinality": 2, "lfs": [
    ...     {"name": "casino", "label": 1,
    ...      "when": {"kind": "keyword", "field": "descriptor", "keywords": ["casino"]}}]})
    >>> applier = LFApplier([big, *lfset.lfs], cardinality=2)
    >>> applier.apply_many([
    ...     {"amount": 5000.0, "descriptor": "Online Casino"},
    ...     {"amount": 12.0, "descriptor": "grocery"},
    ...     {"descriptor": 42},
    ... ]).tolist()
    [[1, 1], [-1, -1], [-1, -1]]
    >>> applier.invalid_counts_
    {'big@1': 1, 'casino@1': 1}
    >>> applier.apply_one({"amount": 2000.0, "descriptor": "x"}).tolist()
    [1, -1]
    """

    def __init__(
        self,
        lfs: LFSet | Sequence[LF],
        *,
        cardinality: int | None = None,
        max_reports: int = 1000,
        chunk_size: int = 8192,
    ) -> None:
        self.lfs = lfs
        self.cardinality = cardinality
        self.max_reports = max_reports
        self.chunk_size = chunk_size

    # ------------------------------------------------------------------ setup

    def _prepare(self) -> None:
        if hasattr(self, "lf_ids_"):
            return
        if isinstance(self.lfs, LFSet):
            lfs: tuple[LF, ...] = self.lfs.lfs
            k: int | None = self.lfs.cardinality
        else:
            lfs = tuple(self.lfs)
            k = self.cardinality
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")
        ids = [lf.id for lf in lfs]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate LF ids: {sorted({i for i in ids if ids.count(i) > 1})}")
        self._lfs = lfs
        self._k = k
        self._code = [(j, lf) for j, lf in enumerate(lfs) if isinstance(lf, LabelingFunction)]
        decl = [(j, lf) for j, lf in enumerate(lfs) if isinstance(lf, DeclarativeLF)]
        if len(self._code) + len(decl) != len(lfs):
            bad = [lf for lf in lfs if not isinstance(lf, LabelingFunction | DeclarativeLF)]
            raise TypeError(f"not labeling functions: {bad!r}")
        self._decl_cols = np.array([j for j, _ in decl], dtype=np.intp)
        self._decl_lfs = [lf for _, lf in decl]
        self._batch = CompiledBatch(self._decl_lfs) if decl else None
        self.lf_ids_ = tuple(ids)
        self.reset()

    def reset(self) -> LFApplier:
        """Zero the counters and clear the reports."""
        self._prepare()
        self.fault_counts_ = dict.fromkeys(self.lf_ids_, 0)
        self.invalid_counts_ = dict.fromkeys(self.lf_ids_, 0)
        self.reports_: collections.deque[LFReport] = collections.deque(maxlen=self.max_reports)
        self.n_events_ = 0
        return self

    def _report(
        self, kind: Literal["invalid", "fault"], lf_id: str, index: int, reason: str
    ) -> None:
        if kind == "fault":
            self.fault_counts_[lf_id] += 1
        else:
            self.invalid_counts_[lf_id] += 1
        self.reports_.append(LFReport(self.n_events_ + index, index, lf_id, kind, reason))

    def _check_vote(self, v: Any) -> str | None:
        """Why ``v`` is not a valid vote, or ``None``."""
        if isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer):
            return f"returned {v!r} ({type(v).__name__}), not an int label"
        if v < ABSTAIN or v > _MAX_LABEL or (self._k is not None and v >= self._k):
            upper = f"0..{self._k - 1}" if self._k is not None else f"a label 0..{_MAX_LABEL}"
            return f"returned {v}, not ABSTAIN (-1) or {upper}"
        return None

    # ------------------------------------------------------------------ one event

    def apply_one(self, event: Any) -> NDArray[np.int64]:
        """Votes of every LF on one event, shape ``(m,)``, int64, ``ABSTAIN`` = -1."""
        self._prepare()
        out = np.full(len(self._lfs), ABSTAIN, dtype=np.int64)
        for j, lf in self._code:
            try:
                v = lf._call(event)
            except Exception as exc:
                kind, reason = _classify(lf, exc)
                self._report(kind, lf.id, 0, reason)
                continue
            bad = self._check_vote(v)
            if bad is None:
                out[j] = v
            else:
                self._report("fault", lf.id, 0, bad)
        if self._decl_lfs:
            row = as_row(event)
            for j, dlf in zip(self._decl_cols.tolist(), self._decl_lfs, strict=True):
                out[j] = self._declarative_one(dlf, row, 0)
        self.n_events_ += 1
        return out

    # ------------------------------------------------------------------ batches

    def apply_many(self, events: Iterable[Any]) -> NDArray[np.int64]:
        """Votes of every LF on a batch: ``L`` of shape ``(n, m)``, int64, ``ABSTAIN`` = -1."""
        self._prepare()
        if not isinstance(events, Sequence):
            events = list(events)
        n = len(events)
        Lt = np.full((len(self._lfs), n), ABSTAIN, dtype=np.int64)
        for j, lf in self._code:
            self._code_column(lf, events, Lt[j])
        if self._batch is not None and n:
            self._declarative(events, Lt)
        self.n_events_ += n
        return np.ascontiguousarray(Lt.T)

    def _code_column(
        self, lf: LabelingFunction, events: Sequence[Any], out: NDArray[np.int64]
    ) -> None:
        fn = lf._call
        n = len(events)
        step = self.chunk_size
        k = self._k
        for start in range(0, n, step):
            chunk = events[start : start + step] if n > step else events
            try:
                col = list(map(fn, chunk))
            except Exception:
                self._code_slow(lf, chunk, start, out)
                continue
            if set(map(type, col)) <= _INT_TYPES:
                try:
                    arr = np.fromiter(col, np.int64, len(col))
                except OverflowError:
                    pass
                else:
                    if arr.min(initial=0) >= ABSTAIN and (k is None or arr.max(initial=0) < k):
                        out[start : start + len(col)] = arr
                        continue
            for i, v in enumerate(col):
                bad = self._check_vote(v)
                if bad is None:
                    out[start + i] = v
                else:
                    self._report("fault", lf.id, start + i, bad)

    def _code_slow(
        self, lf: LabelingFunction, chunk: Sequence[Any], start: int, out: NDArray[np.int64]
    ) -> None:
        # LFs are meant to be pure, so re-running the chunk's earlier events is harmless.
        fn = lf._call
        for i, e in enumerate(chunk):
            try:
                v = fn(e)
            except Exception as exc:
                kind, reason = _classify(lf, exc)
                self._report(kind, lf.id, start + i, reason)
                continue
            bad = self._check_vote(v)
            if bad is None:
                out[start + i] = v
            else:
                self._report("fault", lf.id, start + i, bad)

    def _declarative(self, events: Sequence[Any], Lt: NDArray[np.int64]) -> None:
        assert self._batch is not None
        try:
            votes, invalid = self._batch(events)
        except Exception as exc:  # a bug in the compiled path must not stop the stream
            self._declarative_slow(events, Lt, exc)
            return
        Lt[self._decl_cols] = votes.T
        counts = invalid.sum(axis=0)
        if not counts.any():
            return
        rows = None
        for c, lf in enumerate(self._decl_lfs):
            if not counts[c]:
                continue
            idx = np.flatnonzero(invalid[:, c])
            self.invalid_counts_[lf.id] += int(idx.size)
            # Only the most recent reports survive in the deque: explain just those.
            if rows is None:
                rows = as_rows(events)
            for i in idx[-self.max_reports :].tolist():
                reason = lf.vote_and_reason(rows[i])[1] or "invalid"
                self.reports_.append(LFReport(self.n_events_ + i, i, lf.id, "invalid", reason))

    def _declarative_slow(
        self, events: Sequence[Any], Lt: NDArray[np.int64], exc: Exception
    ) -> None:
        for c, lf in zip(self._decl_cols.tolist(), self._decl_lfs, strict=True):
            for i, e in enumerate(events):
                Lt[c, i] = self._declarative_one(lf, as_row(e), i)
        del exc  # the per-event pass above reports the actual failures

    def _declarative_one(self, lf: DeclarativeLF, row: Any, index: int) -> int:
        """One declarative LF's vote on one row, reporting an invalid row or a fault."""
        try:
            vote, reason = lf.vote_and_reason(row)
        except Exception as exc:  # a bug in the compiled path must not stop the stream
            self._report("fault", lf.id, index, f"{type(exc).__name__}: {exc}")
            return ABSTAIN
        if reason is not None:
            self._report("invalid", lf.id, index, reason)
        return vote

    def __repr__(self) -> str:
        name = repr(self.lfs) if isinstance(self.lfs, LFSet) else f"[{len(self.lfs)} LFs]"
        return f"LFApplier({name})"
