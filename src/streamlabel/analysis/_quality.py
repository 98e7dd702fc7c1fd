"""How accurate are the emitted labels? An estimate from posteriors, calibrated by late gold.

The label model's top posterior is an accuracy estimate only if the model is calibrated,
and it is not where the class balance is poorly identified (on the drifting fraud stream
the mean top posterior is ~0.77 while 98% of the labels are right). Late gold labels
(chargebacks, verdicts) are few and late, but enough to calibrate: each emitted label
falls in a cell (its class, the decile of its confidence); a cell's accuracy is estimated
from the gold that fell in it, shrunk toward its class's pooled gold accuracy, which is
itself shrunk toward the mean confidence. Gold statistics decay with a half-life in
labeled events so the calibration follows drift.

The same gold also *checks* the labels: the accuracy of the emitted labels on the most
recent ``window`` gold labels (overall and per predicted class) is reported next to the
estimate, so a dashboard shows the estimate and the measurement side by side.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["QUALITY_FORMAT", "LabelQuality"]

#: ``format`` of :meth:`LabelQuality.to_dict` (``format_version`` 1).
QUALITY_FORMAT: Final = "streamlabel.label-quality"

_F = NDArray[np.float64]


class LabelQuality:
    """Label-free accuracy estimate of emitted labels, calibrated by late gold.

    Parameters
    ----------
    cardinality : int
        Number of classes (k >= 2).
    n_bins : int, default=10
        Confidence bins per predicted class, equal width over ``[1/k, 1]``.
    half_life : float or None, default=5000
        Half-life of the gold statistics, in labeled events (``None``: no forgetting).
    prior : float, default=5
        Pseudo-count of the shrinkage of a cell toward its class, and of a class toward
        its mean confidence.
    window : int, default=2000
        Recent labels the estimate averages over, and recent gold labels the measured
        accuracy is computed over.

    Examples
    --------
    >>> import numpy as np
    >>> q = LabelQuality(2)
    >>> P = np.array([[0.6, 0.4]] * 100)      # the model says "60% sure"
    >>> q.learn_many(P)
    >>> round(q.estimate()["raw_confidence"], 2)
    0.6
    >>> q.learn_gold_many(P, np.zeros(100, dtype=int))   # ... but it is always right
    >>> q.estimate()["expected_accuracy"] > 0.95
    True
    """

    def __init__(
        self,
        cardinality: int,
        *,
        n_bins: int = 10,
        half_life: float | None = 5000.0,
        prior: float = 5.0,
        window: int = 2000,
    ) -> None:
        self.cardinality = cardinality
        self.n_bins = n_bins
        self.half_life = half_life
        self.prior = prior
        self.window = window

    # ------------------------------------------------------------------ state
    def _ensure_state(self) -> None:
        if hasattr(self, "_cnt"):
            return
        k, b = self.cardinality, self.n_bins
        if k < 2 or b < 1 or self.window < 1 or not (self.prior > 0 and math.isfinite(self.prior)):
            raise ValueError("cardinality >= 2, n_bins >= 1, window >= 1 and a finite prior > 0")
        if self.half_life is not None and not self.half_life >= 1:
            raise ValueError(f"half_life must be >= 1 event or None; got {self.half_life}")
        self._cnt = np.zeros((k, b))  # decayed gold labels per (predicted class, bin)
        self._hit = np.zeros((k, b))  # ... of which the emitted label was right
        self._recent: deque[tuple[int, int, float]] = deque(maxlen=self.window)
        # (emitted class, 1 if it was right) of the most recent gold labels: the check.
        self._gold: deque[tuple[int, int]] = deque(maxlen=self.window)
        self.n_labels_ = 0
        self.n_gold_ = 0

    def _cells(self, P: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64], _F]:
        arr = np.asarray(P, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != self.cardinality:
            raise ValueError(f"posteriors must have shape (n, {self.cardinality}); got {arr.shape}")
        k, b = self.cardinality, self.n_bins
        pred = arr.argmax(axis=1)
        conf = arr.max(axis=1)
        bins = np.clip(((conf - 1 / k) / (1 - 1 / k) * b).astype(np.int64), 0, b - 1)
        return pred, bins, conf

    def _mid(self) -> _F:
        k, b = self.cardinality, self.n_bins
        return np.asarray((np.arange(b) + 0.5) / b * (1 - 1 / k) + 1 / k)

    def _table(self) -> _F:
        """Calibrated accuracy of each (predicted class, bin) cell, shape (k, n_bins)."""
        mid = self._mid()
        n_cls = self._cnt.sum(axis=1)
        # The mean confidence of the gold in each class (the bins' midpoints), or of the
        # bins when a class has no gold yet: what an uncalibrated model would claim.
        raw = np.where(
            n_cls > 0, (self._cnt * mid).sum(axis=1) / np.maximum(n_cls, 1e-300), mid.mean()
        )
        cls = (self._hit.sum(axis=1) + self.prior * raw) / (n_cls + self.prior)
        # A cell is its class's accuracy moved by how far its confidence is from the class's.
        target = np.clip(cls[:, None] + (mid[None, :] - raw[:, None]), 0.0, 1.0)
        return np.asarray((self._hit + self.prior * target) / (self._cnt + self.prior))

    def to_dict(self) -> dict[str, Any]:
        """Return the settings and the state as JSON-able data (see :meth:`from_dict`).

        What a labeler's snapshot carries so a restarted worker keeps its calibration and
        its recent windows instead of waiting for thousands of new gold labels.

        Examples
        --------
        >>> q = LabelQuality(2, window=3)
        >>> q.learn_many([[0.9, 0.1], [0.2, 0.8]])
        >>> q.learn_gold_many([[0.9, 0.1]], [0])
        >>> back = LabelQuality.from_dict(q.to_dict())
        >>> back.estimate() == q.estimate(), back.n_labels_, back.n_gold_
        (True, 2, 1)
        """
        self._ensure_state()
        return {
            "format": QUALITY_FORMAT,
            "format_version": 1,
            "settings": {
                "cardinality": self.cardinality,
                "n_bins": self.n_bins,
                "half_life": self.half_life,
                "prior": self.prior,
                "window": self.window,
            },
            "cnt": self._cnt.tolist(),
            "hit": self._hit.tolist(),
            "recent": [list(r) for r in self._recent],
            "gold": [list(g) for g in self._gold],
            "n_labels": self.n_labels_,
            "n_gold": self.n_gold_,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelQuality:
        """Rebuild a :class:`LabelQuality` from :meth:`to_dict`'s data.

        Raises
        ------
        ValueError
            Another format or version, or state that does not fit the settings.
        """
        if data.get("format") != QUALITY_FORMAT or data.get("format_version") != 1:
            raise ValueError(
                f"label quality state: expected {QUALITY_FORMAT!r} version 1, got "
                f"{data.get('format')!r} version {data.get('format_version')!r}"
            )
        try:
            q = cls(**dict(data["settings"]))
            q._ensure_state()
            k, b = q.cardinality, q.n_bins
            cnt = np.asarray(data["cnt"], dtype=np.float64)
            hit = np.asarray(data["hit"], dtype=np.float64)
            if cnt.shape != (k, b) or hit.shape != (k, b):
                raise ValueError(f"cell tables must have shape ({k}, {b})")
            recent = [(int(c), int(i), float(x)) for c, i, x in data["recent"]]
            gold = [(int(c), int(h)) for c, h in data["gold"]]
            if any(not (0 <= c < k and 0 <= i < b) for c, i, _ in recent) or any(
                not (0 <= c < k and h in (0, 1)) for c, h in gold
            ):
                raise ValueError("a recent label or gold label out of range")
            q._cnt, q._hit = cnt, hit
            q._recent.extend(recent)
            q._gold.extend(gold)
            q.n_labels_, q.n_gold_ = int(data["n_labels"]), int(data["n_gold"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"label quality state: malformed ({exc!r})") from None
        return q

    # ------------------------------------------------------------------ learning
    def learn_many(self, P: ArrayLike) -> None:
        """Record emitted labels (their posteriors, shape (n, k)) in the recent window."""
        self._ensure_state()
        pred, bins, conf = self._cells(P)
        self._recent.extend(zip(pred.tolist(), bins.tolist(), conf.tolist(), strict=True))
        self.n_labels_ += len(pred)
        if self.half_life is not None and len(pred):
            g = 0.5 ** (len(pred) / self.half_life)
            self._cnt *= g
            self._hit *= g

    def learn_one(self, posterior: ArrayLike) -> None:
        """Record one emitted label's posterior."""
        self.learn_many(np.asarray(posterior, dtype=np.float64)[None, :])

    def learn_gold_many(self, P: ArrayLike, y: ArrayLike) -> None:
        """Learn the calibration from late gold: the posteriors emitted and the true classes."""
        self._ensure_state()
        pred, bins, _ = self._cells(P)
        truth = np.asarray(y, dtype=np.int64)
        if truth.shape != pred.shape:
            raise ValueError(f"y must have shape {pred.shape}; got {truth.shape}")
        if truth.size and (truth.min() < 0 or truth.max() >= self.cardinality):
            raise ValueError(f"gold labels must lie in 0..{self.cardinality - 1}")
        np.add.at(self._cnt, (pred, bins), 1.0)
        hit = pred == truth
        np.add.at(self._hit, (pred, bins), hit.astype(np.float64))
        self._gold.extend(zip(pred.tolist(), hit.astype(np.int64).tolist(), strict=True))
        self.n_gold_ += len(pred)

    def learn_gold_one(self, posterior: ArrayLike, y: int) -> None:
        """Learn from one late gold label."""
        self.learn_gold_many(np.asarray(posterior, dtype=np.float64)[None, :], [y])

    # ------------------------------------------------------------------ reading
    def expected_accuracy_many(self, P: ArrayLike) -> _F:
        """Calibrated probability that each row's top class is right; never learns.

        Examples
        --------
        >>> q = LabelQuality(2)
        >>> q.expected_accuracy_many([[0.9, 0.1], [0.5, 0.5]]).round(2).tolist()
        [0.92, 0.52]
        """
        self._ensure_state()
        pred, bins, _ = self._cells(P)
        return np.asarray(self._table()[pred, bins])

    def estimate(self) -> dict[str, Any]:
        """Return the estimate over the recent window (JSON-able).

        Returns
        -------
        dict
            ``expected_accuracy`` (calibrated), ``raw_confidence`` (mean top posterior, the
            uncalibrated estimate), ``per_class`` (for each predicted class: ``share`` of
            the window, calibrated ``expected_precision`` and ``gold_precision``, the
            measured precision on the recent gold), ``n`` (labels averaged),
            ``gold_weight`` (decayed gold behind the calibration), ``gold_accuracy``
            (fraction of the last ``window`` gold labels whose emitted label was right)
            and ``gold_n`` (how many that is); values are ``None`` while there is nothing
            to average.

        Examples
        --------
        >>> q = LabelQuality(2, window=4)
        >>> q.learn_gold_many([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], [0, 1, 1])
        >>> e = q.estimate()
        >>> round(e["gold_accuracy"], 3), e["gold_n"], e["per_class"][1]["gold_precision"]
        (0.667, 3, 1.0)
        """
        self._ensure_state()
        k = self.cardinality
        gold = self._gold_check()
        if not self._recent:
            return {
                "expected_accuracy": None,
                "raw_confidence": None,
                "per_class": [
                    {"share": None, "expected_precision": None, "gold_precision": g}
                    for g in gold["per_class"]
                ],
                "n": 0,
                "gold_weight": float(self._cnt.sum()),
                "gold_accuracy": gold["accuracy"],
                "gold_n": gold["n"],
            }
        arr = np.array(self._recent, dtype=np.float64)
        pred, bins = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64)
        acc = self._table()[pred, bins]
        per_class = []
        for c in range(k):
            sel = pred == c
            per_class.append(
                {
                    "share": float(sel.mean()),
                    "expected_precision": float(acc[sel].mean()) if sel.any() else None,
                    "gold_precision": gold["per_class"][c],
                }
            )
        return {
            "expected_accuracy": float(acc.mean()),
            "raw_confidence": float(arr[:, 2].mean()),
            "per_class": per_class,
            "n": len(arr),
            "gold_weight": float(self._cnt.sum()),
            "gold_accuracy": gold["accuracy"],
            "gold_n": gold["n"],
        }

    def _gold_check(self) -> dict[str, Any]:
        """Measured accuracy (and precision per emitted class) on the recent gold."""
        k = self.cardinality
        if not self._gold:
            return {"accuracy": None, "n": 0, "per_class": [None] * k}
        arr = np.array(self._gold, dtype=np.int64)
        pred, hit = arr[:, 0], arr[:, 1]
        per_class = [float(hit[pred == c].mean()) if (pred == c).any() else None for c in range(k)]
        return {"accuracy": float(hit.mean()), "n": len(arr), "per_class": per_class}
