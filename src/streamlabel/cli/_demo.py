"""``streamlabel demo``: the core, in one process, on a seeded drifting vote stream.

Until the embedded event pipeline lands, the demo shows the part everything else builds
on: an online label model that follows drifting LFs and new LF versions. The stream has
three phases of equal length:

1. eight LFs of varied accuracy and polarity label a fraud-like binary stream;
2. fraudsters adapt: ``velocity@1`` falls from 0.9 to chance accuracy;
3. the analyst pushes ``velocity@2`` (accurate again) and retires ``velocity@1``.

It reports, per phase, the label accuracy of the online label model and of majority
vote against the truth, and each LF's estimated accuracy next to its true accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamlabel.labelmodel import MajorityVote, OnlineLabelModel

__all__ = ["render_demo", "run_demo"]

# (name, class it votes or None for both, coverage, accuracy) of the starting LF set.
_LFS: tuple[tuple[str, int | None, float, float], ...] = (
    ("velocity", None, 0.5, 0.9),
    ("amount_spike", 1, 0.25, 0.8),
    ("foreign_ip", 1, 0.2, 0.7),
    ("night_hours", None, 0.4, 0.65),
    ("known_merchant", 0, 0.45, 0.85),
    ("small_amount", 0, 0.35, 0.75),
    ("device_change", None, 0.3, 0.75),
    ("chargeback_history", 1, 0.15, 0.85),
)


def _votes(
    rng: np.random.Generator, y: NDArray[np.int64], pol: int | None, cov: float, acc: float
) -> NDArray[np.int64]:
    n = y.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    if pol is None:  # votes both classes, right with probability ``acc``
        fire = rng.random(n) < cov
        out[fire] = np.where(rng.random(n) < acc, y, 1 - y)[fire]
        return out
    # One-class LF: fires on its class with rate ``cov`` and elsewhere at the rate that
    # makes ``acc`` its precision at a balanced stream.
    other = cov * (1 - acc) / acc
    hit = np.where(y == pol, rng.random(n) < cov, rng.random(n) < other)
    out[hit] = pol
    return out


def run_demo(n_events: int = 40_000, seed: int = 0, chunk: int = 500) -> dict[str, Any]:
    """Run the three-phase demo; return a JSON-able report.

    Examples
    --------
    >>> r = run_demo(n_events=6_000, seed=1)
    >>> [p["phase"] for p in r["phases"]]
    ['1 stable', '2 velocity@1 drifts to chance', '3 velocity@2 pushed']
    >>> r["phases"][1]["lf_accuracy"]["velocity@1"]["true"] < 0.6
    True
    """
    rng = np.random.default_rng(seed)
    per = n_events // 3
    model = OnlineLabelModel(cardinality=2, half_life=max(per / 4, 100))
    mv = MajorityVote(cardinality=2)
    phases = []
    for phase in range(3):
        y = rng.integers(0, 2, size=per).astype(np.int64)
        cols, ids = [], []
        for name, pol, cov, acc in _LFS:
            version = 1
            if name == "velocity" and phase == 1:
                acc = 0.5
            if name == "velocity" and phase == 2:
                version = 2
            cols.append(_votes(rng, y, pol, cov, acc))
            ids.append(f"{name}@{version}")
        if phase == 2:
            model.add_lf("velocity@2", predecessor="velocity@1")
            model.retire_lf("velocity@1")
        L = np.stack(cols, axis=1)
        preds_lm, preds_mv = [], []
        for start in range(0, per, chunk):
            block = L[start : start + chunk]
            # Label with the current model, then learn (prequential: no peeking ahead).
            preds_lm.append(model.predict_many(block, ids))
            preds_mv.append(mv.predict_many(block, ids))
            model.learn_many(block, ids)
            mv.learn_many(block, ids)
        est = model.lf_accuracies()
        truth = {}
        for j, lf in enumerate(ids):
            fired = L[:, j] >= 0
            truth[lf] = float((L[fired, j] == y[fired]).mean()) if fired.any() else float("nan")
        phases.append(
            {
                "phase": [
                    "1 stable",
                    "2 velocity@1 drifts to chance",
                    "3 velocity@2 pushed",
                ][phase],
                "events": per,
                "label_accuracy": {
                    "OnlineLabelModel": float((np.concatenate(preds_lm) == y).mean()),
                    "MajorityVote": float((np.concatenate(preds_mv) == y).mean()),
                },
                "lf_accuracy": {lf: {"estimated": est[lf], "true": truth[lf]} for lf in ids},
            }
        )
    return {"demo": "core", "events": per * 3, "seed": seed, "phases": phases}


def render_demo(report: dict[str, Any] | Any) -> str:
    """Render the demo report as text tables."""
    lines = [f"streamlabel core demo: {report['events']:,} events, seed {report['seed']}", ""]
    for p in report["phases"]:
        acc = p["label_accuracy"]
        lines.append(
            f"phase {p['phase']}: label accuracy  online label model "
            f"{acc['OnlineLabelModel']:.3f}   majority vote {acc['MajorityVote']:.3f}"
        )
        lines.append(f"  {'LF':<22}{'estimated':>10}{'true':>8}")
        for lf, a in p["lf_accuracy"].items():
            lines.append(f"  {lf:<22}{a['estimated']:>10.3f}{a['true']:>8.3f}")
        lines.append("")
    return "\n".join(lines)
