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
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from streamlabel.analysis import LFAnalysis
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import LFApplier, LFSet
from streamlabel.pipeline._events import Event
from streamlabel.pipeline._records import LabelRecord
from streamlabel.pipeline._tracking import track_lfset

__all__ = [
    "CANDIDATE_FORMAT",
    "SHADOW_REPORT_FORMAT",
    "CandidateRecord",
    "ShadowLFSet",
    "merge_shadow_reports",
]

#: ``format`` of an ``lfset-candidates`` record value (format version 1).
CANDIDATE_FORMAT = "streamlabel.lfset-candidate"

#: ``format`` of a ``shadow-reports`` record value (format version 1).
SHADOW_REPORT_FORMAT = "streamlabel.shadow-report"


@dataclass(frozen=True)
class CandidateRecord:
    """The candidate of one LF set, as the control plane publishes it on ``lfset-candidates``.

    The topic is compacted, keyed by set name: its latest record is the set's candidate.
    Every labeler worker follows it and scores the candidate beside the active version;
    a record without ``spec`` (a discard, or the clean-up after a promotion) clears it.

    Attributes
    ----------
    lfset : str
        The set (the record key).
    action : {"deploy", "discard", "promote"}
        What the change did; only ``deploy`` carries a candidate.
    id : str
        The change id (the audit entry's); workers report on the deployment of this id,
        so a report of an earlier deployment of the same version is never mixed in.
    spec : dict or None
        The candidate's declarative spec (``LFSetSpec.model_dump(mode="json")``, the
        ``lfsets`` contract), None when the record clears the candidate.
    version, content_hash : str or None
        The candidate's set version and content hash.
    actor, reason : str
        Who and why.
    at : float
        Epoch seconds.

    Examples
    --------
    >>> r = CandidateRecord("s", "discard", "c1", None, None, None, "alice", "noisy", 5.0)
    >>> CandidateRecord.from_dict(r.to_dict()) == r, r.to_dict()["format"]
    (True, 'streamlabel.lfset-candidate')
    """

    lfset: str
    action: Literal["deploy", "discard", "promote"]
    id: str
    spec: dict[str, Any] | None
    version: str | None
    content_hash: str | None
    actor: str
    reason: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        """Return the record value (JSON-able), with ``format`` and ``format_version``."""
        return {"format": CANDIDATE_FORMAT, "format_version": 1, **asdict(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CandidateRecord:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ValueError
            Another format or version, an unknown action, a deploy without a spec, or a
            missing or mistyped field (the message says which).
        """
        if d.get("format") != CANDIDATE_FORMAT or d.get("format_version") != 1:
            raise ValueError(f"not a {CANDIDATE_FORMAT!r} record of format version 1")
        action = d.get("action")
        if action not in ("deploy", "discard", "promote"):
            raise ValueError(f"action {action!r} is not deploy, discard or promote")
        spec = d.get("spec")
        if action == "deploy" and not isinstance(spec, Mapping):
            raise ValueError("a deploy record needs the candidate's spec (an object)")
        try:
            return cls(
                str(d["lfset"]),
                action,
                str(d["id"]),
                dict(spec) if isinstance(spec, Mapping) and action == "deploy" else None,
                None if d.get("version") is None else str(d["version"]),
                None if d.get("content_hash") is None else str(d["content_hash"]),
                str(d["actor"]),
                str(d["reason"]),
                float(d["at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed candidate record: {type(exc).__name__}: {exc}") from None


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
            "agree": self.agree_,
            "agreement": None if n == 0 else self.agree_ / n,
            "flips": {
                f"{a}->{c}": int(self.flips_[a, c]) for a in range(k) for c in range(k) if a != c
            },
            "analysis": analysis,
            "estimated_accuracy": self.model_.lf_accuracies() if n else {},
            "gold": {
                "n": g,
                "active_right": self.gold_active_right_,
                "candidate_right": self.gold_candidate_right_,
                "active_accuracy": None if g == 0 else self.gold_active_right_ / g,
                "candidate_accuracy": None if g == 0 else self.gold_candidate_right_ / g,
                "only_active_right": self.gold_only_active_,
                "only_candidate_right": self.gold_only_candidate_,
                "p_value": _mcnemar_p(self.gold_only_active_, self.gold_only_candidate_),
            },
            "alpha": self.alpha,
            "verdict": self.verdict(),
        }


def _weighted(rows: Sequence[tuple[float | None, float]]) -> float | None:
    """Mean of the non-None values weighted by their weights (None without weight)."""
    num = sum(v * w for v, w in rows if v is not None)
    den = sum(w for v, w in rows if v is not None)
    return None if den <= 0 else num / den


def merge_shadow_reports(
    reports: Sequence[dict[str, Any]], *, alpha: float | None = None
) -> dict[str, Any]:
    """Merge the :meth:`ShadowLFSet.report` of several workers scoring one candidate.

    Each labeler worker scores the candidate on its share of the events (and on the gold
    of the events it labeled), so the counts add up: events, agreements, flips and the
    gold counts are summed and the agreement, both gold accuracies, the McNemar p-value
    and the verdict are computed again from the sums. Coverage, conflicts and estimated
    accuracies are not additive; they are averaged weighted by each worker's events.

    Parameters
    ----------
    reports : sequence of dict
        Reports of the same candidate version (not checked here); at least one.
    alpha : float, optional
        Significance of the verdict; by default the first report's ``alpha`` (0.05).

    Returns
    -------
    dict
        A report of the same shape, without the per-LF ``analysis`` tables: ``coverage``
        and ``conflict`` (overall, recent window), ``lfs`` (per LF: ``coverage``,
        ``conflicts``, ``est_acc``), plus ``workers`` (how many reports were merged).

    Examples
    --------
    >>> a = {"lfset": "s", "candidate_version": "2", "active_version": "1", "diff": {},
    ...      "n": 10, "agree": 9, "flips": {"0->1": 1, "1->0": 0}, "gold": {"n": 0}}
    >>> m = merge_shadow_reports([a, {**a, "agree": 7, "flips": {"0->1": 0, "1->0": 3}}])
    >>> m["n"], m["agreement"], m["flips"], m["verdict"], m["workers"]
    (20, 0.8, {'0->1': 1, '1->0': 3}, 'undecided', 2)
    """
    if not reports:
        raise ValueError("no report to merge")
    first = reports[0]
    a = float(alpha if alpha is not None else first.get("alpha", 0.05))
    n = sum(int(r.get("n") or 0) for r in reports)
    agree = sum(int(r.get("agree") or 0) for r in reports)
    flips: dict[str, int] = {}
    for r in reports:
        for pair, count in (r.get("flips") or {}).items():
            flips[pair] = flips.get(pair, 0) + int(count)
    golds = [r.get("gold") or {} for r in reports]
    g = sum(int(x.get("n") or 0) for x in golds)
    act_right = sum(int(x.get("active_right") or 0) for x in golds)
    cand_right = sum(int(x.get("candidate_right") or 0) for x in golds)
    only_a = sum(int(x.get("only_active_right") or 0) for x in golds)
    only_c = sum(int(x.get("only_candidate_right") or 0) for x in golds)
    p = _mcnemar_p(only_a, only_c)
    verdict = "undecided" if p >= a else ("better" if only_c > only_a else "worse")
    overall: list[tuple[Any, float]] = []
    per_lf: dict[str, list[tuple[dict[str, Any], float]]] = {}
    for r in reports:
        w = float(r.get("n") or 0)
        recent = (r.get("analysis") or {}).get("recent") or {}
        overall.append((recent.get("overall") or {}, w))
        estimates = r.get("estimated_accuracy") or {}
        for row in recent.get("lfs") or []:
            lf = str(row.get("lf"))
            # The shadow model's estimate (what the report calls estimated accuracy).
            row = {**row, "est_acc": estimates.get(lf, row.get("est_acc"))}
            per_lf.setdefault(lf, []).append((row, w))
    lfs = [
        {
            "lf": lf,
            "coverage": _weighted([(row.get("coverage"), w) for row, w in rows]),
            "conflicts": _weighted([(row.get("conflicts"), w) for row, w in rows]),
            "est_acc": _weighted([(row.get("est_acc"), w) for row, w in rows]),
        }
        for lf, rows in per_lf.items()
    ]
    return {
        "lfset": first.get("lfset"),
        "candidate_version": first.get("candidate_version"),
        "active_version": first.get("active_version"),
        "diff": first.get("diff"),
        "n": n,
        "agree": agree,
        "agreement": None if n == 0 else agree / n,
        "flips": flips,
        "coverage": _weighted([(o.get("coverage"), w) for o, w in overall]),
        "conflict": _weighted([(o.get("conflict"), w) for o, w in overall]),
        "lfs": lfs,
        "gold": {
            "n": g,
            "active_right": act_right,
            "candidate_right": cand_right,
            "active_accuracy": None if g == 0 else act_right / g,
            "candidate_accuracy": None if g == 0 else cand_right / g,
            "only_active_right": only_a,
            "only_candidate_right": only_c,
            "p_value": p,
        },
        "alpha": a,
        "verdict": verdict,
        "workers": len(reports),
    }
