"""``streamlabel bench proxies``: the label model on sets shaped like WRENCH's, beside MV.

The model must stay at or above majority vote on benchmark sets we do not have. Each proxy
stands in for one of them: a generated stream of one-class LFs
(:func:`~streamlabel.datasets.make_unipolar_stream`) with the set's number of classes, of
LFs and of events to learn from, and the class shares of its source corpus (the published
training sets' shares, not WRENCH's splits, which we do not have; across classes in a
seeded order), at four shapes of LF, from 10-50% of their class fired on at a lift of
2-20 to 1-10% at 30-300. Each stream is learned once in chunks of 500, in order, without
gold, and its next 3,000 events are predicted. Reported per proxy and shape: accuracy,
macro-F1 and, for two classes, F1 of class 1, of :class:`~streamlabel.labelmodel.OnlineLabelModel`,
:class:`~streamlabel.labelmodel.MajorityVote` (ties by its prior), majority vote with random
ties (WRENCH's), and the model with its prior always at ``prior_weight`` (no
``balance_agreement_``: the model before the twenty-second session), and the model minus
each in points. What a proxy cannot copy: the real LFs' correlations, their precision,
how their coverage differs between classes. ChemProt (10 classes, 26 LFs) is left out:
its class shares are not known here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamlabel.bench._labelmodel import snorkel_random_tie_break, vote_counts
from streamlabel.bench._regimes import _scores
from streamlabel.bench._shapes import gap_points
from streamlabel.datasets import make_unipolar_stream
from streamlabel.labelmodel import MajorityVote, OnlineLabelModel

__all__ = ["PROXIES", "SHAPES", "bench_proxies"]

MODEL = "OnlineLabelModel"
HEDGED = "OnlineLabelModel, prior always at prior_weight"
MV = "MajorityVote"
RANDOM_MV = "majority vote, random ties"
N_TEST = 3000
CHUNK = 500

#: name -> (classes, LFs, events to learn from, class shares of the source corpus).
PROXIES: dict[str, tuple[int, int, int, tuple[float, ...]]] = {
    # SMS Spam Collection: 4,827 ham and 747 spam messages; WRENCH: 73 LFs, 4,571 to learn.
    "sms": (2, 73, 4571, (0.866, 0.134)),
    # AG News: four topics of 30,000 articles each; WRENCH: 9 LFs, 96,000 to learn (the
    # proxy learns from 20,000 of them, for time).
    "agnews": (4, 9, 20000, (0.25, 0.25, 0.25, 0.25)),
    # TREC's 5,452 training questions by type (ABBR, DESC, ENTY, HUM, LOC, NUM); WRENCH: 68
    # LFs, 4,965 to learn.
    "trec": (6, 68, 4965, (0.016, 0.215, 0.229, 0.225, 0.153, 0.164)),
    # SemEval-2010 Task 8's nine directed relation types, 6-12% each; WRENCH: 164 LFs,
    # 1,749 to learn.
    "semeval": (9, 164, 1749, (0.124, 0.117, 0.106, 0.091, 0.088, 0.086, 0.084, 0.068, 0.062)),
}

#: name -> (recall range of an LF on its class, lift range over the other classes).
SHAPES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "recall 2-15%, lift 10-100": ((0.02, 0.15), (10.0, 100.0)),
    "recall 5-30%, lift 3-30": ((0.05, 0.3), (3.0, 30.0)),
    "recall 10-50%, lift 2-20": ((0.1, 0.5), (2.0, 20.0)),
    "recall 1-10%, lift 30-300": ((0.01, 0.1), (30.0, 300.0)),
}


class _Hedged(OnlineLabelModel):
    """The model whose prior stays at ``prior_weight`` whatever the balances' agreement."""

    def _agreement(self, pi_cof: Any) -> float:
        return 0.0


def _stream_scores(name: str, shape: str, seed: int) -> dict[str, Any]:
    k, n_lfs, n_learn, shares = PROXIES[name]
    recall, lift = SHAPES[shape]
    balance = np.array(shares) / sum(shares)
    if k > 2:  # which class gets which share: seeded, as a corpus's order is arbitrary
        balance = np.random.default_rng(seed).permutation(balance)
    s = make_unipolar_stream(
        n_learn + N_TEST,
        k,
        n_lfs,
        class_balance=balance.tolist(),
        recall=recall,
        lift=lift,
        seed=seed,
    )
    test, y = s.L[n_learn:], s.y[n_learn:]
    row: dict[str, Any] = {"seed": seed, "models": {}}
    models: dict[str, Any] = {MODEL: OnlineLabelModel(k), HEDGED: _Hedged(k), MV: MajorityVote(k)}
    for label, model in models.items():
        for start in range(0, n_learn, CHUNK):
            model.learn_many(s.L[start : min(n_learn, start + CHUNK)], s.lf_ids)
        row["models"][label] = _scores(model.predict_many(test, s.lf_ids), y, k)
    row["models"][RANDOM_MV] = _scores(snorkel_random_tie_break(vote_counts(test, k)), y, k)
    row["balance_agreement"] = models[MODEL].balance_agreement_
    return row


def _gaps(rows: Sequence[Mapping[str, Any]], k: int) -> dict[str, Any]:
    metrics = ("accuracy", "macro_f1", "f1_class1") if k == 2 else ("accuracy", "macro_f1")
    return {
        f"vs {base}": {m: gap_points(rows, MODEL, base, m) for m in metrics}
        for base in (MV, RANDOM_MV, HEDGED)
    }


def bench_proxies(
    seeds: int = 8, proxies: Sequence[str] = tuple(PROXIES), shapes: Sequence[str] = tuple(SHAPES)
) -> dict[str, Any]:
    """Score the label model on the WRENCH-shaped proxies; return a JSON-able report.

    Parameters
    ----------
    seeds
        Streams per proxy and shape (seeds 0 to ``seeds - 1``).
    proxies, shapes
        Names from :data:`PROXIES` and :data:`SHAPES`; all by default.

    Returns
    -------
    dict
        ``proxies``: per proxy its ``settings`` and per shape the ``streams`` (per seed,
        each model's ``accuracy``, ``macro_f1``, ``f1_class1`` and the model's
        ``balance_agreement``) and ``vs <baseline>``: the model minus the baseline in
        points (mean, worst, streams more than 0.1 below); ``summary``: the same per
        proxy over all its shapes.

    Examples
    --------
    >>> r = bench_proxies(seeds=1, proxies=["sms"], shapes=["recall 10-50%, lift 2-20"])
    >>> shape = r["proxies"]["sms"]["shapes"]["recall 10-50%, lift 2-20"]
    >>> sorted(shape["streams"][0]["models"])  # doctest: +NORMALIZE_WHITESPACE
    ['MajorityVote', 'OnlineLabelModel', 'OnlineLabelModel, prior always at prior_weight',
     'majority vote, random ties']
    >>> sorted(r["summary"]["sms"])  # doctest: +NORMALIZE_WHITESPACE
    ['vs MajorityVote', 'vs OnlineLabelModel, prior always at prior_weight',
     'vs majority vote, random ties']
    """
    for name in proxies:
        if name not in PROXIES:
            raise ValueError(f"unknown proxy {name!r}; known: {', '.join(PROXIES)}")
    for shape in shapes:
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1; got {seeds}")
    report: dict[str, Any] = {
        "bench": "proxies",
        "seeds": seeds,
        "n_test": N_TEST,
        "proxies": {},
        "summary": {},
    }
    for name in proxies:
        k, n_lfs, n_learn, shares = PROXIES[name]
        per_shape: dict[str, Any] = {}
        every: list[dict[str, Any]] = []
        for shape in shapes:
            rows = [_stream_scores(name, shape, seed) for seed in range(seeds)]
            every += rows
            per_shape[shape] = {"streams": rows, **_gaps(rows, k)}
        report["proxies"][name] = {
            "settings": {
                "cardinality": k,
                "n_lfs": n_lfs,
                "n_learn": n_learn,
                "class_shares": list(shares),
            },
            "shapes": per_shape,
        }
        report["summary"][name] = _gaps(every, k)
    return report
