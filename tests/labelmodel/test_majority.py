"""MajorityVote: ties and all-abstain rows follow the class prior."""

from __future__ import annotations

import numpy as np
import pytest

from streamlabel.labelmodel import MajorityVote

IDS = ["a@1", "b@1", "c@1", "d@1"]


def test_learned_prior_counts_strict_majorities_only() -> None:
    mv = MajorityVote(3)
    mv.learn_many(
        [
            [2, 2, -1, -1],  # strict 2
            [2, -1, -1, -1],  # strict 2
            [1, 1, 2, -1],  # strict 1
            [0, 1, -1, -1],  # tie: not counted
            [-1, -1, -1, -1],  # all abstain: not counted
        ],
        IDS,
    )
    # counts [0, 1, 2] + 1 smoothing -> [1, 2, 3] / 6
    np.testing.assert_allclose(mv.class_balance_, [1 / 6, 2 / 6, 3 / 6], atol=1e-15)


def test_ties_and_all_abstain_follow_learned_prior_k3_by_hand() -> None:
    mv = MajorityVote(3)
    mv.learn_many([[2, 2, -1, -1], [2, -1, -1, -1], [1, 1, 2, -1]], IDS)  # prior [1,2,3]/6
    P = mv.predict_proba_many(
        [
            [0, 1, -1, -1],  # tie 0/1 -> [1, 2, 0] / 3
            [0, 2, 1, -1],  # three-way tie -> the prior
            [-1, -1, -1, -1],  # all abstain -> the prior
            [0, 0, 2, 2],  # tie 0/2 -> [1, 0, 3] / 4
            [1, 1, 0, 2],  # majority 1 -> one-hot, whatever the prior
        ],
        IDS,
    )
    expected = np.array(
        [
            [1 / 3, 2 / 3, 0.0],
            [1 / 6, 2 / 6, 3 / 6],
            [1 / 6, 2 / 6, 3 / 6],
            [1 / 4, 0.0, 3 / 4],
            [0.0, 1.0, 0.0],
        ]
    )
    np.testing.assert_allclose(P, expected, rtol=0, atol=1e-15)  # exact up to one division
    assert mv.predict_many([[0, 1, -1, -1], [0, 0, 2, 2]], IDS).tolist() == [1, 2]
    np.testing.assert_allclose(mv.predict_proba_one({"a@1": 0, "b@1": 1}), expected[0], atol=1e-15)


def test_fixed_class_balance_is_honoured() -> None:
    mv = MajorityVote(3, class_balance=[1, 2, 7])
    np.testing.assert_allclose(mv.class_balance_, [0.1, 0.2, 0.7], atol=1e-15)
    mv.learn_many([[0, 0, -1, -1]] * 50, IDS)  # learning does not move a fixed prior
    np.testing.assert_allclose(mv.class_balance_, [0.1, 0.2, 0.7], atol=1e-15)
    P = mv.predict_proba_many([[-1, -1, -1, -1], [0, 2, -1, -1], [0, 1, -1, -1]], IDS)
    np.testing.assert_allclose(
        P, [[0.1, 0.2, 0.7], [1 / 8, 0.0, 7 / 8], [1 / 3, 2 / 3, 0.0]], atol=1e-15
    )


def test_untrained_prior_is_uniform_and_validation() -> None:
    mv = MajorityVote(4)
    np.testing.assert_allclose(mv.predict_proba_one({}), np.full(4, 0.25), atol=1e-15)
    with pytest.raises(ValueError, match=r"votes must lie in -1\.\.3"):
        mv.learn_many([[4]], ["a@1"])
    with pytest.raises(ValueError, match=r"votes must lie in -1\.\.3"):
        mv.predict_proba_many([[4]], ["a@1"])
    with pytest.raises(ValueError, match="distinct"):
        mv.learn_many([[0, 0]], ["a@1", "a@1"])
    with pytest.raises(ValueError, match="cardinality must be >= 2"):
        MajorityVote(1).learn_many([[0]], ["a@1"])


def test_per_event_verbs_match_the_batch_verbs() -> None:
    rng = np.random.default_rng(3)
    ids = [f"lf{j}@1" for j in range(6)]
    L = rng.integers(-1, 3, size=(400, 6))
    one, many = MajorityVote(3), MajorityVote(3)
    events = [dict(zip(ids, row, strict=True)) for row in L.tolist()]
    for ev in events:
        one.learn_one(ev)
    many.learn_many(L, ids)
    np.testing.assert_array_equal(one.class_balance_, many.class_balance_)
    rows = np.array([one.predict_proba_one(ev) for ev in events])
    np.testing.assert_allclose(rows, many.predict_proba_many(L, ids), rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="votes must lie in"):
        one.learn_one({"lf0@1": 3})
    with pytest.raises(ValueError, match="votes must lie in"):
        one.predict_proba_one({"lf0@1": -2})
