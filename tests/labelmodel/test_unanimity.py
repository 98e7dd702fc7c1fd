"""The unanimity rule: the label model weighs LFs that disagree but never overrules votes
that all agree (``unanimous_weight``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamlabel.datasets import make_unipolar_stream
from streamlabel.labelmodel import OnlineLabelModel, load_model, save_model


def learned(weight: float) -> tuple[OnlineLabelModel, np.ndarray, list[str]]:
    # 10% of class 1, weak one-class LFs: the class balance overrules many lone votes.
    s = make_unipolar_stream(4000, 2, 8, class_balance=[0.9, 0.1], recall=(0.05, 0.3), seed=3)
    model = OnlineLabelModel(2, unanimous_weight=weight)
    model.learn_many(s.L, s.lf_ids)
    return model, s.L, s.lf_ids


def named_classes(L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose votes all name one class, and that class."""
    counts = np.stack([(L == c).sum(axis=1) for c in range(2)], axis=1)
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
    # Rows with conflicting votes, and rows without votes, are the model's alone.
    np.testing.assert_array_equal(P[~unanimous], Q[~unanimous])
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


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
