"""``streamlabel bench shapes``: the label model on streams of random shape, beside majority vote.

The named regimes (``bench regimes``) are six shapes chosen while building the model; the
datasets it will meet are not among them. Here every stream's whole shape is drawn at
random (:func:`streamlabel.datasets.make_random_stream`: classes, LFs, balance, kinds and
quality of LFs, copies, a per-event firing intensity): learn on its first part (chunks of
500, in order, no gold), predict the last 3,000 events. Reported per stream and summed up
per intensity: the differences of :class:`~streamlabel.labelmodel.OnlineLabelModel` to
:class:`~streamlabel.labelmodel.MajorityVote` (ties by its prior) and to majority vote
with random ties (Snorkel's tie-break, as WRENCH publishes it), and ablations in the same
run: the model without its intensity guard, with the guard but without the moment fit's
pair inflation, without the moment fit's restarts from the prior, fitting every pair of
LFs (none left out as unexplained), and without the unanimity rule
(``unanimous_weight=0``: the same learned state, predicting with the model alone where
all votes agree or one class leads); and the model with ``balance="cofiring"`` (thirteenth
session), the setting for rule LFs that fire on their own class, which these streams often
do not have.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamlabel.bench._labelmodel import COFIRING, snorkel_random_tie_break, vote_counts
from streamlabel.bench._regimes import _scores
from streamlabel.datasets import make_random_stream
from streamlabel.labelmodel import MajorityVote, OnlineLabelModel

__all__ = ["bench_shapes"]

GUARDED = "OnlineLabelModel"
UNGUARDED = "OnlineLabelModel without intensity guard"
UNINFLATED = "OnlineLabelModel without pair inflation"
UNHEDGED = "OnlineLabelModel without the unanimity rule"
UNRESTARTED = "OnlineLabelModel without restarts"
ALL_PAIRS = "OnlineLabelModel fitting every pair"
MV = "MajorityVote"
RANDOM_MV = "majority vote, random ties"


class _Unguarded(OnlineLabelModel):
    """The model with its intensity guard off: the co-firing is never measured."""

    def _cofiring(self, counts: Any) -> float:
        return 0.0


class _Unrestarted(OnlineLabelModel):
    """The model whose refits only ever start from the previous fit (before the ninth session)."""

    def _restart_due(self) -> bool:
        return False


class _AllPairs(OnlineLabelModel):
    """The model whose moment fit keeps the pairs no fit of it explains."""

    def _unexplained(self, counts: Any, one_field: Any) -> NDArray[np.bool_]:
        m = len(counts.tt)
        return np.zeros((m, m), dtype=bool)


def without_unanimity(model: OnlineLabelModel) -> OnlineLabelModel:
    """Copy a learned ``model`` to predict with ``unanimous_weight=0`` (the ablation).

    Examples
    --------
    >>> m = OnlineLabelModel(2)
    >>> m.learn_many([[1, -1], [1, 0]], ["a@1", "b@1"])
    >>> (without_unanimity(m).unanimous_weight, m.unanimous_weight)
    (0.0, 0.5)
    """
    out = copy.deepcopy(model)
    out.unanimous_weight = 0.0
    return out


class _Uninflated(OnlineLabelModel):
    """The model whose guarded moment fit assumes no pair inflation (the guard's first form)."""

    def _inflation(self, mu: Any, OB: Any, A: Any, w: Any) -> float:
        return 1.0


def gap_points(
    rows: Sequence[Mapping[str, Any]], model: str, base: str, metric: str
) -> dict[str, Any]:
    """``model``'s ``metric`` minus ``base``'s over ``rows``, in points: mean, worst, below.

    Each row holds ``{"models": {name: {metric: value}}}``; "below" counts rows more than
    0.1 point below.

    Examples
    --------
    >>> rows = [{"models": {"a": {"acc": 0.9}, "b": {"acc": 0.8}}},
    ...         {"models": {"a": {"acc": 0.5}, "b": {"acc": 0.6}}}]
    >>> {k: round(v, 6) for k, v in gap_points(rows, "a", "b", "acc").items()}
    {'mean_points': 0.0, 'worst_points': -10.0, 'below_by_0.1_points': 1}
    """
    d = 100.0 * np.array([r["models"][model][metric] - r["models"][base][metric] for r in rows])
    return {
        "mean_points": float(d.mean()),
        "worst_points": float(d.min()),
        "below_by_0.1_points": int((d < -0.1).sum()),
    }


def _summary(rows: list[dict[str, Any]], base: str) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows)}
    for metric in ("accuracy", "macro_f1"):
        out[metric] = gap_points(rows, GUARDED, base, metric)
    return out


def bench_shapes(seeds: Sequence[int] = range(150), chunk_size: int = 500) -> dict[str, Any]:
    """Score the label models on random-shape streams; return a JSON-able report.

    Parameters
    ----------
    seeds
        Seeds of :func:`~streamlabel.datasets.make_random_stream`, one stream each.
    chunk_size
        Events per ``learn_many`` call.

    Returns
    -------
    dict
        ``streams``: per seed its shape (``settings``), the model's ``cofiring_ratio``,
        ``intensity_weight`` and ``pair_inflation`` after learning, and per model
        ``accuracy``, ``macro_f1``, ``f1_class1`` (binary) and ``learn_seconds``.
        ``summary``: over all streams and per intensity (0, 1, 3), the model's accuracy
        and macro-F1 minus each baseline's in points: mean, worst, and the number of
        streams more than 0.1 below.

    Examples
    --------
    >>> r = bench_shapes(seeds=[3])
    >>> names = [GUARDED, UNGUARDED, UNINFLATED, UNRESTARTED, ALL_PAIRS, COFIRING, UNHEDGED, MV,
    ...          RANDOM_MV]
    >>> sorted(r["streams"][0]["models"]) == sorted(names)
    True
    >>> r["summary"]["all"]["vs " + MV]["accuracy"]["below_by_0.1_points"] in (0, 1)
    True
    """
    streams: list[dict[str, Any]] = []
    for seed in seeds:
        r = make_random_stream(seed)
        s, n = r.stream, r.n_learn
        k, y = s.cardinality, s.y[n:]
        row: dict[str, Any] = {"seed": seed, "settings": r.settings, "models": {}}
        models: dict[str, Any] = {
            GUARDED: OnlineLabelModel(k),
            UNGUARDED: _Unguarded(k),
            UNINFLATED: _Uninflated(k),
            UNRESTARTED: _Unrestarted(k),
            ALL_PAIRS: _AllPairs(k),
            COFIRING: OnlineLabelModel(k, balance="cofiring"),
            MV: MajorityVote(k),
        }
        for name, model in models.items():
            t0 = time.perf_counter()
            for start in range(0, n, chunk_size):
                model.learn_many(s.L[start : min(n, start + chunk_size)], s.lf_ids)
            secs = time.perf_counter() - t0
            scores = _scores(model.predict_many(s.L[n:], s.lf_ids), y, k)
            row["models"][name] = {**scores, "learn_seconds": secs}
        unhedged = without_unanimity(models[GUARDED])
        scores = _scores(unhedged.predict_many(s.L[n:], s.lf_ids), y, k)
        row["models"][UNHEDGED] = {
            **scores,
            "learn_seconds": row["models"][GUARDED]["learn_seconds"],
        }
        row["models"][RANDOM_MV] = {
            **_scores(snorkel_random_tie_break(vote_counts(s.L[n:], k)), y, k),
            "learn_seconds": None,
        }
        row["cofiring_ratio"] = models[GUARDED].cofiring_ratio_
        row["intensity_weight"] = models[GUARDED].intensity_weight_
        row["pair_inflation"] = models[GUARDED].pair_inflation_
        streams.append(row)
    groups: dict[str, list[dict[str, Any]]] = {"all": streams}
    for var in sorted({r["settings"]["intensity"] for r in streams}):
        groups[f"intensity {var:g}"] = [r for r in streams if r["settings"]["intensity"] == var]
    summary = {
        name: {
            f"vs {base}": _summary(rows, base)
            for base in (
                MV,
                RANDOM_MV,
                UNGUARDED,
                UNINFLATED,
                UNRESTARTED,
                ALL_PAIRS,
                COFIRING,
                UNHEDGED,
            )
        }
        for name, rows in groups.items()
    }
    return {"bench": "shapes", "seeds": list(seeds), "summary": summary, "streams": streams}
