"""Seeded synthetic vote streams for the regimes a label model must survive.

Each generator returns a :class:`VoteStream` with the label matrix ``L`` (ABSTAIN = -1),
the true classes ``y`` and the LF ids, so tests and benchmarks can score estimates
against the truth. Nothing here reads files or the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "RandomStream",
    "VoteStream",
    "make_bipolar_stream",
    "make_drifting_stream",
    "make_random_stream",
    "make_unipolar_stream",
    "synthetic_regimes",
]


@dataclass(frozen=True)
class VoteStream:
    """Votes of m LFs on n events with the truth behind them."""

    L: NDArray[np.int64]
    y: NDArray[np.int64]
    lf_ids: list[str]
    cardinality: int
    #: True P(vote correct | LF fires) per LF (over the whole stream).
    accuracies: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return int(self.y.shape[0])


def _ids(m: int) -> list[str]:
    return [f"lf{j:03d}@1" for j in range(m)]


def _intensity(rng: np.random.Generator, n: int, intensity: float) -> NDArray[np.float64]:
    """Per-event firing multipliers, mean 1 and variance ``intensity`` (gamma); 0: all 1."""
    if intensity < 0:
        raise ValueError(f"intensity must be >= 0; got {intensity!r}")
    if intensity == 0:
        return np.ones(n)
    return rng.gamma(1.0 / intensity, intensity, n)


def _true_accuracies(L: NDArray[np.int64], y: NDArray[np.int64]) -> NDArray[np.float64]:
    fired = L >= 0
    right = (L == y[:, None]) & fired
    return np.asarray(right.sum(0) / np.maximum(fired.sum(0), 1), dtype=np.float64)


def make_unipolar_stream(
    n: int,
    cardinality: int,
    n_lfs: int,
    *,
    class_balance: list[float] | None = None,
    recall: tuple[float, float] = (0.02, 0.3),
    lift: tuple[float, float] = (2.0, 20.0),
    intensity: float = 0.0,
    seed: int = 0,
) -> VoteStream:
    """LFs that each vote only one class (keyword-style), firing more often on it.

    LF j targets class ``j % cardinality``; it fires on that class at a rate drawn from
    ``recall`` and on every other class at that rate divided by a ``lift`` drawn from its
    range, so its precision depends on the class balance, as for real keyword LFs.
    ``intensity`` > 0 multiplies every LF's rate on an event by one shared factor (mean
    1, that variance), as a long text trips more keywords whatever its class: the LFs
    are then no longer independent given the class.

    Examples
    --------
    >>> s = make_unipolar_stream(1000, 3, 6, seed=1)
    >>> s.L.shape, sorted(set(s.L[:, 0].tolist()))
    ((1000, 6), [-1, 0])
    """
    rng = np.random.default_rng(seed)
    k = cardinality
    pi = np.full(k, 1.0 / k) if class_balance is None else np.asarray(class_balance, float)
    pi = pi / pi.sum()
    y = rng.choice(k, size=n, p=pi)
    scale = _intensity(rng, n, intensity)
    L = np.full((n, n_lfs), -1, dtype=np.int64)
    for j in range(n_lfs):
        t = j % k
        a = rng.uniform(*recall)
        b = a / rng.uniform(*lift)
        fire = np.where(y == t, rng.random(n) < a * scale, rng.random(n) < b * scale)
        L[fire, j] = t
    return VoteStream(L, y.astype(np.int64), _ids(n_lfs), k, _true_accuracies(L, y))


def make_bipolar_stream(
    n: int,
    cardinality: int,
    n_lfs: int,
    *,
    class_balance: list[float] | None = None,
    coverage: tuple[float, float] = (0.1, 0.6),
    accuracy: tuple[float, float] = (0.55, 0.9),
    correlated: int = 0,
    seed: int = 0,
) -> VoteStream:
    """LFs that vote any class, right with a per-LF accuracy, wrong uniformly otherwise.

    ``correlated`` extra LFs copy the first LF's votes 90% of the time (a dependency the
    model does not know about).

    Examples
    --------
    >>> s = make_bipolar_stream(2000, 4, 5, seed=0)
    >>> bool(((s.accuracies > 0.5) & (s.accuracies < 0.95)).all())
    True
    """
    rng = np.random.default_rng(seed)
    k = cardinality
    pi = np.full(k, 1.0 / k) if class_balance is None else np.asarray(class_balance, float)
    pi = pi / pi.sum()
    y = rng.choice(k, size=n, p=pi)
    L = np.full((n, n_lfs + correlated), -1, dtype=np.int64)
    for j in range(n_lfs):
        c = rng.uniform(*coverage)
        a = rng.uniform(*accuracy)
        fire = rng.random(n) < c
        wrong = (y + rng.integers(1, k, n)) % k
        L[fire, j] = np.where(rng.random(n) < a, y, wrong)[fire]
    for j in range(n_lfs, n_lfs + correlated):
        copy = rng.random(n) < 0.9
        L[:, j] = np.where(copy, L[:, 0], -1)
    m = n_lfs + correlated
    return VoteStream(L, y.astype(np.int64), _ids(m), k, _true_accuracies(L, y))


def make_drifting_stream(
    n: int,
    *,
    drift_at: int,
    before: float = 0.9,
    after: float = 0.55,
    n_lfs: int = 6,
    coverage: float = 0.5,
    seed: int = 0,
) -> VoteStream:
    """Binary stream where LF 0's accuracy drops from ``before`` to ``after`` at ``drift_at``.

    The other LFs keep accuracies spread over 0.7-0.85.

    Examples
    --------
    >>> s = make_drifting_stream(4000, drift_at=2000, seed=0)
    >>> early, late = s.L[:2000, 0], s.L[2000:, 0]
    >>> acc = lambda v, y: float(((v == y) & (v >= 0)).sum() / (v >= 0).sum())
    >>> round(acc(early, s.y[:2000]), 1), round(acc(late, s.y[2000:]), 1)
    (0.9, 0.5)
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    L = np.full((n, n_lfs), -1, dtype=np.int64)
    accs = np.linspace(0.7, 0.85, n_lfs - 1)
    for j in range(n_lfs):
        fire = rng.random(n) < coverage
        if j == 0:
            acc = np.where(np.arange(n) < drift_at, before, after)
        else:
            acc = np.full(n, accs[j - 1])
        right = rng.random(n) < acc
        L[fire, j] = np.where(right, y, 1 - y)[fire]
    return VoteStream(L, y.astype(np.int64), _ids(n_lfs), 2, _true_accuracies(L, y))


def synthetic_regimes(seed: int = 0, n: int = 6000) -> dict[str, VoteStream]:
    """Return one seeded stream for each regime a label model is tested on.

    - ``unipolar``: binary, 10 one-class LFs;
    - ``sparse_multiclass``: 10 classes, 150 rarely firing one-class LFs;
    - ``imbalanced_multiclass``: 6 skewed classes, 60 sparse one-class LFs;
    - ``imbalanced_low_coverage``: binary 90/10 with about 40% coverage;
    - ``bipolar``: 4 classes, 12 LFs that vote any class;
    - ``correlated``: 3 classes, 6 LFs plus 3 near-copies of the first.
    """
    return {
        "unipolar": make_unipolar_stream(n, 2, 10, seed=seed),
        "sparse_multiclass": make_unipolar_stream(
            n, 10, 150, recall=(0.005, 0.05), lift=(1.5, 30.0), seed=seed
        ),
        "imbalanced_multiclass": make_unipolar_stream(
            n,
            6,
            60,
            class_balance=[0.4, 0.25, 0.15, 0.1, 0.06, 0.04],
            recall=(0.01, 0.1),
            seed=seed,
        ),
        "imbalanced_low_coverage": make_unipolar_stream(
            n,
            2,
            8,
            class_balance=[0.9, 0.1],
            recall=(0.05, 0.25),
            lift=(1.5, 10.0),
            seed=seed,
        ),
        "bipolar": make_bipolar_stream(n, 4, 12, seed=seed),
        "correlated": make_bipolar_stream(n, 3, 6, correlated=3, seed=seed),
    }


@dataclass(frozen=True)
class RandomStream:
    """A stream of random shape: learn on the first ``n_learn`` events, score the rest."""

    stream: VoteStream
    n_learn: int
    #: The shape drawn: classes, LFs, balance, kinds and quality of LFs, intensity, ...
    settings: dict[str, Any]


def make_random_stream(
    seed: int, *, n_test: int = 3000, intensity: float | None = None
) -> RandomStream:
    """Draw a stream whose whole shape is random, for testing beyond the named regimes.

    Drawn per seed: k in {2, 3, 4, 6, 9, 10} (binary most often); 5-180 LFs; 800-15,000
    events to learn from; a class balance from a Dirichlet (0.7 very skewed to 20 near
    uniform); the share of one-class (keyword) LFs (0, half, all) against LFs that vote
    any class; LF precision high (0.75-0.98), middling (0.55-0.9) or low (0.3-0.75,
    above chance); coverage per LF log-uniform up to 3%, 15% or 50%; errors spread over
    the other classes or falling mostly on one confusable class; a tenth of the LFs
    near-copies of others (one stream in four); and a per-event firing intensity of
    variance 0, 1 or 3 (``intensity`` fixes it), shared by all LFs. Every LF fires more
    often on the class it votes than on any other (no LF is worse than useless), which
    every label model here and Snorkel's assume.

    Examples
    --------
    >>> r = make_random_stream(3)
    >>> r.stream.L.shape[0] == r.n_learn + 3000, r.settings["cardinality"]
    (True, 9)
    """
    rng = np.random.default_rng(seed)
    k = int(rng.choice([2, 2, 2, 3, 4, 6, 9, 10]))
    m = int(np.rint(np.exp(rng.uniform(np.log(5), np.log(180)))))
    n_learn = int(rng.choice([800, 1600, 5000, 15000]))
    n = n_learn + n_test
    alpha = float(rng.choice([0.7, 2.0, 20.0]))
    pi = rng.dirichlet(np.full(k, alpha)) + 0.02 / k
    pi = pi / pi.sum()
    unipolar = float(rng.choice([0.0, 0.5, 1.0]))
    precision = [(0.75, 0.98), (0.55, 0.9), (max(1.2 / k, 0.3) if k > 2 else 0.5, 0.75)][
        int(rng.integers(3))
    ]
    cmax = float(rng.choice([0.03, 0.15, 0.5]))
    cmin = cmax / float(rng.choice([3, 20]))
    confuse = bool(rng.random() < 0.5)
    partner = (np.arange(k) + 1 + rng.integers(0, max(k - 1, 1), k)) % k
    partner = np.where(partner == np.arange(k), (np.arange(k) + 1) % k, partner)
    n_copy = int(rng.choice([0, 0, 0, max(1, m // 10)]))
    y = rng.choice(k, size=n, p=pi)
    var = float(rng.choice([0.0, 1.0, 3.0])) if intensity is None else intensity
    scale = _intensity(rng, n, var)
    L = np.full((n, m + n_copy), -1, dtype=np.int64)
    for j in range(m):
        c = float(np.exp(rng.uniform(np.log(cmin), np.log(cmax))))
        p = float(rng.uniform(*precision))
        if rng.random() < unipolar:
            t = int(rng.choice(k, p=pi)) if rng.random() < 0.5 else j % k
            a = min(1.0, c * p / pi[t])
            w = np.zeros(k)
            if confuse:
                w[partner[t]] = 1.0
            else:
                w = pi.copy()
                w[t] = 0.0
            w /= w.sum()
            # Wrong firings carry c (1 - p) of the mass, at most a / 1.2 per class.
            rate = np.minimum(np.minimum(1.0, c * (1 - p) * w / np.maximum(pi, 1e-9)), a / 1.2)
            rate[t] = a
            fire = rng.random(n) < np.minimum(1.0, rate[y] * scale)
            L[fire, j] = t
        else:
            fire = rng.random(n) < np.minimum(1.0, c * scale)
            right = rng.random(n) < p
            if confuse:
                wrong = np.where(rng.random(n) < 0.8, partner[y], (y + rng.integers(1, k, n)) % k)
            else:
                wrong = (y + rng.integers(1, k, n)) % k
            vote = np.where(right, y, wrong)
            # No vote u more often (over 1/1.2) when the class is not u than when it is.
            q = np.zeros((k, k))
            np.add.at(q, (y[fire], vote[fire]), 1)
            q /= np.maximum(q.sum(1, keepdims=True), 1)
            bad = q > np.diag(q)[None, :] / 1.2
            np.fill_diagonal(bad, False)
            if bad.any():
                vote = np.where(bad[y, vote], y, vote)
            L[fire, j] = vote[fire]
    for j in range(m, m + n_copy):
        src = int(rng.integers(0, m))
        keep = rng.random(n) < 0.9
        L[:, j] = np.where(keep, L[:, src], -1)
    settings = {
        "cardinality": k,
        "n_lfs": m + n_copy,
        "n_learn": n_learn,
        "dirichlet": alpha,
        "unipolar_share": unipolar,
        "precision": list(precision),
        "max_coverage": cmax,
        "confusable": confuse,
        "copies": n_copy,
        "intensity": var,
    }
    y64 = y.astype(np.int64)
    stream = VoteStream(L, y64, _ids(m + n_copy), k, _true_accuracies(L, y64))
    return RandomStream(stream, n_learn, settings)
