"""``streamlabel bench quality``: the label-free accuracy estimate against the truth.

The drifting fraud stream is labeled by a :class:`~streamlabel.pipeline.Labeler` (LF set
v1, then the analyst's pushes v2/v3/v4 ``push_delay`` events into the phases they answer,
as in ``bench drift``'s pipeline (c)). Each batch's labels are scored by
:class:`~streamlabel.analysis.LabelQuality` *before* any gold for them exists; late gold
for one event in ``gold_every`` arrives ``gold_delay`` events after the event. Reported per
window and per phase: the true accuracy of the emitted labels, the calibrated estimate,
and the peer in the same run: the mean top posterior (what a label model claims about
itself), with their errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streamlabel.analysis import LabelQuality
from streamlabel.datasets import fraud_lfsets, fraud_push_points, make_fraud_stream
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.pipeline import Labeler

__all__ = ["bench_quality"]


def bench_quality(
    n_events: int = 100_000,
    seed: int = 0,
    *,
    batch_size: int = 500,
    window: int = 2_000,
    gold_every: int = 5,
    gold_delay: int = 500,
    push_delay: int = 1_000,
    warmup: int = 4_000,
) -> dict[str, Any]:
    """Compare the calibrated label-free accuracy estimate with the true accuracy.

    Parameters
    ----------
    n_events, seed
        Size and seed of the generated fraud stream (five phases of 20% each).
    batch_size
        Labeler micro-batch.
    window
        Events per reporting window, and the estimator's averaging window.
    gold_every, gold_delay
        One event in ``gold_every`` gets a gold label, ``gold_delay`` events later.
    push_delay
        Events after a phase start when the answering LF set is pushed.
    warmup
        Events at the start excluded from the error summary (no gold has arrived yet).

    Returns
    -------
    dict
        JSON-able: ``windows`` (``true_accuracy``, ``estimate``, ``raw_confidence``,
        ``error``, ``raw_error``), ``phases`` (the same per phase), ``summary``
        (``max_abs_error``, ``mean_abs_error`` of both after the warm-up, per window and
        per phase) and the settings.

    Examples
    --------
    >>> r = bench_quality(4_000, batch_size=200, window=800, warmup=800)
    >>> len(r["windows"]), r["summary"]["windows"]["n"]
    (5, 4)
    """
    if min(n_events, batch_size, window, gold_every) < 1 or gold_delay < 0:
        raise ValueError("n_events, batch_size, window, gold_every must be >= 1, gold_delay >= 0")
    stream = make_fraud_stream(n_events, seed=seed)
    y = np.asarray(stream.y, dtype=np.int64)
    n = len(y)
    sets = fraud_lfsets()
    pushes = {at: sets[k] for at, k in fraud_push_points(stream, push_delay, batch_size)}
    labeler = Labeler(sets[0], OnlineLabelModel(2, half_life=max(1.0, n / 5)), clock=lambda: 0.0)
    quality = LabelQuality(2, window=window)
    P = np.zeros((n, 2))
    est = np.zeros(n)
    gold = np.arange(n) % gold_every == 0
    fed = 0  # gold delivered up to this event (exclusive)
    for lo in range(0, n, batch_size):
        hi = min(n, lo + batch_size)
        if lo in pushes:
            labeler.set_lfset(pushes[lo])
        out = labeler.process_many([(e, None) for e in stream.events[lo:hi]])
        P[lo:hi] = [r.posterior for r in out.labels]
        # Scored before any gold of this batch can exist (prequential).
        est[lo:hi] = quality.expected_accuracy_many(P[lo:hi])
        quality.learn_many(P[lo:hi])
        due = max(fed, hi - gold_delay)
        idx = np.arange(fed, due)[gold[fed:due]]
        if idx.size:
            quality.learn_gold_many(P[idx], y[idx])
        fed = due
    correct = (P.argmax(axis=1) == y).astype(np.float64)
    conf = P.max(axis=1)

    def cell(lo: int, hi: int) -> dict[str, Any]:
        t, e, r = float(correct[lo:hi].mean()), float(est[lo:hi].mean()), float(conf[lo:hi].mean())
        return {
            "start": lo,
            "stop": hi,
            "true_accuracy": t,
            "estimate": e,
            "raw_confidence": r,
            "error": e - t,
            "raw_error": r - t,
        }

    windows = [cell(lo, min(n, lo + window)) for lo in range(0, n, window)]
    phases = {ph.name: cell(ph.start, ph.stop) for ph in stream.phases}

    def summary(cells: list[dict[str, Any]]) -> dict[str, Any]:
        kept = [c for c in cells if c["start"] >= warmup]
        if not kept:
            return {"n": 0}
        err = np.abs([c["error"] for c in kept])
        raw = np.abs([c["raw_error"] for c in kept])
        return {
            "n": len(kept),
            "max_abs_error": float(err.max()),
            "mean_abs_error": float(err.mean()),
            "raw_max_abs_error": float(raw.max()),
            "raw_mean_abs_error": float(raw.mean()),
        }

    return {
        "bench": "quality",
        "n_events": n,
        "seed": seed,
        "batch_size": batch_size,
        "window": window,
        "gold_every": gold_every,
        "gold_delay": gold_delay,
        "warmup": warmup,
        "pushes": [{"index": at, "lfset_version": s.version} for at, s in sorted(pushes.items())],
        "summary": {"windows": summary(windows), "phases": summary(list(phases.values()))},
        "phases": phases,
        "windows": windows,
    }
