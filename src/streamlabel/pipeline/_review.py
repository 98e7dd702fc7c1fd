"""Where to label next: route uncertain or conflicting events to review, rate-limited."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

from streamlabel._constants import ABSTAIN
from streamlabel.pipeline._records import ReviewReason

__all__ = ["REVIEW_REASONS", "ReviewPolicy"]

#: Every review reason, in priority order (the first that applies is given).
REVIEW_REASONS: Final[tuple[ReviewReason, ...]] = ("uncertain", "conflict")
# Tokens are counted in thousandths so the bucket is exact integer arithmetic.
_UNIT = 1000


class ReviewPolicy:
    """Which labeled events go to the ``review`` topic, and how many.

    An event is

    - ``"uncertain"`` when its top posterior is below ``min_confidence``;
    - ``"conflict"`` when ``route_conflicts`` and its non-abstain votes name more than one
      class.

    ``"uncertain"`` wins when both hold. Candidates pass a token bucket that is counted in
    events, not time, so replays and tests are deterministic: every processed event (a
    candidate or not) adds ``max_per_1000 / 1000`` token, the bucket holds at most
    ``max_per_1000`` tokens, a review item costs one, and the bucket starts empty.
    Candidates are taken first come, first served while tokens last; the rest are dropped
    (and counted). Hence after ``n`` events at most ``floor(n * max_per_1000 / 1000)``
    items were routed in total, and any ``w`` consecutive events route at most
    ``max_per_1000 + floor(w * max_per_1000 / 1000)``: the saved-up tokens let a burst of
    candidates after a quiet stretch through (a drift is such a burst), while the
    long-run rate never exceeds ``max_per_1000`` per 1000 events.

    Parameters
    ----------
    min_confidence
        Top posterior below which an event is uncertain, in [0, 1] (0 disables).
    route_conflicts
        Whether LF disagreement is a reason for review.
    max_per_1000
        Review items per 1000 processed events, an int in 0..1000 (0 routes nothing).

    Attributes
    ----------
    n_events_ : int
        Events seen.
    selected_by_reason_ : dict of str to int
        Items routed, per reason.
    dropped_by_reason_ : dict of str to int
        Candidates refused for lack of tokens, per reason.

    Examples
    --------
    >>> import numpy as np
    >>> from streamlabel.pipeline import ReviewPolicy
    >>> policy = ReviewPolicy(min_confidence=0.6, max_per_1000=500)  # one token per 2 events
    >>> P = np.array([[0.5, 0.5], [0.1, 0.9], [0.2, 0.8], [0.55, 0.45]])
    >>> L = np.array([[-1, -1], [0, 1], [1, 1], [-1, 0]])
    >>> policy.select_many(P, L)  # event 0 finds the bucket empty
    [(1, 'conflict'), (3, 'uncertain')]
    >>> policy.dropped_by_reason_
    {'uncertain': 1, 'conflict': 0}
    """

    def __init__(
        self,
        min_confidence: float = 0.6,
        route_conflicts: bool = True,
        max_per_1000: int = 20,
    ) -> None:
        self.min_confidence = min_confidence
        self.route_conflicts = route_conflicts
        self.max_per_1000 = max_per_1000

    def _ensure_state(self) -> None:
        if hasattr(self, "_units"):
            return
        if not 0.0 <= self.min_confidence <= 1.0:  # NaN fails too
            raise ValueError(f"min_confidence must lie in [0, 1], got {self.min_confidence!r}")
        rate = self.max_per_1000
        if isinstance(rate, bool) or not isinstance(rate, int) or not 0 <= rate <= _UNIT:
            raise ValueError(f"max_per_1000 must be an int in 0..1000, got {rate!r}")
        self.reset()

    def reset(self) -> ReviewPolicy:
        """Empty the bucket and zero the counters."""
        self._units = 0
        self.n_events_ = 0
        self.selected_by_reason_: dict[ReviewReason, int] = dict.fromkeys(REVIEW_REASONS, 0)
        self.dropped_by_reason_: dict[ReviewReason, int] = dict.fromkeys(REVIEW_REASONS, 0)
        return self

    @property
    def tokens_(self) -> float:
        """Review items that could be routed right now."""
        self._ensure_state()
        return self._units / _UNIT

    def reason(
        self, posterior: ArrayLike, votes: Mapping[str, int] | Iterable[int]
    ) -> ReviewReason | None:
        """Why one event deserves review, or ``None``; pure (no token is spent).

        ``votes`` is a mapping LF id -> vote or a sequence of votes (``-1`` = abstain).

        Examples
        --------
        >>> from streamlabel.pipeline import ReviewPolicy
        >>> p = ReviewPolicy()
        >>> p.reason([0.3, 0.7], {"a@1": 1, "b@1": 0}), p.reason([0.5, 0.5], [1, 0])
        ('conflict', 'uncertain')
        """
        self._ensure_state()
        if float(np.max(np.asarray(posterior, dtype=np.float64))) < self.min_confidence:
            return "uncertain"
        if self.route_conflicts:
            values = votes.values() if isinstance(votes, Mapping) else votes
            if len({int(v) for v in values} - {ABSTAIN}) > 1:
                return "conflict"
        return None

    def select_many(self, posterior: ArrayLike, L: ArrayLike) -> list[tuple[int, ReviewReason]]:
        """Route a batch: return ``(row, reason)`` of the events to review, in order.

        Parameters
        ----------
        posterior
            Posteriors, shape (n, k).
        L
            Votes, shape (n, m), ``-1`` = abstain.

        Every row counts as one processed event for the bucket.
        """
        self._ensure_state()
        P = np.asarray(posterior, dtype=np.float64)
        votes = np.asarray(L, dtype=np.int64)
        if P.ndim != 2 or votes.ndim != 2 or P.shape[0] != votes.shape[0]:
            raise ValueError(f"posterior {P.shape} and L {votes.shape} must be (n, k) and (n, m)")
        n = P.shape[0]
        if n == 0:
            return []
        uncertain = P.max(axis=1) < self.min_confidence
        if self.route_conflicts and votes.shape[1] > 1:
            fired = votes != ABSTAIN
            hi = np.where(fired, votes, ABSTAIN).max(axis=1)
            lo = np.where(fired, votes, np.iinfo(np.int64).max).min(axis=1)
            conflict = hi > lo  # at least two distinct classes among the votes
            candidates = np.flatnonzero(uncertain | conflict).tolist()
        else:
            candidates = np.flatnonzero(uncertain).tolist()
        rate = self.max_per_1000
        cap = rate * _UNIT
        units = self._units
        done = 0  # rows of this batch already credited to the bucket
        out: list[tuple[int, ReviewReason]] = []
        for i in candidates:
            # Credit rows done..i in one step: the bucket only grows between decisions, so
            # clipping once at the capacity equals clipping after every event.
            units = min(cap, units + (i + 1 - done) * rate)
            done = i + 1
            why: ReviewReason = "uncertain" if uncertain[i] else "conflict"
            if units >= _UNIT:
                units -= _UNIT
                out.append((i, why))
                self.selected_by_reason_[why] += 1
            else:
                self.dropped_by_reason_[why] += 1
        self._units = min(cap, units + (n - done) * rate)
        self.n_events_ += n
        return out

    def __repr__(self) -> str:
        return (
            f"ReviewPolicy(min_confidence={self.min_confidence!r}, "
            f"route_conflicts={self.route_conflicts!r}, max_per_1000={self.max_per_1000!r})"
        )
