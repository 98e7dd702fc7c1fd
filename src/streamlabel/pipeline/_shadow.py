"""Shadow LF sets: a candidate version scored on live traffic, changing nothing emitted.

A :class:`ShadowLFSet` sees every batch the :class:`~streamlabel.pipeline.Labeler` labels
with its active set: it applies the candidate's LFs to the same events, labels them with
its own copy of the label model (copied from the live one when the candidate is deployed,
the candidate's new LF versions inheriting their predecessors' estimates, as a push
would), and compares with the labels actually emitted. Late gold labels score both. The
report says how the candidate differs and whether gold shows it better or worse; the
labeler promotes it only on request, and a candidate gold shows worse needs an explicit
confirmation.
"""

from __future__ import annotations

import collections
import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from streamlabel.analysis import LFAnalysis
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import LFApplier, LFSet
from streamlabel.pipeline._events import Event
from streamlabel.pipeline._records import LabelRecord
from streamlabel.pipeline._tracking import track_lfset

__all__ = ["ShadowLFSet"]


def _mcnemar_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for discordant counts ``b`` and ``c``."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    # P(X <= k) for X ~ Binomial(n, 1/2), doubled; log-space sums keep large n finite.
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) for i in range(k + 1)]
    top = max(logs)
    tail = math.exp(top + math.log(sum(math.exp(x - top) for x in logs)) - n * math.log(2))
    return min(1.0, 2.0 * tail)


class ShadowLFSet:
    """A candidate LF set version running beside the active one.

    Parameters
    ----------
    candidate : LFSet
        The candidate version (same name and cardinality as the active set).
    active : LFSet
        The version the labeler serves when the candidate is deployed.
    model : OnlineLabelModel
        The live label model; it is deep-copied, never changed.
    window : int, default=5000
        Recent events of the coverage/conflict analysis.
    remember : int, default=100000
        Recent events whose two labels are kept for late gold (exact LRU).
    alpha : float, default=0.05
        Significance of the gold comparison (exact McNemar test on the events where
        exactly one of the two labels is right).

    Examples
    --------
    >>> from streamlabel.labelmodel import OnlineLabelModel
    >>> from streamlabel.lf import load_lfset
    >>> from streamlabel.pipeline import Labeler
    >>> def lfset(version, threshold):
    ...     return load_lfset({"name": "s", "version": version, "cardinality": 2, "lfs": [
    ...         {"name": "big", "label": 1, "version": version, "when":
    ...          {"kind": "threshold", "field": "amount", "op": "gt", "value": threshold}}]})
    >>> labeler = Labeler(lfset("1", 100), OnlineLabelModel(2))
    >>> shadow = labeler.set_candidate(lfset("2", 10))
    >>> out = labeler.process_many([({"id": f"t{i}", "ts": 0, "entity": "c",
    ...                               "payload": {"amount": i}}, None) for i in range(200)])
    >>> [r.lfset_version for r in out.labels][:1], shadow.report()["n"]
    (['1'], 200)
    """

    def __init__(
        self,
        candidate: LFSet,
        active: LFSet,
        model: OnlineLabelModel,
        *,
        window: int = 5000,
        remember: int = 100_000,
        alpha: float = 0.05,
    ) -> None:
        if candidate.name != active.name or candidate.cardinality != active.cardinality:
            raise ValueError(
                f"candidate {candidate.name!r} (k={candidate.cardinality}) must share the "
                f"active set's name {active.name!r} and cardinality {active.cardinality}"
            )
        if candidate.version == active.version:
            raise ValueError(f"candidate version {candidate.version!r} is the active version")
        self.candidate = candidate
        self.active = active
        self.window = window
        self.remember = remember
        self.alpha = alpha
        self._applier = LFApplier(candidate).reset()  # validates before anything is kept
        shadow = copy.deepcopy(model)
        diff = active.diff(candidate)
        track_lfset(shadow, diff, candidate)  # the model a push of the candidate would give
        self.model_ = shadow
        self.diff_ = diff
        self.analysis_ = LFAnalysis(candidate.cardinality, window=window)
        k = candidate.cardinality
        self.n_ = 0
        self.agree_ = 0
        self.flips_ = np.zeros((k, k), dtype=np.int64)  # [active label, candidate label]
        self._labels: collections.OrderedDict[str, tuple[int, int]] = collections.OrderedDict()
        self.gold_n_ = 0
        self.gold_active_right_ = 0
        self.gold_candidate_right_ = 0
        self.gold_only_active_ = 0
        self.gold_only_candidate_ = 0

    def observe(self, events: Sequence[Event], labels: Sequence[LabelRecord]) -> None:
        """Score one labeled batch: ``events`` and the labels the active set emitted."""
        if len(events) != len(labels):
            raise ValueError(f"{len(events)} events but {len(labels)} labels")
        if not events:
            return
        ids = self.candidate.ids
        L = self._applier.apply_many([e.payload for e in events])
        P = self.model_.predict_proba_many(L, ids)  # prequential, like the labeler
        self.model_.learn_many(L, ids)
        self.analysis_.update_many(L, ids)
        cand = P.argmax(axis=1)
        act = np.fromiter((r.label for r in labels), np.int64, len(labels))
        self.n_ += len(labels)
        self.agree_ += int((cand == act).sum())
        np.add.at(self.flips_, (act, cand), 1)
        memo = self._labels
        for r, a, c in zip(labels, act.tolist(), cand.tolist(), strict=True):
            memo[r.event_id] = (a, c)
            memo.move_to_end(r.event_id)
        while len(memo) > self.remember:
            memo.popitem(last=False)

    def observe_gold(self, event_id: str, label: int) -> bool:
        """Score both versions on a late gold label; ``False`` if the event is not kept."""
        pair = self._labels.pop(event_id, None)
        if pair is None:
            return False
        a, c = pair
        self.gold_n_ += 1
        self.gold_active_right_ += a == label
        self.gold_candidate_right_ += c == label
        self.gold_only_active_ += a == label and c != label
        self.gold_only_candidate_ += c == label and a != label
        return True

    def verdict(self) -> str:
        """``"better"``, ``"worse"`` or ``"undecided"`` on the gold seen so far.

        Decided by the exact McNemar test at :attr:`alpha` on the gold events where only
        one of the two labels is right.
        """
        b, c = self.gold_only_active_, self.gold_only_candidate_
        if _mcnemar_p(b, c) >= self.alpha:
            return "undecided"
        return "better" if c > b else "worse"

    def report(self) -> dict[str, Any]:
        """Return what is known about the candidate (JSON-able)."""
        k = self.candidate.cardinality
        n, g = self.n_, self.gold_n_
        analysis = self.analysis_.to_dict(label_model=self.model_) if self.n_ else {}
        return {
            "lfset": self.candidate.name,
            "candidate_version": self.candidate.version,
            "active_version": self.active.version,
            "diff": {
                "added": list(self.diff_.added),
                "removed": list(self.diff_.removed),
                "changed": [list(p) for p in self.diff_.changed],
            },
            "n": n,
            "agreement": None if n == 0 else self.agree_ / n,
            "flips": {
                f"{a}->{c}": int(self.flips_[a, c]) for a in range(k) for c in range(k) if a != c
            },
            "analysis": analysis,
            "estimated_accuracy": self.model_.lf_accuracies() if n else {},
            "gold": {
                "n": g,
                "active_accuracy": None if g == 0 else self.gold_active_right_ / g,
                "candidate_accuracy": None if g == 0 else self.gold_candidate_right_ / g,
                "only_active_right": self.gold_only_active_,
                "only_candidate_right": self.gold_only_candidate_,
                "p_value": _mcnemar_p(self.gold_only_active_, self.gold_only_candidate_),
            },
            "verdict": self.verdict(),
        }
