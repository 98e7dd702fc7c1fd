"""Shared plumbing of the label models: LF-id columns, vote checking, the verbs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from streamlabel._constants import ABSTAIN

__all__ = ["ABSTAIN", "BaseLabelModel", "as_vote_matrix", "class_shares"]


def class_shares(
    shares: object, cardinality: int, *, zeros: bool = False
) -> NDArray[np.float64] | None:
    """Return ``shares`` as a normalised class balance, or None if it is not one.

    A balance is ``cardinality`` finite shares, each positive (or, with ``zeros``, at
    least 0 with a positive sum); a string is never one.

    Examples
    --------
    >>> class_shares([94, 6], 2).tolist()
    [0.94, 0.06]
    >>> class_shares([0.5, 0.0], 2) is None, class_shares([0.5, 0.0], 2, zeros=True).tolist()
    (True, [1.0, 0.0])
    >>> class_shares([1.0], 2) is None, class_shares([0.0, 0.0], 2, zeros=True) is None
    (True, True)
    """
    if isinstance(shares, str | bytes):
        return None
    try:
        b = np.asarray(shares, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    # Written so that NaN fails.
    if b.shape != (cardinality,) or not np.isfinite(b).all():
        return None
    if not ((b >= 0).all() and b.sum() > 0 if zeros else (b > 0).all()):
        return None
    return np.asarray(b / b.sum())


def as_vote_matrix(L: ArrayLike, lf_ids: Sequence[str], cardinality: int) -> NDArray[np.int64]:
    """Check a label matrix against its LF ids and the cardinality.

    Parameters
    ----------
    L
        Votes of shape (n, m); ``-1`` is ABSTAIN.
    lf_ids
        The ids of the m columns, all distinct.
    cardinality
        Number of classes k; votes must lie in ``-1..k-1``.

    Returns
    -------
    numpy.ndarray
        ``L`` as a C-contiguous int64 matrix.

    Examples
    --------
    >>> as_vote_matrix([[0, -1], [1, 1]], ["a@1", "b@1"], 2).shape
    (2, 2)
    >>> as_vote_matrix([[2]], ["a@1"], 2)
    Traceback (most recent call last):
    ...
    ValueError: votes must lie in -1..1 (cardinality 2); got 2 in column 'a@1'
    """
    arr = np.ascontiguousarray(np.asarray(L), dtype=np.int64)
    if arr.ndim == 1 and len(lf_ids) == arr.shape[0]:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValueError(f"L must be a 2-D matrix (n, m); got shape {arr.shape}")
    if arr.shape[1] != len(lf_ids):
        raise ValueError(f"L has {arr.shape[1]} columns but {len(lf_ids)} lf_ids were given")
    if len(set(lf_ids)) != len(lf_ids):
        raise ValueError("lf_ids must be distinct")
    if arr.size:
        bad = (arr < ABSTAIN) | (arr >= cardinality)
        if bad.any():
            col = int(np.nonzero(bad.any(axis=0))[0][0])
            val = int(arr[:, col][bad[:, col]][0])
            raise ValueError(
                f"votes must lie in -1..{cardinality - 1} (cardinality {cardinality}); "
                f"got {val} in column {lf_ids[col]!r}"
            )
    return arr


class BaseLabelModel:
    """The verbs every label model shares (river-style, keyed by LF id).

    Subclasses implement ``learn_many`` and ``predict_proba_many``; the ``_one`` forms
    and ``predict_*`` derive from them unless a subclass has a faster path.
    """

    cardinality: int

    def learn_one(self, votes: Mapping[str, int]) -> None:
        """Learn from the votes of one event (LF id -> vote; -1 = abstain)."""
        ids = list(votes)
        self.learn_many(np.array([[votes[i] for i in ids]], dtype=np.int64), ids)

    def learn_many(self, L: ArrayLike, lf_ids: Sequence[str]) -> None:  # pragma: no cover
        """Learn from a label matrix whose columns are ``lf_ids``."""
        raise NotImplementedError

    def predict_proba_many(
        self, L: ArrayLike, lf_ids: Sequence[str]
    ) -> NDArray[np.float64]:  # pragma: no cover
        """Class probabilities of shape (n, cardinality)."""
        raise NotImplementedError

    def predict_proba_one(self, votes: Mapping[str, int]) -> NDArray[np.float64]:
        """Class probabilities for the votes of one event."""
        ids = list(votes)
        row = np.array([[votes[i] for i in ids]], dtype=np.int64)
        return np.asarray(self.predict_proba_many(row, ids)[0], dtype=np.float64)

    def predict_one(self, votes: Mapping[str, int]) -> int:
        """Most probable class for one event (lowest index on exact ties)."""
        return int(np.argmax(self.predict_proba_one(votes)))

    def predict_many(self, L: ArrayLike, lf_ids: Sequence[str]) -> NDArray[np.int64]:
        """Most probable class per row (lowest index on exact ties)."""
        return np.asarray(np.argmax(self.predict_proba_many(L, lf_ids), axis=1), dtype=np.int64)

    def _settings(self) -> dict[str, Any]:  # pragma: no cover - overridden
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings().items())
        return f"{type(self).__name__}({args})"
