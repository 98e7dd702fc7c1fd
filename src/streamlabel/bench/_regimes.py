"""``streamlabel bench regimes``: label models on the synthetic regimes, beside MV and Snorkel.

Each regime of :func:`streamlabel.datasets.synthetic_regimes` is split in halves: the
first half is streamed once (chunks of 500, no gold) through each model, the second half
is predicted. Reported per regime and model: accuracy, macro-F1, F1 of class 1 (binary),
learning seconds; plus the differences to :class:`~streamlabel.labelmodel.MajorityVote`.
Snorkel's ``LabelModel`` (batch, 500 epochs) runs beside when installed. So do the model
and majority vote told the class balance (``balance`` and ``class_balance`` = the learn
half's true class shares, plus one per class; the model at ``prior_weight=1``): what a
user who knows the balance gets, and whether the model still beats majority vote once
neither has to estimate it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamlabel.datasets import synthetic_regimes
from streamlabel.labelmodel import MajorityVote, OnlineLabelModel

__all__ = ["bench_regimes"]

GIVEN = "OnlineLabelModel, balance given"
MV_GIVEN = "MajorityVote, balance given"


def _f1(pred: NDArray[np.int64], y: NDArray[np.int64], c: int) -> float | None:
    tp = int(((pred == c) & (y == c)).sum())
    fp = int(((pred == c) & (y != c)).sum())
    fn = int(((pred != c) & (y == c)).sum())
    return None if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)


def _scores(pred: NDArray[np.int64], y: NDArray[np.int64], k: int) -> dict[str, Any]:
    f1s = [f for f in (_f1(pred, y, c) for c in range(k)) if f is not None]
    return {
        "accuracy": float((pred == y).mean()),
        "macro_f1": float(np.mean(f1s)),
        "f1_class1": _f1(pred, y, 1) if k == 2 else None,
    }


def bench_regimes(
    seeds: tuple[int, ...] = (0, 1, 2), n: int = 6000, peers: bool = True
) -> dict[str, Any]:
    """Score the label models on every synthetic regime; return a JSON-able report.

    Examples
    --------
    >>> r = bench_regimes(seeds=(0,), n=1000, peers=False)
    >>> sorted(r["regimes"])[:2]
    ['bipolar', 'correlated']
    >>> sorted(r["regimes"]["bipolar"]["models"])  # doctest: +NORMALIZE_WHITESPACE
    ['MajorityVote', 'MajorityVote, balance given', 'OnlineLabelModel',
     'OnlineLabelModel, balance given']
    """
    snorkel = _snorkel_factory() if peers else None
    report: dict[str, Any] = {"bench": "regimes", "seeds": list(seeds), "n": n, "regimes": {}}
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for seed in seeds:
        for name, s in synthetic_regimes(seed, n=n).items():
            half = len(s) // 2
            k = s.cardinality
            y = s.y[half:]
            shares = np.bincount(s.y[:half], minlength=k) + 1.0
            models: dict[str, Any] = {
                "OnlineLabelModel": OnlineLabelModel(k),
                "MajorityVote": MajorityVote(k),
                GIVEN: OnlineLabelModel(k, balance=shares.tolist(), prior_weight=1.0),
                MV_GIVEN: MajorityVote(k, class_balance=shares / shares.sum()),
            }
            for label, model in models.items():
                t0 = time.perf_counter()
                for start in range(0, half, 500):
                    model.learn_many(s.L[start : min(half, start + 500)], s.lf_ids)
                secs = time.perf_counter() - t0
                row = _scores(model.predict_many(s.L[half:], s.lf_ids), y, k)
                row["learn_seconds"] = secs
                runs.setdefault(name, {}).setdefault(label, []).append(row)
            if snorkel is not None:
                row = snorkel(s.L[:half], s.L[half:], y, k)
                runs.setdefault(name, {}).setdefault("snorkel LabelModel", []).append(row)
    for name, per_model in runs.items():
        summary: dict[str, Any] = {}
        for label, rows in per_model.items():
            summary[label] = {
                key: (
                    None
                    if any(r[key] is None for r in rows)
                    else float(np.mean([r[key] for r in rows]))
                )
                for key in rows[0]
            }
        ours, mv = summary["OnlineLabelModel"], summary["MajorityVote"]
        given, mv_given = summary[GIVEN], summary[MV_GIVEN]
        report["regimes"][name] = {
            "models": summary,
            "online_minus_mv": {
                key: None if ours[key] is None else ours[key] - mv[key]
                for key in ("accuracy", "macro_f1", "f1_class1")
            },
            "given_minus_mv_given": {
                key: None if given[key] is None else given[key] - mv_given[key]
                for key in ("accuracy", "macro_f1", "f1_class1")
            },
        }
    if peers and snorkel is None:
        report["peers"] = {"skipped": "snorkel not installed"}
    return report


def _snorkel_fit_predict() -> Any:
    """``(L_train, L_test, k) -> (predictions, fit seconds)`` with Snorkel, or None.

    Snorkel's ``LabelModel``, 500 epochs, one torch thread, random tie-break; None when
    snorkel is not installed.
    """
    try:
        import torch
        from snorkel.labeling.model import LabelModel
    except ImportError:
        return None

    def fit_predict(
        L_train: NDArray[np.int64], L_test: NDArray[np.int64], k: int
    ) -> tuple[NDArray[np.int64], float]:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            lm = LabelModel(cardinality=k, verbose=False)
            t0 = time.perf_counter()
            lm.fit(L_train, n_epochs=500, seed=123, log_freq=500, progress_bar=False)
            secs = time.perf_counter() - t0
            pred = lm.predict(L_test, tie_break_policy="random")
        finally:
            torch.set_num_threads(threads)
        return np.asarray(pred, dtype=np.int64), secs

    return fit_predict


def _snorkel_factory() -> Any:
    fit_predict = _snorkel_fit_predict()
    if fit_predict is None:
        return None

    def run(
        L_train: NDArray[np.int64], L_test: NDArray[np.int64], y: NDArray[np.int64], k: int
    ) -> dict[str, Any]:
        pred, secs = fit_predict(L_train, L_test, k)
        row = _scores(pred, y, k)
        row["learn_seconds"] = secs
        return row

    return run
