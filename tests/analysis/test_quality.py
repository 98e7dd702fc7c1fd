"""LabelQuality: calibration by late gold, forgetting, validation, and the bench."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamlabel.analysis import LabelQuality
from streamlabel.bench import bench_quality


def _overconfident(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors that claim 0.95 while only 70% of their top classes are right."""
    pred = rng.integers(0, 3, n)
    P = np.full((n, 3), 0.025)
    P[np.arange(n), pred] = 0.95
    right = rng.random(n) < 0.7
    y = np.where(right, pred, (pred + 1 + rng.integers(0, 2, n)) % 3)
    return P, y


def test_gold_calibrates_an_overconfident_model() -> None:
    rng = np.random.default_rng(0)
    P, y = _overconfident(6000, rng)
    q = LabelQuality(3, half_life=None)
    q.learn_many(P[:2000])
    assert q.estimate()["expected_accuracy"] > 0.9  # before gold: the model's own claim
    q.learn_gold_many(P[:3000], y[:3000])
    q.learn_many(P[3000:])
    est = q.estimate()
    truth = float((P[4000:].argmax(1) == y[4000:]).mean())
    assert abs(est["expected_accuracy"] - truth) < 0.03
    assert est["raw_confidence"] == pytest.approx(0.95)
    assert sum(c["share"] for c in est["per_class"]) == pytest.approx(1.0)
    json.dumps(est)


def test_forgetting_follows_a_drop_in_accuracy() -> None:
    rng = np.random.default_rng(1)
    good = np.tile([[0.9, 0.1]], (4000, 1))
    slow, fast = LabelQuality(2, half_life=None), LabelQuality(2, half_life=1000)
    for q in (slow, fast):
        q.learn_many(good)
        q.learn_gold_many(good, np.zeros(4000, dtype=int))  # all right
        for _ in range(3):  # then 60% wrong, for three half-lives of the fast one
            q.learn_many(good[:1000])
            q.learn_gold_many(good[:1000], (rng.random(1000) < 0.6).astype(int))
    # Truth now 0.4. Without forgetting: (4000 + 0.4 * 3000) / 7000 = 0.74. With a
    # half-life of 1,000 the 4,000 good gold weigh 500 and the recent bad 1,750:
    # (500 + 0.4 * 1750) / 2250 = 0.53.
    assert fast.estimate()["expected_accuracy"] < 0.6
    assert slow.estimate()["expected_accuracy"] > 0.7


def test_estimating_never_learns() -> None:
    q = LabelQuality(2)
    q.learn_many([[0.7, 0.3]] * 10)
    before = q.estimate()
    q.expected_accuracy_many([[0.2, 0.8]] * 50)
    assert q.estimate() == before


@pytest.mark.parametrize(
    "call",
    [
        lambda q: q.learn_many(np.ones((3, 3)) / 3),
        lambda q: q.learn_gold_many([[0.5, 0.5]], [2]),
        lambda q: q.learn_gold_many([[0.5, 0.5]], [0, 1]),
    ],
)
def test_bad_shapes_and_labels_are_refused(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        call(LabelQuality(2))


def test_bench_tracks_the_truth_better_than_raw_confidence() -> None:
    r = bench_quality(20_000, seed=2, batch_size=250, window=1000, warmup=2000)
    phases = r["summary"]["phases"]
    # Measured here: per phase at most 1.1 points off (mean 0.6); the model's raw
    # confidence 2.8 points off on average.
    assert phases["max_abs_error"] < 0.03
    assert phases["mean_abs_error"] < phases["raw_mean_abs_error"]
    assert r["summary"]["windows"]["mean_abs_error"] < 0.02
    assert [p["lfset_version"] for p in r["pushes"]] == ["2", "3", "4"]


def test_quality_state_round_trips_and_refuses_what_does_not_fit() -> None:
    q = LabelQuality(3, n_bins=4, half_life=100.0, window=50)
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(3), size=120)
    q.learn_many(P)
    q.learn_gold_many(P[:60], rng.integers(0, 3, size=60))
    data = json.loads(json.dumps(q.to_dict()))  # it is JSON
    back = LabelQuality.from_dict(data)
    assert back.estimate() == q.estimate()
    np.testing.assert_array_equal(back.expected_accuracy_many(P), q.expected_accuracy_many(P))
    # Both go on alike.
    for m in (q, back):
        m.learn_many(P[:10])
        m.learn_gold_many(P[:10], np.zeros(10, dtype=int))
    assert back.estimate() == q.estimate()
    bad = [
        {**data, "format": "other"},
        {**data, "format_version": 2},
        {**data, "hit": [[0.0] * 4] * 2},
        {**data, "recent": [[3, 0, 0.5]]},
        {**data, "gold": [[0, 2]]},
        {k: v for k, v in data.items() if k != "cnt"},
        {**data, "settings": {**data["settings"], "n_bins": 0}},
    ]
    for value in bad:
        with pytest.raises(ValueError, match=r"label quality state|shape|range|n_bins"):
            LabelQuality.from_dict(value)


def test_bins_split_confidence_up_to_the_top() -> None:
    q = LabelQuality(2, n_bins=10)
    _, bins, _ = q._cells([[1.0, 0.0], [0.97, 0.03], [0.92, 0.08], [0.5, 0.5], [0.55, 0.45]])
    assert bins.tolist() == [9, 9, 8, 0, 1]


def test_top_bins_are_calibrated_apart() -> None:
    # Gold says the 0.95-1 bin is always right and the 0.9-0.95 bin always wrong.
    q = LabelQuality(2, n_bins=10, half_life=None, prior=1.0)
    hi, mid = np.tile([[0.99, 0.01]], (500, 1)), np.tile([[0.92, 0.08]], (500, 1))
    q.learn_gold_many(hi, np.zeros(500, dtype=int))
    q.learn_gold_many(mid, np.ones(500, dtype=int))
    q.learn_many(hi)
    high = q.estimate()["expected_accuracy"]
    q2 = LabelQuality.from_dict(q.to_dict())
    q2.learn_many(np.tile(mid, (3, 1)))  # now mostly labels of the wrong bin
    assert high > 0.9 and q2.estimate()["expected_accuracy"] < 0.5


def test_the_gold_check_reads_the_latest_window_only() -> None:
    q = LabelQuality(2, window=3)
    P = np.tile([[0.9, 0.1]], (5, 1))
    q.learn_gold_many(P, np.array([1, 1, 0, 0, 0]))  # the first two wrong, the last three right
    e = q.estimate()
    assert e["gold_n"] == 3 and e["gold_accuracy"] == 1.0
