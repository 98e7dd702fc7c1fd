"""The unanimity rule: the label model never overrules votes that all agree, nor a class
that has more votes than any other (``unanimous_weight``); it decides ties and events
without votes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamlabel.datasets import make_random_stream, make_unipolar_stream
from streamlabel.labelmodel import MajorityVote, OnlineLabelModel, load_model, save_model


def learned(weight: float) -> tuple[OnlineLabelModel, np.ndarray, list[str]]:
    # 10% of class 1, weak one-class LFs: the class balance overrules many lone votes.
    s = make_unipolar_stream(4000, 2, 8, class_balance=[0.9, 0.1], recall=(0.05, 0.3), seed=3)
    model = OnlineLabelModel(2, unanimous_weight=weight)
    model.learn_many(s.L, s.lf_ids)
    return model, s.L, s.lf_ids


def tallies(L: np.ndarray, k: int = 2) -> np.ndarray:
    """Votes per class of each row, shape (n, k)."""
    return np.stack([(L == c).sum(axis=1) for c in range(k)], axis=1)


def with_silences(
    model: OnlineLabelModel, Q: np.ndarray, L: np.ndarray, ids: list[str]
) -> np.ndarray:
    """``Q`` (the model alone's posteriors of ``L``) times the silent LFs' evidence, at half weight.

    Computed here from the model's silence table (``_silence``, LFs of no shared view): on a
    tie the model reads, besides the votes, the LFs that stayed silent.
    """
    assert not model._grouped
    cols = [model._index[i] for i in ids]
    quiet = (L < 0).astype(float) @ model._silence[cols]
    out = Q * np.exp(0.5 * (quiet - quiet.max(axis=1, keepdims=True)))
    return out / out.sum(axis=1, keepdims=True)


def named_classes(L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose votes all name one class, and that class."""
    counts = tallies(L)
    return (counts > 0).sum(axis=1) == 1, counts.argmax(axis=1)


def test_agreeing_votes_are_mixed_in_and_never_overruled() -> None:
    ruled, L, ids = learned(0.5)
    alone, _, _ = learned(0.0)
    P, Q = ruled.predict_proba_many(L, ids), alone.predict_proba_many(L, ids)
    unanimous, c = named_classes(L)
    # The model alone overrules some agreeing votes here (the rule has work to do) ...
    assert (Q.argmax(axis=1) != c)[unanimous].sum() > 20
    # ... with the rule, every agreeing row predicts the class its votes name, and its
    # posterior is exactly half the model's plus half that verdict.
    assert (P.argmax(axis=1) == c)[unanimous].all()
    expected = 0.5 * Q + 0.5 * np.eye(2)[c]
    np.testing.assert_allclose(P[unanimous], expected[unanimous], rtol=0, atol=1e-12)
    # Rows where one class leads without unanimity get the same mix; ties are the model's
    # alone with the silent LFs read too, and rows without votes the model's alone.
    counts = tallies(L)
    lead = np.abs(counts[:, 0] - counts[:, 1])
    split = ~unanimous & (lead > 0)
    assert split.sum() > 20
    assert (Q.argmax(axis=1) != c)[split].any()  # the model alone overrules some of them
    np.testing.assert_allclose(P[split], expected[split], rtol=0, atol=1e-12)
    tie = (lead == 0) & (counts.sum(axis=1) > 0)
    assert tie.sum() > 20
    np.testing.assert_allclose(P[tie], with_silences(ruled, Q, L, ids)[tie], rtol=0, atol=1e-12)
    assert np.abs(P[tie] - Q[tie]).max() > 0.01  # the silences moved them
    silent = counts.sum(axis=1) == 0
    np.testing.assert_array_equal(P[silent], Q[silent])
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_every_strict_majority_is_mixed_in_at_the_full_weight() -> None:
    # Three classes; votes 2-1, 3-1-1 and 10-1 for class 0 are mixed with e_0 at u, as a
    # lone vote for class 2 is; a 2-2 tie is not mixed, only restricted to its two classes
    # (the model's odds between them kept). predict_proba_one agrees with the batch form.
    m = 11
    model = OnlineLabelModel(3)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 3000)
    L = np.where(rng.random((3000, m)) < 0.7, y[:, None], rng.integers(0, 3, (3000, m)))
    L = np.where(rng.random((3000, m)) < 0.3, L, -1)
    ids = [f"lf{j}@1" for j in range(m)]
    model.learn_many(L, ids)
    alone = OnlineLabelModel(3, unanimous_weight=0.0)
    alone.learn_many(L, ids)
    votes = [[0, 0, 1], [0, 0, 0, 1, 2], [0, 0, 1, 1], [2], [0] * 10 + [1]]
    rows = np.array([v + [-1] * (m - len(v)) for v in votes])
    P, Q = model.predict_proba_many(rows, ids), alone.predict_proba_many(rows, ids)
    cases = [(0.5, 0), (0.5, 0), (0.0, 0), (0.5, 2), (0.5, 0)]
    Q[2] = Q[2] * [1, 1, 0] / (Q[2, 0] + Q[2, 1])
    for i, (w, c) in enumerate(cases):
        np.testing.assert_allclose(P[i], (1 - w) * Q[i] + w * np.eye(3)[c], rtol=0, atol=1e-12)
        one = model.predict_proba_one(dict(zip(ids, rows[i].tolist(), strict=True)))
        np.testing.assert_allclose(one, P[i], rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", [5, 14, 23])
def test_a_strict_majority_is_majority_votes_answer_on_any_stream(seed: int) -> None:
    # Random-shape streams (6 classes and 90 LFs, 2 and 18, 2 and 50 at intensity 3), where
    # the model alone overrules 130, 8 and 41 held-out majorities: with the rule, wherever
    # one class has more votes than any other, the model's label is that class.
    r = make_random_stream(seed)
    s, n = r.stream, r.n_learn
    model = OnlineLabelModel(s.cardinality)
    model.learn_many(s.L[:n], s.lf_ids)
    L = s.L[n:]
    counts = tallies(L, s.cardinality)
    top = np.sort(counts, axis=1)
    strict = top[:, -1] > top[:, -2]
    assert strict.any() and (~strict).any()
    pred = model.predict_many(L, s.lf_ids)
    np.testing.assert_array_equal(pred[strict], counts.argmax(axis=1)[strict])
    alone = OnlineLabelModel(s.cardinality, unanimous_weight=0.0)
    alone.learn_many(s.L[:n], s.lf_ids)
    assert (alone.predict_many(L, s.lf_ids) != counts.argmax(axis=1))[strict].any()


def test_one_event_matches_the_batch_form_and_the_setting_is_checked(tmp_path: Path) -> None:
    model, L, ids = learned(0.7)
    rows = L[:300]
    P = model.predict_proba_many(rows, ids)
    Q = np.array([model.predict_proba_one(dict(zip(ids, r.tolist(), strict=True))) for r in rows])
    np.testing.assert_allclose(P, Q, rtol=0, atol=1e-12)
    path = tmp_path / "m.npz"
    save_model(model, path)
    assert load_model(path).unanimous_weight == 0.7
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="unanimous_weight must lie in"):
            OnlineLabelModel(2, unanimous_weight=bad).learn_many([[0]], ["a@1"])


@pytest.mark.parametrize("seed", [252, 255])
def test_majorities_stand_on_dense_weak_one_class_lfs(seed: int) -> None:
    # ``bench shapes`` streams without an intensity whose one-class LFs are 30-75% (252: 9
    # classes, 36 LFs) and 50-75% (255: binary, 28 LFs) precise and fire on up to half the
    # events. Measured on the held-out events: with the rule 0.677 and 0.845, the model
    # alone 0.553 and 0.656 (0.518 on 252 before the LFs of one view counted once; 0.312
    # and 0.628 before the prior became majority vote's balance), majority vote 0.722 and
    # 0.908 (still below it, on ties: the silences the model ignores carry the evidence
    # here, docs "Known limits").
    r = make_random_stream(seed)
    s, n = r.stream, r.n_learn
    model, mv = OnlineLabelModel(s.cardinality), MajorityVote(s.cardinality)
    for start in range(0, n, 500):
        for m in (model, mv):
            m.learn_many(s.L[start : min(n, start + 500)], s.lf_ids)

    def acc(m: OnlineLabelModel | MajorityVote) -> float:
        return float((m.predict_many(s.L[n:], s.lf_ids) == s.y[n:]).mean())

    ruled, majority = acc(model), acc(mv)
    model.unanimous_weight = 0.0
    assert ruled > acc(model) + 0.1
    assert ruled > majority - 0.1


def _seen_through_others(seed: int, n: int = 6000) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Three classes; the LFs of classes 0 and 1 also fire on class 2.

    Four LFs vote 0 and four vote 1: on their own class at 0.4, on the other at 0.04, and
    on class 2 at 0.3; four LFs vote 2, on it at 0.2 and elsewhere at 0.02. One vote for 0
    and one for 1 is then far likelier under class 2 than under either (0.09 against
    0.016), whatever class 2's own LFs did.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    L = np.full((n, 12), -1, dtype=np.int64)
    for j in range(12):
        c = j % 3
        if c == 2:
            rate = np.where(y == 2, 0.2, 0.02)
        else:
            rate = np.where(y == c, 0.4, np.where(y == 2, 0.3, 0.04))
        L[rng.random(n) < rate, j] = c
    return L, y, [f"lf{j:02d}@1" for j in range(12)]


def test_a_tie_goes_to_one_of_its_tied_classes() -> None:
    L, y, ids = _seen_through_others(0)
    model = OnlineLabelModel(3)
    for start in range(0, 4000, 500):
        model.learn_many(L[start : start + 500], ids)
    test, truth = L[4000:], y[4000:]
    votes = np.stack([(test == c).sum(axis=1) for c in range(3)], axis=1)
    top = votes == votes.max(axis=1, keepdims=True)
    tie = (votes.max(axis=1) > 0) & (top.sum(axis=1) > 1)
    P = model.predict_proba_many(test, ids)
    # The rule: a class with fewer votes than another gets no probability on a tie (so it
    # is never the label), and the tied classes keep the model's odds between them (the
    # model's with the silent LFs read too).
    assert (P[tie][~top[tie]] == 0.0).all()
    model.unanimous_weight = 0.0  # the model alone
    alone = model.predict_proba_many(test, ids)
    heard = with_silences(model, alone, test, ids)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        both = tie & top[:, a] & top[:, b]
        np.testing.assert_allclose(P[both, a] / P[both, b], heard[both, a] / heard[both, b])
    # What the rule gives up: alone, the model gives 37 of the 341 ties a class none of
    # their votes named (class 2, for a vote for 0 and one for 1), right on 0.84 of them,
    # where the rule's tied class is right on 0.03; this stream was made for it. On real
    # comments with ten classes the same picks were right 10 times in 144, a tied class 38
    # times (``bench keywords --task video-spam``; ``docs/architecture.md``).
    picked = alone.argmax(axis=1)
    untied = tie & ~top[np.arange(len(test)), picked]
    assert untied.sum() > 20 and (picked[untied] == truth[untied]).mean() > 0.7
    model.unanimous_weight = 0.5
    for row, p in zip(test[untied], P[untied], strict=True):
        one = model.predict_proba_one(dict(zip(ids, row.tolist(), strict=True)))
        np.testing.assert_allclose(one, p, atol=1e-12)


def test_a_tie_whose_classes_all_underflowed_is_split_evenly() -> None:
    # A posterior can put every bit of its mass on an untied class (its tied classes'
    # probabilities underflowing to 0); the tie is then split evenly between them.
    model = OnlineLabelModel(3)
    model.learn_many([[0, 1, 2]] * 100, ["a@1", "b@1", "c@1"])
    model.views_ = 3  # enough views: the model's branch, not the prior's
    P = np.array([[0.0, 0.0, 1.0], [0.2, 0.3, 0.5]])
    r, v = np.array([0, 0, 1, 1, 1]), np.array([0, 1, 0, 1, 1])  # a 1-1 tie; a majority
    tally, lead = model._tally(r, v, 2)
    out = model._defer_to_votes(P.copy(), tally, lead, np.array([0]), np.array([False]))
    np.testing.assert_allclose(out[0], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(out[1], 0.5 * P[1] + 0.5 * np.eye(3)[1])
