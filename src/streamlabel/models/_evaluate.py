"""Champion/challenger: score a model on held-out events, decide whether to promote it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["METRICS", "Decision", "decide", "evaluate"]

#: The metrics :func:`evaluate` returns, and whether higher is better for each.
METRICS: Mapping[str, bool] = {
    "accuracy": True,
    "macro_f1": True,
    "auc": True,
    "log_loss": False,
}
_EPS = 1e-15  # probabilities are clipped here for the log loss, as scikit-learn does


class _Predicts(Protocol):
    def predict_proba_many(self, payloads: Sequence[Mapping[str, Any]]) -> NDArray[np.float64]:
        """Class probabilities, shape (n, k)."""


def evaluate(
    model: _Predicts, payloads: Sequence[Mapping[str, Any]], y: ArrayLike
) -> dict[str, float]:
    """Score ``model`` on held-out ``payloads`` against hard labels or class probabilities.

    Parameters
    ----------
    model
        Anything with ``predict_proba_many(payloads) -> (n, k)``, e.g. an
        :class:`~streamlabel.models.EndModel`.
    payloads
        Held-out event payloads.
    y
        Ground truth, shape (n,) (classes ``0 .. k - 1``), or class probabilities, shape
        (n, k), e.g. the label model's: accuracy, F1 and AUC are then measured against
        their most probable class, the log loss is the cross-entropy against them.

    Returns
    -------
    dict
        ``n`` (events), ``accuracy``, ``macro_f1`` (over all k classes), ``log_loss``
        (natural log, per event), and ``auc`` (ROC AUC of class 1) when k = 2 and both
        classes occur in the truth. All values are finite floats: the dict is JSON-able.

    Examples
    --------
    >>> import numpy as np
    >>> class Fixed:  # any object with predict_proba_many
    ...     def predict_proba_many(self, payloads):
    ...         return np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    >>> m = evaluate(Fixed(), [{}] * 4, [0, 1, 1, 1])
    >>> m["accuracy"], round(m["macro_f1"], 3), round(m["log_loss"], 3), m["auc"]
    (0.75, 0.733, 0.4, 1.0)
    """
    from sklearn.metrics import f1_score, roc_auc_score

    proba = np.asarray(model.predict_proba_many(payloads), dtype=np.float64)
    n = len(payloads)
    if proba.ndim != 2 or proba.shape[0] != n or proba.shape[1] < 2:
        raise ValueError(f"model returned probabilities of shape {proba.shape} for {n} events")
    k = proba.shape[1]
    target = np.asarray(y)
    if target.ndim == 2:
        if target.shape != proba.shape:
            raise ValueError(f"y has shape {target.shape}, the predictions {proba.shape}")
        soft = target.astype(np.float64)
        truth = soft.argmax(axis=1)
    elif target.ndim == 1 and target.shape[0] == n:
        truth = target.astype(np.int64)
        if ((truth < 0) | (truth >= k)).any():
            raise ValueError(f"hard labels must be classes 0..{k - 1}")
        soft = np.eye(k)[truth]
    else:
        raise ValueError(f"y must have shape ({n},) or ({n}, {k}), got {target.shape}")
    if n == 0:
        raise ValueError("cannot evaluate on zero events")
    pred = proba.argmax(axis=1)
    clipped = np.clip(proba, _EPS, 1.0)
    out = {
        "n": float(n),
        "accuracy": float((pred == truth).mean()),
        "macro_f1": float(
            f1_score(truth, pred, labels=list(range(k)), average="macro", zero_division=0)
        ),
        "log_loss": float(-(soft * np.log(clipped)).sum(axis=1).mean()),
    }
    if k == 2 and 0 < truth.sum() < n:  # AUC is undefined when the truth has one class
        out["auc"] = float(roc_auc_score(truth, proba[:, 1]))
    return out


@dataclass(frozen=True)
class Decision:
    """Whether a challenger replaces the champion, and why.

    Attributes
    ----------
    promote : bool
        True if the challenger should be promoted.
    metric : str
        The metric compared (a key of :data:`METRICS`).
    champion : float or None
        The champion's value (None: there is no champion).
    challenger : float
        The challenger's value.
    margin : float
        The improvement required (in the metric's units, in its better direction).
    reason : str
        One line saying what was compared and what it means.

    Examples
    --------
    >>> d = decide({"accuracy": 0.90}, {"accuracy": 0.93}, margin=0.01)
    >>> d.promote, d.reason
    (True, 'challenger accuracy 0.9300 beats champion 0.9000 by 0.0300 >= margin 0.0100')
    >>> Decision.from_dict(d.to_dict()) == d
    True
    """

    promote: bool
    metric: str
    champion: float | None
    challenger: float
    margin: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return the decision as a JSON-able dict."""
        return {
            "promote": self.promote,
            "metric": self.metric,
            "champion": self.champion,
            "challenger": self.challenger,
            "margin": self.margin,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Decision:
        """Build the decision from :meth:`to_dict`'s output."""
        champion = d.get("champion")
        return cls(
            bool(d["promote"]),
            str(d["metric"]),
            None if champion is None else float(champion),
            float(d["challenger"]),
            float(d["margin"]),
            str(d["reason"]),
        )


def decide(
    champion_metrics: Mapping[str, float] | None,
    challenger_metrics: Mapping[str, float],
    margin: float = 0.0,
    metric: str = "accuracy",
) -> Decision:
    """Promote the challenger only if it beats the champion on ``metric`` by ``margin``.

    The improvement is measured in the metric's better direction (up for accuracy, F1
    and AUC, down for log loss). The challenger is promoted when the improvement is at
    least ``margin`` and above zero: a tie never replaces a champion. With no champion
    (``None``), any challenger with a finite value is promoted.

    Parameters
    ----------
    champion_metrics
        :func:`evaluate`'s output for the serving model, or None when none serves.
    challenger_metrics
        :func:`evaluate`'s output for the candidate, on the same events.
    margin
        Required improvement, >= 0.
    metric
        One of ``accuracy``, ``macro_f1``, ``auc``, ``log_loss``.

    Returns
    -------
    Decision

    Examples
    --------
    >>> decide(None, {"accuracy": 0.5}).promote
    True
    >>> d = decide({"log_loss": 0.30}, {"log_loss": 0.29}, margin=0.02, metric="log_loss")
    >>> d.promote, d.reason
    (False, 'challenger log_loss 0.2900 improves on champion 0.3000 by 0.0100 < margin 0.0200')
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; one of {sorted(METRICS)}")
    margin = float(margin)
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    if metric not in challenger_metrics:
        raise ValueError(f"challenger metrics lack {metric!r} (AUC exists only for k = 2)")
    new = float(challenger_metrics[metric])
    if not math.isfinite(new):
        return Decision(False, metric, None, new, margin, f"challenger {metric} is {new}")
    if champion_metrics is None:
        reason = f"no champion: challenger {metric} {new:.4f} is promoted"
        return Decision(True, metric, None, new, margin, reason)
    if metric not in champion_metrics:
        raise ValueError(f"champion metrics lack {metric!r}")
    old = float(champion_metrics[metric])
    gain = (new - old) if METRICS[metric] else (old - new)
    if not math.isfinite(old):
        reason = f"champion {metric} is {old}: challenger {new:.4f} is promoted"
        return Decision(True, metric, None, new, margin, reason)
    if gain > 0 and gain >= margin:
        promote = True
        reason = (
            f"challenger {metric} {new:.4f} beats champion {old:.4f} by {gain:.4f} "
            f">= margin {margin:.4f}"
        )
    elif gain > 0:
        promote = False
        reason = (
            f"challenger {metric} {new:.4f} improves on champion {old:.4f} by {gain:.4f} "
            f"< margin {margin:.4f}"
        )
    else:
        promote = False
        reason = f"challenger {metric} {new:.4f} is not better than champion {old:.4f}"
    return Decision(promote, metric, old, new, margin, reason)
