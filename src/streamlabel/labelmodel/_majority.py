"""Majority vote with ties broken by a learned class prior."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._base import BaseLabelModel, as_vote_matrix, class_shares

__all__ = ["MajorityVote"]


class MajorityVote(BaseLabelModel):
    """Majority vote over the LFs that fire; ties and all-abstain rows follow the class prior.

    The prior is learned online, without gold, as the (smoothed) class distribution of the
    rows that have a strict majority, unless ``class_balance`` fixes it.

    Parameters
    ----------
    cardinality
        Number of classes k >= 2.
    class_balance
        Optional fixed prior: k finite shares >= 0 with a positive sum (normalised; checked
        when first read). When None the prior is learned.

    Examples
    --------
    >>> mv = MajorityVote(cardinality=2)
    >>> mv.learn_many([[1, 1, -1], [1, -1, -1], [0, 1, 0]], ["a@1", "b@1", "c@1"])
    >>> mv.class_balance_.round(2)
    array([0.4, 0.6])
    >>> mv.predict_many([[0, 1, -1], [-1, -1, -1], [0, 0, 1]], ["a@1", "b@1", "c@1"])
    array([1, 1, 0])
    """

    def __init__(self, cardinality: int, class_balance: ArrayLike | None = None) -> None:
        self.cardinality = cardinality
        self.class_balance = class_balance

    def _settings(self) -> dict[str, Any]:
        return {"cardinality": self.cardinality}

    @property
    def class_balance_(self) -> NDArray[np.float64]:
        """The prior used to break ties, shape (k,)."""
        if self.class_balance is not None:
            cb = class_shares(self.class_balance, self.cardinality, zeros=True)
            if cb is None:
                raise ValueError(
                    f"class_balance must be {self.cardinality} finite shares >= 0 with a "
                    f"positive sum; got {self.class_balance!r}"
                )
            return cb
        counts = getattr(self, "_counts", np.zeros(self.cardinality))
        smoothed = counts + 1.0
        return np.asarray(smoothed / smoothed.sum(), dtype=np.float64)

    def _vote_counts(self, L: NDArray[np.int64]) -> NDArray[np.float64]:
        k = self.cardinality
        counts = np.zeros((L.shape[0], k), dtype=np.float64)
        for c in range(k):
            counts[:, c] = (L == c).sum(axis=1)
        return counts

    def learn_many(self, L: ArrayLike, lf_ids: Sequence[str]) -> None:
        """Count the classes of rows that have a strict majority."""
        if self.cardinality < 2:
            raise ValueError(f"cardinality must be >= 2; got {self.cardinality}")
        arr = as_vote_matrix(L, lf_ids, self.cardinality)
        counts = self._vote_counts(arr)
        top = counts.max(axis=1)
        strict = (top > 0) & ((counts == top[:, None]).sum(axis=1) == 1)
        if not hasattr(self, "_counts"):
            self._counts = np.zeros(self.cardinality)
        self._counts += np.bincount(
            counts[strict].argmax(axis=1), minlength=self.cardinality
        ).astype(np.float64)

    def _tally(self, votes: Mapping[str, int]) -> list[int]:
        k = self.cardinality
        counts = [0] * k
        for lf_id, v in votes.items():
            if v != -1:
                if not 0 <= v < k:
                    raise ValueError(f"votes must lie in -1..{k - 1}; got {v!r} from {lf_id!r}")
                counts[v] += 1
        return counts

    def learn_one(self, votes: Mapping[str, int]) -> None:
        """Count the event's class if it has a strict majority (plain Python, no arrays)."""
        if self.cardinality < 2:
            raise ValueError(f"cardinality must be >= 2; got {self.cardinality}")
        counts = self._tally(votes)
        top = max(counts)
        if top > 0 and counts.count(top) == 1:
            if not hasattr(self, "_counts"):
                self._counts = np.zeros(self.cardinality)
            self._counts[counts.index(top)] += 1.0

    def predict_proba_one(self, votes: Mapping[str, int]) -> NDArray[np.float64]:
        """Return the matching row of :meth:`predict_proba_many` for one event."""
        counts = self._tally(votes)
        top = max(counts)
        if counts.count(top) == 1:
            out = np.zeros(self.cardinality)
            out[counts.index(top)] = 1.0
            return out
        mask = np.array([c == top for c in counts], dtype=np.float64)
        tied = mask * self.class_balance_
        if tied.sum() == 0:
            tied = mask
        return np.asarray(tied / tied.sum(), dtype=np.float64)

    def predict_proba_many(self, L: ArrayLike, lf_ids: Sequence[str]) -> NDArray[np.float64]:
        """Put all mass on the majority class; split ties by the prior (all-abstain: prior)."""
        arr = as_vote_matrix(L, lf_ids, self.cardinality)
        counts = self._vote_counts(arr)
        top = counts.max(axis=1, keepdims=True)
        top_mask = (counts == top).astype(np.float64)
        tied = top_mask * self.class_balance_[None, :]
        # A fixed prior may be zero on every top class: split those rows evenly instead.
        zero = tied.sum(axis=1) == 0
        tied[zero] = top_mask[zero]
        return np.asarray(tied / tied.sum(axis=1, keepdims=True), dtype=np.float64)
