"""The labeler: events in; labels, review items and DLQ records out; hot LF reloads; gold.

Engine-free: it knows nothing of Kafka or Faust. The stream adapter hands it batches of
raw message values with their source offsets, publishes what comes back, and calls
:meth:`Labeler.set_lfset` and :meth:`Labeler.learn_feedback` between batches.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from streamlabel._constants import ABSTAIN
from streamlabel.analysis import LabelQuality
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import LF, LFApplier, LFSet, LFSetDiff, LFVersionError
from streamlabel.pipeline._events import (
    DEFAULT_MAX_BYTES,
    INVALID_REASONS,
    Event,
    InvalidEvent,
    parse_event,
)
from streamlabel.pipeline._records import (
    DLQRecord,
    FeedbackRecord,
    LabelRecord,
    ReviewRecord,
    Source,
)
from streamlabel.pipeline._review import REVIEW_REASONS, ReviewPolicy
from streamlabel.pipeline._shadow import ShadowLFSet
from streamlabel.pipeline._tracking import check_pair, model_ids, track_lfset

__all__ = ["BatchOutcome", "Labeler", "Quarantine", "RawInput"]

#: One input of :meth:`Labeler.process_many`: the message value and where it came from.
RawInput = tuple[bytes | str | Mapping[str, Any], Source | None]

# Row of a cache entry whose gold label was already learned.
_GOLD_DONE: Final = -1


class _Batch:
    """One batch's votes, shared by the cache entries of its events."""

    __slots__ = ("L", "P", "event_ids", "ids", "start")

    def __init__(
        self,
        ids: tuple[str, ...],
        L: NDArray[np.int64],
        P: NDArray[np.float64],
        event_ids: list[str],
    ) -> None:
        self.ids = ids
        self.L = L
        self.P = P  # the posteriors emitted: late gold calibrates the quality estimate
        self.event_ids = event_ids
        self.start = 0  # event_ids[:start] are evicted


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What one batch produced.

    Attributes
    ----------
    labels : list of LabelRecord
        One per valid input, in input order.
    dlq : list of DLQRecord
        One per invalid input, in input order.
    review : list of ReviewRecord
        The labeled events routed to review (a subset of ``labels``), in input order.
    """

    labels: list[LabelRecord]
    dlq: list[DLQRecord]
    review: list[ReviewRecord]


@dataclass(frozen=True, slots=True)
class Quarantine:
    """Why and when an LF was quarantined (it is not called until released).

    Attributes
    ----------
    lf_id : str
        The LF (``name@version``).
    reason : str
        Human-readable: the fault rate over the window and the last fault's message.
    at : float
        Epoch seconds (the labeler's clock) when it was quarantined.
    faults, calls : int
        Faults among the calls of the window that decided it.
    batch : int
        The labeler's ``batches_`` when it was quarantined (the batch that tipped it).
    """

    lf_id: str
    reason: str
    at: float
    faults: int
    calls: int
    batch: int

    def to_dict(self) -> dict[str, Any]:
        """Return the quarantine as a JSON-able dict."""
        return {
            "lf_id": self.lf_id,
            "reason": self.reason,
            "at": self.at,
            "faults": self.faults,
            "calls": self.calls,
            "batch": self.batch,
        }


class _FaultWindow:
    """Calls and faults of one LF over its most recent batches (at least ``size`` calls)."""

    __slots__ = ("batches", "calls", "faults", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.batches: collections.deque[tuple[int, int]] = collections.deque()
        self.calls = 0
        self.faults = 0

    def add(self, calls: int, faults: int) -> None:
        self.batches.append((calls, faults))
        self.calls += calls
        self.faults += faults
        batches = self.batches
        # Drop the oldest batches while the rest still cover the window.
        while len(batches) > 1 and self.calls - batches[0][0] >= self.size:
            c, f = batches.popleft()
            self.calls -= c
            self.faults -= f


class Labeler:
    """Label a stream of events with a hot-swappable LF set and an online label model.

    Parameters
    ----------
    lfset
        The LF set to apply first.
    model
        The online label model (fresh or restored); its cardinality must equal the set's.
        The labeler owns it from now on: it learns every batch, gains the set's LF ids
        (``add_lf``) and loses retired ones (``retire_lf``).
    review
        Routing of uncertain/conflicting events to review; ``None`` routes nothing.
    feedback_cache
        How many recent events' votes are kept (LRU) for late gold labels; 0 keeps none.
    clock
        Epoch seconds for ``processed_at`` / ``at`` (processing time is measured with
        ``time.perf_counter`` regardless).
    max_bytes
        Largest event accepted, in bytes (larger ones go to the DLQ as ``"oversized"``).
    quarantine_threshold
        An LF whose calls raised at least this fraction of the time over its recent
        window is quarantined (see the notes); ``None`` never quarantines.
    quarantine_window
        Calls the fault rate is measured over: the most recent batches holding at least
        this many calls of the LF; no LF is judged on fewer.
    quality
        The label-free accuracy estimate of the emitted labels; a
        :class:`~streamlabel.analysis.LabelQuality` of the set's cardinality with its
        defaults when None.

    Attributes
    ----------
    lfset : LFSet
        The LF set applied to the next batch.
    model : OnlineLabelModel
        The model that learns every batch (and late gold).
    serving : OnlineLabelModel or None
        Parameters merged from every worker (:meth:`use_params`); labels come from them
        when set and up to date with the LF set, else from ``model``.
    events_in_, labels_out_ : int
        Inputs received and label records emitted.
    dlq_by_reason_ : dict of str to int
        DLQ records per :data:`~streamlabel.pipeline.INVALID_REASONS` entry.
    review_by_reason_ : dict of str to int
        Review records per reason.
    feedback_applied_, feedback_unmatched_, feedback_duplicate_ : int
        Gold labels learned; those whose event is unknown or evicted from the cache; those
        for an event whose gold was already learned.
    lf_faults_, lf_invalid_ : dict of str to int
        Per LF id (of every set applied so far), events on which the LF raised (fault) or
        lacked a field / met the wrong type (invalid); the LF abstained there.
    batches_, lfset_swaps_ : int
        Batches processed and LF sets swapped in.
    quarantined_ : dict of str to Quarantine
        LFs of the current set that are quarantined: not called, they vote ``ABSTAIN``.
    quarantines_ : int
        LFs quarantined so far (releases do not decrease it).
    lf_forgotten_ : dict of str to int
        Per LF id, the times :meth:`forget_lf` made the label model re-learn it (drift
        alarms on it).
    quality : LabelQuality
        Fed every emitted batch's posteriors (``learn_many``) and, through
        :meth:`learn_feedback`, each late gold label with the posterior emitted for its
        event (``learn_gold_many``); ``quality.estimate()`` is the calibrated and raw
        accuracy estimate and the gold-measured accuracy of the recent labels.

    Notes
    -----
    **Quarantine.** An LF that raises votes ``ABSTAIN`` on that event and counts a fault
    (``lf_faults_``); the batch goes on. An LF that *keeps* failing -- at least
    ``quarantine_threshold`` of its calls over its last ``quarantine_window`` calls (whole
    batches: the most recent batches holding at least that many calls) -- is quarantined
    after the batch that tipped it: from the next batch on it is not called at all and
    votes ``ABSTAIN`` on every event (its column stays, so the label model and the label
    records keep their shape), and :attr:`quarantined_` says why and since when. Events
    it cannot read (a field missing or mistyped) are the events' fault, not the LF's,
    and never count. It comes back with the next LF set version that changes it (a new
    ``name@version``; an unchanged id stays quarantined across set versions) or with
    :meth:`release`, with a fresh window.

    **Labels come from the model as it was before the batch (prequential).** Each batch
    is predicted with ``predict_proba_many`` first and learned with ``learn_many`` after.
    Reasons:

    - an event's label never uses statistics the event itself fed, so labels compared
      with late gold, and drift monitors fed with them, measure the model honestly
      (test-then-train);
    - a label depends only on the parameters at the start of its batch and on its own
      votes, never on which other events shared the batch (micro-batches are cut by size
      and time, so anything else would make labels depend on timing);
    - ``labelmodel_version`` names parameters that reproduce the posterior exactly:
      ``predict_proba_one(record.votes)`` on the model saved before the batch;
    - the cost is freshness of one batch (hundreds to a few thousand events) against a
      model whose memory (``half_life``) is tens of thousands of events.

    **Hot reload** (:meth:`set_lfset`) takes effect for the next batch. LFs whose id is
    unchanged keep their estimates untouched; a changed LF (same name, new version) starts
    from its predecessor's estimate; added LFs start at the prior. LFs that leave the set
    (removed ones and the old versions of changed ones) are **retired** from the model
    right after the swap: a retired LF never votes again, so its statistics would only
    decay while the moment fit, whose cost grows as ``(m * k) ** 2``, kept paying for it
    at every refit, and every pushed version would add one more. A rollback loses little:
    the returning version is a "changed" LF again and inherits from the one it replaces.
    Late gold for an event labeled under an older set skips the retired ids.

    Not thread-safe: call everything from one task (the stream adapter's agent).

    Examples
    --------
    >>> import json
    >>> from streamlabel.labelmodel import OnlineLabelModel
    >>> from streamlabel.lf import load_lfset
    >>> from streamlabel.pipeline import Labeler, Source
    >>> lfset = load_lfset({"name": "fraud", "version": "1", "cardinality": 2, "lfs": [
    ...     {"name": "big", "label": 1,
    ...      "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 1000}}]})
    >>> labeler = Labeler(lfset, OnlineLabelModel(cardinality=2), clock=lambda: 0.0)
    >>> good = json.dumps({"id": "tx1", "ts": 1.0, "entity": "c1", "payload": {"amount": 5e3}})
    >>> out = labeler.process_many([(good, Source("events", 0, 0)), (b"{oops", None)])
    >>> [(r.event_id, r.votes, r.label, r.lfset_version) for r in out.labels]
    [('tx1', {'big@1': 1}, 1, '1')]
    >>> [(d.reason, d.raw) for d in out.dlq]
    [('not_json', '{oops')]
    """

    def __init__(
        self,
        lfset: LFSet,
        model: OnlineLabelModel,
        *,
        review: ReviewPolicy | None = None,
        feedback_cache: int = 100_000,
        clock: Callable[[], float] = time.time,
        max_bytes: int = DEFAULT_MAX_BYTES,
        quarantine_threshold: float | None = 0.5,
        quarantine_window: int = 200,
        quality: LabelQuality | None = None,
    ) -> None:
        check_pair(lfset, model)
        if isinstance(feedback_cache, bool) or not isinstance(feedback_cache, int):
            raise TypeError(f"feedback_cache must be an int, got {feedback_cache!r}")
        if feedback_cache < 0:
            raise ValueError(f"feedback_cache must be >= 0, got {feedback_cache}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1, got {max_bytes}")
        if quarantine_threshold is not None and not 0 < quarantine_threshold <= 1:
            raise ValueError(
                f"quarantine_threshold must be in (0, 1] or None, got {quarantine_threshold}"
            )
        if isinstance(quarantine_window, bool) or quarantine_window < 1:
            raise ValueError(f"quarantine_window must be >= 1, got {quarantine_window!r}")
        if quality is not None and quality.cardinality != lfset.cardinality:
            raise ValueError(
                f"quality cardinality {quality.cardinality} != LF set cardinality "
                f"{lfset.cardinality}"
            )
        applier = LFApplier(lfset).reset()  # validates the set before anything changes
        self.model = model
        self.serving: OnlineLabelModel | None = None
        self.review = review
        self.feedback_cache = feedback_cache
        self.clock = clock
        self.max_bytes = max_bytes
        self.quarantine_threshold = quarantine_threshold
        self.quarantine_window = quarantine_window
        known = model_ids(model)
        for lf_id in lfset.ids:
            if lf_id not in known:
                # A restored model holding an older version of the LF inherits from it
                # (the model's rule for a new version of a known name).
                model.add_lf(lf_id)
        self.lfset = lfset
        self._applier = applier
        # Columns of the LFs the applier calls; None: all of them (nothing quarantined).
        self._cols: NDArray[np.intp] | None = None
        self.quarantined_: dict[str, Quarantine] = {}
        self.quarantines_ = 0
        self._windows: dict[str, _FaultWindow] = {}
        # event id -> (its batch, row in the batch's L); row _GOLD_DONE once gold is in.
        self._seen: dict[str, tuple[_Batch, int]] = {}
        self._batches: collections.deque[_Batch] = collections.deque()
        self._held = 0
        self.events_in_ = 0
        self.labels_out_ = 0
        self.dlq_by_reason_: dict[str, int] = dict.fromkeys(INVALID_REASONS, 0)
        self.review_by_reason_: dict[str, int] = dict.fromkeys(REVIEW_REASONS, 0)
        self.feedback_applied_ = 0
        self.feedback_unmatched_ = 0
        self.feedback_duplicate_ = 0
        self.lf_forgotten_: dict[str, int] = {}
        self.lf_faults_: dict[str, int] = dict.fromkeys(lfset.ids, 0)
        self.lf_invalid_: dict[str, int] = dict.fromkeys(lfset.ids, 0)
        self.batches_ = 0
        self.lfset_swaps_ = 0
        #: The candidate LF set scored beside the active one (see :meth:`set_candidate`).
        self.candidate: ShadowLFSet | None = None
        self._quality = quality if quality is not None else LabelQuality(lfset.cardinality)
        # Late gold for the quality estimate, learned in bulk (one call per gold label
        # cost more than the label model's own update): (emitted posterior row, class).
        self._quality_gold: list[tuple[NDArray[np.float64], int]] = []

    # ------------------------------------------------------------------ processing

    def process_one(
        self, raw: bytes | str | Mapping[str, Any], source: Source | None = None
    ) -> BatchOutcome:
        """Process one input: exactly one label or one DLQ record (and maybe a review item).

        The same as ``process_many([(raw, source)])``.
        """
        return self.process_many([(raw, source)])

    def process_many(self, raws: Sequence[RawInput]) -> BatchOutcome:
        """Process a batch of inputs; every input yields exactly one label or DLQ record.

        Parameters
        ----------
        raws
            ``(value, source)`` pairs: the message value (JSON bytes, JSON text or a
            mapping) and where it was read from (``None`` when unknown).

        Returns
        -------
        BatchOutcome
            Labels of the valid events and DLQ records of the invalid ones, each in input
            order, and the review items selected by the review policy.

        Notes
        -----
        Invalid inputs go to the DLQ with their reason and source; the batch goes on.
        The valid events' payloads are voted on by the current LF set in one
        ``apply_many`` call (an LF that raises, or finds a field missing or mistyped,
        abstains on that event, which is still labeled); the posteriors come from the
        model *before* it learns the batch (see the class notes), then it learns the
        batch.
        """
        t0 = time.perf_counter()
        if not isinstance(raws, Sequence):
            raws = list(raws)
        events: list[Event] = []
        sources: list[Source | None] = []
        bad: list[tuple[str, str, Any, Source | None]] = []
        max_bytes = self.max_bytes
        for raw, source in raws:
            try:
                event = parse_event(raw, max_bytes=max_bytes)
            except InvalidEvent as exc:
                bad.append((exc.reason, exc.detail, raw, source))
                continue
            except Exception as exc:  # a parser bug must not stop the stream
                bad.append(("invalid_value", f"{type(exc).__name__}: {exc}", raw, source))
                continue
            events.append(event)
            sources.append(source)

        lfset = self.lfset
        ids = lfset.ids
        n = len(events)
        labels: list[LabelRecord] = []
        review: list[ReviewRecord] = []
        if n:
            L = self._apply(events)
            model = self.model
            predictor = self._predictor()
            P = predictor.predict_proba_many(L, ids)
            lm_version = predictor.version_
            model.learn_many(L, ids)
            quality = self.quality  # learns the pending gold first: the order is kept
            quality.learn_many(P)
            votes = self._votes(L, ids)
            self._remember(events, ids, L, P)
            posts: list[list[float]] = P.tolist()
            top: list[int] = P.argmax(axis=1).tolist()
            conf: list[float] = P.max(axis=1).tolist()
            name, version = lfset.name, lfset.version
            at = self.clock()
            per_event = (time.perf_counter() - t0) / len(raws)
            labels = [
                LabelRecord(e.id, e.entity, name, version, v, p, y, c, lm_version, at, per_event, s)
                for e, v, p, y, c, s in zip(events, votes, posts, top, conf, sources, strict=True)
            ]
            if self.review is not None:
                for i, why in self.review.select_many(P, L):
                    e = events[i]
                    review.append(
                        ReviewRecord(e.id, e.entity, why, list(posts[i]), dict(votes[i]), version)
                    )
                    self.review_by_reason_[why] += 1
        dlq: list[DLQRecord] = []
        if bad:
            at = self.clock()
            for reason, detail, raw, source in bad:
                dlq.append(DLQRecord.of(reason, detail, raw, source, at))
                self.dlq_by_reason_[reason] = self.dlq_by_reason_.get(reason, 0) + 1
        if self.candidate is not None and n:
            self.candidate.observe(events, labels)
        self.events_in_ += len(raws)
        self.labels_out_ += n
        self.batches_ += 1
        return BatchOutcome(labels, dlq, review)

    def use_params(self, params: OnlineLabelModel | None) -> bool:
        """Predict with ``params`` (a model merged from every worker's statistics).

        The labeler keeps learning into its own :attr:`model` (its share of the statistics,
        which the merge sums); labels are computed with ``params`` while it knows every LF
        of the current set, else (an LF set newer than the params) with :attr:`model`.
        None goes back to :attr:`model`. Returns whether ``params`` were taken. ``params``
        predict with this labeler's ``model``'s prediction settings
        (:attr:`OnlineLabelModel.prediction_settings`: the worker's, not the statistics'
        the merge sums).

        Raises
        ------
        ValueError
            ``params`` of another cardinality.
        """
        if params is not None and params.cardinality != self.lfset.cardinality:
            raise ValueError(
                f"params of cardinality {params.cardinality}, the LF set's is "
                f"{self.lfset.cardinality}"
            )
        if params is not None:
            for name in OnlineLabelModel.prediction_settings:
                setattr(params, name, getattr(self.model, name))
        self.serving = params
        return params is not None

    def forget_lf(self, lf_id: str) -> bool:
        """Let the label model re-learn ``lf_id`` from what comes next (it has changed).

        For a drift monitor's alarm on this LF (``DriftWatch(on_lf_drift=...)``): the
        model's evidence about it is capped as a new version's would be
        (:meth:`~streamlabel.labelmodel.OnlineLabelModel.forget_lf`), so its accuracy is
        re-estimated within a few hundred events instead of a half-life. Returns whether
        the model knew the LF; :attr:`lf_forgotten_` counts the times per LF.

        Examples
        --------
        >>> from streamlabel.labelmodel import OnlineLabelModel
        >>> from streamlabel.lf import load_lfset
        >>> labeler = Labeler(load_lfset({"name": "s", "cardinality": 2, "lfs": [
        ...     {"name": "big", "label": 1,
        ...      "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 9}}]}),
        ...     OnlineLabelModel(cardinality=2))
        >>> _ = labeler.process_one({"id": "tx1", "ts": 0, "entity": "c",
        ...                          "payload": {"amount": 50}})
        >>> labeler.forget_lf("big@1"), labeler.forget_lf("small@1")
        (True, False)
        """
        if lf_id not in model_ids(self.model):
            return False
        self.model.forget_lf(lf_id)
        self.lf_forgotten_[lf_id] = self.lf_forgotten_.get(lf_id, 0) + 1
        return True

    def _predictor(self) -> OnlineLabelModel:
        serving = self.serving
        if serving is not None and model_ids(serving).issuperset(self.lfset.ids):
            return serving
        return self.model

    def _apply(self, events: list[Event]) -> NDArray[np.int64]:
        """Votes of the current LF set on the events' payloads; folds in the LF counters.

        Quarantined LFs are not called: their columns are ``ABSTAIN``.
        """
        applier = self._applier
        faults = dict(applier.fault_counts_)
        invalid = dict(applier.invalid_counts_)
        payloads = [e.payload for e in events]
        cols = self._cols
        if cols is None:
            L = applier.apply_many(payloads)
        else:
            L = np.full((len(events), len(self.lfset.ids)), ABSTAIN, dtype=np.int64)
            if cols.size:
                L[:, cols] = applier.apply_many(payloads)
        new_faults: dict[str, int] = {}
        for lf_id, count in applier.fault_counts_.items():
            if count != faults[lf_id]:
                new_faults[lf_id] = count - faults[lf_id]
                self.lf_faults_[lf_id] = self.lf_faults_.get(lf_id, 0) + count - faults[lf_id]
        for lf_id, count in applier.invalid_counts_.items():
            if count != invalid[lf_id]:
                self.lf_invalid_[lf_id] = self.lf_invalid_.get(lf_id, 0) + count - invalid[lf_id]
        if self.quarantine_threshold is not None:
            self._judge(applier.lf_ids_, len(events), new_faults)
        return L

    # ------------------------------------------------------------------ quarantine

    def _judge(self, called: tuple[str, ...], n: int, faults: Mapping[str, int]) -> None:
        """Add a batch to the called LFs' fault windows; quarantine those over threshold."""
        threshold = self.quarantine_threshold
        assert threshold is not None
        windows = self._windows
        size = self.quarantine_window
        tipped: list[tuple[str, _FaultWindow]] = []
        for lf_id in called:
            w = windows.get(lf_id)
            f = faults.get(lf_id, 0)
            if w is None:
                if not f:
                    # A window is only opened by a fault: healthy LFs cost one lookup.
                    continue
                w = windows[lf_id] = _FaultWindow(size)
            w.add(n, f)
            if w.calls >= size and w.faults >= threshold * w.calls:
                tipped.append((lf_id, w))
            elif not w.faults:
                del windows[lf_id]  # a clean window again: forget it
        if not tipped:
            return
        at = self.clock()
        last: dict[str, str] = {}
        for report in self._applier.reports_:
            if report.kind == "fault":
                last[report.lf_id] = report.reason
        for lf_id, w in tipped:
            rate = w.faults / w.calls
            why = (
                f"{w.faults} of its last {w.calls} calls raised ({rate:.0%} >= "
                f"{threshold:.0%}); last fault: {last.get(lf_id, '?')}"
            )
            self.quarantined_[lf_id] = Quarantine(
                lf_id, why, at, w.faults, w.calls, self.batches_ + 1
            )
            self.quarantines_ += 1
            del windows[lf_id]
        self._applier, self._cols = self._build_applier(self.lfset)

    def _build_applier(self, lfset: LFSet) -> tuple[LFApplier, NDArray[np.intp] | None]:
        """Return an applier of the set's LFs that are not quarantined, and their columns."""
        if not any(lf_id in self.quarantined_ for lf_id in lfset.ids):
            return LFApplier(lfset).reset(), None
        active: list[LF] = []
        cols: list[int] = []
        for j, lf in enumerate(lfset.lfs):
            if lf.id not in self.quarantined_:
                active.append(lf)
                cols.append(j)
        applier = LFApplier(active, cardinality=lfset.cardinality).reset()
        return applier, np.array(cols, dtype=np.intp)

    def release(self, lf_id: str) -> bool:
        """Call a quarantined LF again from the next batch, with a fresh window.

        Returns whether ``lf_id`` was quarantined.

        Examples
        --------
        >>> from streamlabel.labelmodel import OnlineLabelModel
        >>> from streamlabel.lf import LFSet, labeling_function
        >>> @labeling_function()
        ... def broken(event):
        ...     return 1 // 0
        >>> labeler = Labeler(LFSet("s", "1", [broken], cardinality=2),
        ...                   OnlineLabelModel(cardinality=2), clock=lambda: 7.0)
        >>> events = [{"id": f"e{i}", "ts": 0, "entity": "c", "payload": {}}
        ...           for i in range(200)]
        >>> _ = labeler.process_many([(e, None) for e in events])
        >>> q = labeler.quarantined_["broken@1"]
        >>> q.faults, q.calls, q.at
        (200, 200, 7.0)
        >>> q.reason
        '200 of its last 200 calls raised (100% >= 50%); last fault: ZeroDivisionError: ...'
        >>> labeler.release("broken@1"), labeler.quarantined_
        (True, {})
        """
        if self.quarantined_.pop(lf_id, None) is None:
            return False
        self._windows.pop(lf_id, None)
        self._applier, self._cols = self._build_applier(self.lfset)
        return True

    @staticmethod
    def _votes(L: NDArray[np.int64], ids: tuple[str, ...]) -> list[dict[str, int]]:
        """Per row, the non-abstain votes as ``{lf_id: vote}`` (a fresh dict per row).

        Few LFs fire per event, so rows repeat: each distinct row is turned into a dict
        once per batch and copied.
        """
        out: list[dict[str, int]] = []
        append = out.append
        cache: dict[tuple[int, ...], dict[str, int]] = {}
        get = cache.get
        for row in map(tuple, L.tolist()):
            d = get(row)
            if d is None:
                d = cache[row] = {i: v for i, v in zip(ids, row, strict=True) if v != ABSTAIN}
            append(d.copy())
        return out

    def _remember(
        self,
        events: list[Event],
        ids: tuple[str, ...],
        L: NDArray[np.int64],
        P: NDArray[np.float64],
    ) -> None:
        """Keep the votes of the batch's events for late gold: the last ``feedback_cache``.

        Entries are inserted in bulk and evicted oldest first (a re-seen id counts as
        its latest sighting), so the cache holds exactly the most recent events.
        """
        cap = self.feedback_cache
        if cap == 0:
            return
        start = max(0, len(events) - cap)  # earlier rows would be evicted right away
        batch = _Batch(ids, L, P, [e.id for e in events[start:]])
        rows = range(start, len(events))
        self._seen.update(zip(batch.event_ids, zip(repeat(batch), rows), strict=True))
        self._batches.append(batch)
        self._held += len(batch.event_ids)
        self._evict(self._held - cap)

    def _evict(self, excess: int) -> None:
        seen = self._seen
        batches = self._batches
        while excess > 0:
            old = batches[0]
            stop = min(len(old.event_ids), old.start + excess)
            for eid in old.event_ids[old.start : stop]:
                entry = seen.get(eid)
                if entry is not None and entry[0] is old:  # not seen again since
                    del seen[eid]
            excess -= stop - old.start
            self._held -= stop - old.start
            old.start = stop
            if stop == len(old.event_ids):
                batches.popleft()

    # ------------------------------------------------------------------ hot reload

    def set_lfset(self, new: LFSet) -> LFSetDiff:
        """Swap in another version of the LF set, for the next batch; return the diff.

        Parameters
        ----------
        new
            The new version: same name and cardinality as the current set.

        Returns
        -------
        LFSetDiff
            What changed (LFs matched by name).

        Raises
        ------
        ValueError
            Another cardinality or set name (nothing is changed).
        LFVersionError
            An LF changed its logic but kept its id (nothing is changed); bump its version.

        Notes
        -----
        Unchanged ids keep their estimates; a changed LF is added to the model from its
        predecessor (``add_lf(new_id, predecessor=old_id)``); an added one from the prior;
        then the LFs that left the set are retired (``retire_lf``). See the class notes.

        Examples
        --------
        >>> from streamlabel.labelmodel import OnlineLabelModel
        >>> from streamlabel.lf import load_lfset
        >>> from streamlabel.pipeline import Labeler
        >>> def lfset(version, lf_version):
        ...     return load_lfset({"name": "fraud", "version": version, "cardinality": 2,
        ...         "lfs": [{"name": "big", "label": 1, "version": lf_version, "when":
        ...         {"kind": "threshold", "field": "amount", "op": "gt", "value": 1000}}]})
        >>> labeler = Labeler(lfset("1", "1"), OnlineLabelModel(cardinality=2))
        >>> labeler.set_lfset(lfset("2", "2"))
        LFSetDiff(added=(), removed=(), changed=(('big@1', 'big@2'),))
        >>> labeler.model.lf_ids_, labeler.lfset.version
        (['big@2'], '2')
        """
        if not isinstance(new, LFSet):
            raise TypeError(f"expected an LFSet, got {type(new).__name__}")
        old = self.lfset
        if new.cardinality != old.cardinality:
            raise ValueError(
                f"LF set {new.name!r} version {new.version!r} has cardinality "
                f"{new.cardinality}; the labeler's is {old.cardinality}"
            )
        if new.name != old.name:
            raise ValueError(f"the labeler serves LF set {old.name!r}, not {new.name!r}")
        diff = old.diff(new)
        for old_id, new_id in diff.changed:
            if old_id == new_id:
                raise LFVersionError(
                    f"LF {new_id!r} changed its logic but kept its version; bump the LF's version"
                )
        applier = LFApplier(new).reset()  # may raise: nothing has changed yet
        track_lfset(self.model, diff, new)
        self.lfset = new
        # A quarantined LF stays so while its id is served; a new version comes back.
        self.quarantined_ = {i: q for i, q in self.quarantined_.items() if i in new.ids}
        self._windows = {i: w for i, w in self._windows.items() if i in new.ids}
        if self.quarantined_:
            self._applier, self._cols = self._build_applier(new)
        else:
            self._applier, self._cols = applier, None
        for lf_id in new.ids:
            self.lf_faults_.setdefault(lf_id, 0)
            self.lf_invalid_.setdefault(lf_id, 0)
        self.lfset_swaps_ += 1
        return diff

    # ------------------------------------------------------------------ late gold

    def learn_feedback(self, record: FeedbackRecord) -> bool:
        """Learn a late gold label; return whether it matched a remembered event.

        The event's votes are looked up in the LRU cache of recent events (as they were
        when it was labeled, under whichever LF set version; LFs the model has retired
        since are skipped) and passed to ``model.learn_gold``; the posterior emitted for
        it and the gold class go to :attr:`quality` (``learn_gold_many``). An unknown or
        evicted event counts in ``feedback_unmatched_``; a second gold label for the same event is
        ignored and counts in ``feedback_duplicate_`` (the first verdict wins, so a
        redelivered feedback message is not learned twice). Both return ``False``.

        Raises
        ------
        InvalidEvent
            ``"invalid_value"`` when the label is not a class of this labeler.

        Examples
        --------
        >>> from streamlabel.labelmodel import OnlineLabelModel
        >>> from streamlabel.lf import load_lfset
        >>> from streamlabel.pipeline import FeedbackRecord, Labeler
        >>> labeler = Labeler(load_lfset({"name": "s", "cardinality": 2, "lfs": [
        ...     {"name": "big", "label": 1,
        ...      "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 9}}]}),
        ...     OnlineLabelModel(cardinality=2))
        >>> event = {"id": "tx1", "ts": 0, "entity": "c", "payload": {"amount": 50}}
        >>> _ = labeler.process_one(event)
        >>> labeler.learn_feedback(FeedbackRecord("tx1", 1, "chargeback", 10.0))
        True
        >>> labeler.learn_feedback(FeedbackRecord("tx9", 1, "chargeback", 10.0))
        False
        >>> labeler.feedback_applied_, labeler.feedback_unmatched_
        (1, 1)
        """
        k = self.lfset.cardinality
        label = record.label
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < k:
            raise InvalidEvent(
                "invalid_value", f"label: {label!r} is not a class in 0..{k - 1}", field="label"
            )
        if self.candidate is not None:
            # The shadow keeps its own labels (its ``remember``, which may reach further
            # back than ``feedback_cache``) and scores each event's first gold once.
            self.candidate.observe_gold(record.event_id, label)
        entry = self._seen.get(record.event_id)
        if entry is None:
            self.feedback_unmatched_ += 1
            return False
        batch, row = entry
        if row == _GOLD_DONE:
            self.feedback_duplicate_ += 1
            return False
        known = model_ids(self.model)
        votes = {i: v for i, v in zip(batch.ids, batch.L[row].tolist(), strict=True) if i in known}
        self.model.learn_gold(votes, label)
        # Was the label emitted for the event right? Calibrates and checks the estimate.
        self._quality_gold.append((batch.P[row], label))
        if len(self._quality_gold) >= 4096:  # bounded while no batch or reader comes
            _ = self.quality
        self._seen[record.event_id] = (batch, _GOLD_DONE)
        self.feedback_applied_ += 1
        return True

    # ------------------------------------------------------------------ candidate LF sets

    def set_candidate(self, candidate: LFSet, **options: Any) -> ShadowLFSet:
        """Deploy ``candidate`` as a shadow: scored on every batch, emitting nothing.

        Replaces any previous candidate. ``options`` go to :class:`ShadowLFSet`
        (``window``, ``remember``, ``alpha``). The candidate is validated (same name and
        cardinality, LFs applicable, no LF logic changed under its id) before anything
        changes.
        """
        diff = self.lfset.diff(candidate)
        for old_id, new_id in diff.changed:
            if old_id == new_id:
                raise LFVersionError(
                    f"LF {new_id!r} changed its logic but kept its version; bump the LF's version"
                )
        self.candidate = ShadowLFSet(candidate, self.lfset, self.model, **options)
        return self.candidate

    def discard_candidate(self) -> ShadowLFSet | None:
        """Stop scoring the candidate; return it (with its final report)."""
        shadow, self.candidate = self.candidate, None
        return shadow

    def promote_candidate(self, *, confirm: bool = False) -> LFSetDiff:
        """Make the candidate the active set, from the next batch, atomically.

        Raises
        ------
        LookupError
            No candidate is deployed.
        PermissionError
            Gold shows the candidate worse (:meth:`ShadowLFSet.verdict`) and ``confirm``
            is not set; nothing changes.
        """
        shadow = self.candidate
        if shadow is None:
            raise LookupError("no candidate LF set is deployed")
        if shadow.verdict() == "worse" and not confirm:
            g = shadow.report()["gold"]
            raise PermissionError(
                f"candidate {shadow.candidate.version!r} is worse on {g['n']} gold labels "
                f"({g['candidate_accuracy']:.4f} vs {g['active_accuracy']:.4f}, "
                f"p={g['p_value']:.3g}); promote with confirm=True to override"
            )
        diff = self.set_lfset(shadow.candidate)  # validated at deployment; raises before change
        self.candidate = None
        return diff

    # ------------------------------------------------------------------ introspection

    @property
    def quality(self) -> LabelQuality:
        """The label-quality estimate, with every late gold received so far learned."""
        pending = self._quality_gold
        if pending:
            P = np.stack([p for p, _ in pending])
            self._quality.learn_gold_many(P, [y for _, y in pending])
            pending.clear()
        return self._quality

    @property
    def n_remembered_(self) -> int:
        """Events currently held for late gold (including those whose gold is in)."""
        return len(self._seen)

    def __repr__(self) -> str:
        return (
            f"Labeler({self.lfset!r}, {self.model!r}, review={self.review!r}, "
            f"feedback_cache={self.feedback_cache})"
        )
