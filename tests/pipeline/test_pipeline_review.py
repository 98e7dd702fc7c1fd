from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlabel.pipeline import ReviewPolicy


def rows(n: int, conf: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    P = np.tile([1 - conf, conf], (n, 1))
    L = np.full((n, 2), -1)
    return P, L


def test_reasons() -> None:
    p = ReviewPolicy(min_confidence=0.6)
    assert p.reason([0.5, 0.5], {}) == "uncertain"
    assert p.reason([0.2, 0.8], {"a@1": 0, "b@1": 1}) == "conflict"
    assert p.reason([0.45, 0.55], [0, 1]) == "uncertain"  # uncertain wins over conflict
    assert p.reason([0.2, 0.8], [1, 1, -1]) is None  # agreement
    assert p.reason([0.2, 0.8], [-1, -1]) is None
    assert ReviewPolicy(route_conflicts=False).reason([0.2, 0.8], [0, 1]) is None
    assert ReviewPolicy(min_confidence=0.0).reason([0.5, 0.5], []) is None


def test_select_many_matches_reason_per_row() -> None:
    p = ReviewPolicy(min_confidence=0.6, max_per_1000=1000)  # one token per event
    P = np.array([[0.5, 0.5], [0.1, 0.9], [0.2, 0.8], [0.45, 0.55], [0.9, 0.1]])
    L = np.array([[-1, -1], [0, 1], [1, 1], [0, 1], [0, -1]])
    assert p.select_many(P, L) == [(0, "uncertain"), (1, "conflict"), (3, "uncertain")]
    assert p.selected_by_reason_ == {"uncertain": 2, "conflict": 1}
    assert p.n_events_ == 5


def test_rate_limit_prefix_bound_and_first_come_first_served() -> None:
    p = ReviewPolicy(max_per_1000=20)
    P, L = rows(1000, conf=0.5)  # every event is uncertain
    picked = p.select_many(P, L)
    # A token every 50 events, the bucket starts empty: events 49, 99, ..., 999.
    assert [i for i, _ in picked] == list(range(49, 1000, 50))
    assert p.dropped_by_reason_["uncertain"] == 980
    assert p.tokens_ == 0.0


def test_saved_tokens_allow_a_burst_up_to_the_cap() -> None:
    p = ReviewPolicy(max_per_1000=20)
    p.select_many(*rows(5000))  # quiet: nothing to review, tokens accumulate
    assert p.tokens_ == 20.0  # capped at max_per_1000
    picked = p.select_many(*rows(100, conf=0.5))
    # 20 saved + 1.98 earned during the burst (the first event's credit overflows the cap).
    assert len(picked) == 21
    assert [i for i, _ in picked][:20] == list(range(20))


def test_zero_rate_routes_nothing() -> None:
    p = ReviewPolicy(max_per_1000=0)
    assert p.select_many(*rows(5000, conf=0.5)) == []
    assert p.dropped_by_reason_["uncertain"] == 5000


@given(
    flags=st.lists(st.booleans(), max_size=3000),
    rate=st.integers(0, 1000),
    cuts=st.lists(st.integers(0, 3000), max_size=5),
)
@settings(max_examples=100, deadline=None)
def test_budget_holds_for_every_batching(flags: list[bool], rate: int, cuts: list[int]) -> None:
    """Over the first n events at most floor(n * rate / 1000) items, however batched."""
    n = len(flags)
    conf = np.where(np.array(flags, dtype=bool), 0.5, 0.9)
    P = np.stack([1 - conf, conf], axis=1) if n else np.zeros((0, 2))
    L = np.full((n, 1), -1)
    bounds = sorted({0, n, *(c for c in cuts if c <= n)})
    batched = ReviewPolicy(max_per_1000=rate)
    picked: list[int] = []
    for a, b in itertools.pairwise(bounds):
        picked += [a + i for i, _ in batched.select_many(P[a:b], L[a:b])]
    whole = [i for i, _ in ReviewPolicy(max_per_1000=rate).select_many(P, L)]
    assert picked == whole  # deterministic and independent of the batching
    for count, i in enumerate(picked, start=1):
        assert count * 1000 <= (i + 1) * rate
    assert all(flags[i] for i in picked)


def test_settings_are_checked_lazily() -> None:
    bad = ReviewPolicy(min_confidence=1.5)  # constructing stores settings only
    with pytest.raises(ValueError, match="min_confidence"):
        bad.select_many(*rows(1))
    for rate in (-1, 1001, 2.5, True):
        with pytest.raises(ValueError, match="max_per_1000"):
            ReviewPolicy(max_per_1000=rate).reason([1.0, 0.0], [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be"):
        ReviewPolicy().select_many(np.zeros((2, 2)), np.zeros((3, 1)))


def test_reset_and_repr() -> None:
    p = ReviewPolicy(max_per_1000=1000)
    p.select_many(*rows(10, conf=0.5))
    assert p.reset().n_events_ == 0 and p.tokens_ == 0.0
    assert repr(p) == "ReviewPolicy(min_confidence=0.6, route_conflicts=True, max_per_1000=1000)"
