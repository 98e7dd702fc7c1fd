"""``streamlabel bench lmspeed``: label-model throughput, beside majority vote and Snorkel.

Measures, on one seeded synthetic stream (``cardinality`` classes; LFs that vote any class,
or with ``unipolar`` keyword-style LFs that each vote one):

- ``learn_many`` and ``predict_proba_many`` rows per second (best of ``repeats``);
- ``learn_one`` + ``predict_proba_one`` microseconds per event (a serving loop);
- the same verbs of :class:`~streamlabel.labelmodel.MajorityVote` as the floor, and
  Snorkel's batch ``LabelModel`` (fit and ``predict_proba``) when it is installed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from streamlabel.datasets import make_bipolar_stream, make_unipolar_stream
from streamlabel.labelmodel import MajorityVote, OnlineLabelModel

__all__ = ["bench_lmspeed"]


def _best(fn: Any, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_lmspeed(
    n_events: int = 200_000,
    n_lfs: int = 10,
    cardinality: int = 2,
    *,
    unipolar: bool = False,
    n_one: int = 20_000,
    repeats: int = 3,
    peers: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Time the label-model verbs; return a JSON-able report.

    Parameters
    ----------
    n_events, n_lfs, cardinality
        The stream's size, LFs and classes.
    unipolar
        Keyword-style LFs that each vote one class (``make_unipolar_stream``) instead of
        LFs that vote any class (``make_bipolar_stream``): the moment fit then reads one
        code per LF, not ``cardinality``.
    n_one
        Events of the ``learn_one`` + ``predict_proba_one`` loop.
    repeats
        Each figure is the best of this many runs.
    peers
        Time Snorkel's ``LabelModel`` beside when it is installed.
    seed
        The stream's seed.

    Examples
    --------
    >>> r = bench_lmspeed(2_000, 5, n_one=200, repeats=1, peers=False)
    >>> sorted(r["models"])
    ['MajorityVote', 'OnlineLabelModel']
    >>> r["models"]["OnlineLabelModel"]["learn_many_rows_per_s"] > 0
    True
    """
    make_stream = make_unipolar_stream if unipolar else make_bipolar_stream
    stream = make_stream(n_events, cardinality, n_lfs, seed=seed)
    L, ids = stream.L, stream.lf_ids
    events = [dict(zip(ids, row, strict=True)) for row in L[:n_one].tolist()]
    report: dict[str, Any] = {
        "bench": "lmspeed",
        "n_events": n_events,
        "n_lfs": n_lfs,
        "cardinality": cardinality,
        "lfs": "unipolar" if unipolar else "bipolar",
        "n_one": len(events),
        "repeats": repeats,
        "models": {},
    }
    for name, make in (
        ("OnlineLabelModel", lambda: OnlineLabelModel(cardinality)),
        ("MajorityVote", lambda: MajorityVote(cardinality)),
    ):
        t_learn = _best(lambda make=make: make().learn_many(L, ids), repeats)
        model = make()
        model.learn_many(L, ids)
        t_pred = _best(lambda model=model: model.predict_proba_many(L, ids), repeats)

        def serve(make: Any = make) -> None:
            m = make()
            m.learn_many(L[: min(1000, n_events)], ids)  # a warm model, as in serving
            for ev in events:
                m.learn_one(ev)
                m.predict_proba_one(ev)

        t_one = _best(serve, repeats)
        report["models"][name] = {
            "learn_many_rows_per_s": n_events / t_learn,
            "predict_proba_many_rows_per_s": n_events / t_pred,
            "learn_one_plus_predict_one_us": t_one / max(len(events), 1) * 1e6,
        }
    report["peers"] = _snorkel(L, cardinality, repeats) if peers else {"skipped": "--no-peers"}
    ours = report["models"]["OnlineLabelModel"]
    snk = report["peers"].get("snorkel LabelModel")
    if snk:
        report["ratio"] = {
            "learn_rows_per_s_vs_snorkel_fit": ours["learn_many_rows_per_s"]
            / snk["fit_rows_per_s"],
            "predict_rows_per_s_vs_snorkel": ours["predict_proba_many_rows_per_s"]
            / snk["predict_proba_rows_per_s"],
        }
    return report


def _snorkel(L: np.ndarray, cardinality: int, repeats: int) -> dict[str, Any]:
    try:
        import torch
        from snorkel.labeling.model import LabelModel
    except ImportError as exc:  # optional peer (the ``peers`` extra)
        return {"skipped": f"snorkel not installed ({exc.name})"}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # fastest setting on a small busy machine; reported below
    try:
        lm = LabelModel(cardinality=cardinality, verbose=False)
        t0 = time.perf_counter()
        lm.fit(L, n_epochs=100, seed=123, log_freq=100)
        t_fit = time.perf_counter() - t0
        t_pred = _best(lambda: lm.predict_proba(L), repeats)
    finally:
        torch.set_num_threads(threads)
    return {
        "snorkel LabelModel": {
            "fit_epochs": 100,
            "fit_rows_per_s": L.shape[0] / t_fit,
            "predict_proba_rows_per_s": L.shape[0] / t_pred,
            "torch_threads": 1,
        }
    }
