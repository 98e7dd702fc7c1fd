"""The prior's weight rises toward 1 where majority vote's and the co-firing balance agree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from streamlabel.datasets import make_unipolar_stream
from streamlabel.labelmodel import MajorityVote, OnlineLabelModel, _online, load_model, save_model

from .test_balance import fraud_rules, learned
from .test_io import _rewrite_header

N_LEARN = 4571  # the events WRENCH's SMS set learns from


def sms_shaped(seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """73 one-class LFs, 13.4% spam, each LF firing on 1-10% of its class, lift 30-300.

    The SMS Spam Collection's balance, and the sparsest shape of the proxy in
    ``docs/architecture.md``: a tie is one spam LF against one ham LF, about as precise,
    and nine in ten such events are ham.
    """
    s = make_unipolar_stream(
        N_LEARN + 3000,
        2,
        73,
        class_balance=[0.866, 0.134],
        recall=(0.01, 0.1),
        lift=(30.0, 300.0),
        seed=seed,
    )
    return s.lf_ids, s.L, s.y


def accuracies(model: OnlineLabelModel, ids: list[str], L: np.ndarray, y: np.ndarray) -> int:
    """Learn ``model`` and majority vote on the first events; return how many more of the
    3,000 events after them ``model`` labels right."""
    mv = MajorityVote(2)
    for start in range(0, N_LEARN, 500):
        model.learn_many(L[start : min(N_LEARN, start + 500)], ids)
        mv.learn_many(L[start : min(N_LEARN, start + 500)], ids)
    test, yt = L[N_LEARN:], y[N_LEARN:]
    ours = (model.predict_many(test, ids) == yt).sum()
    return int(ours - (mv.predict_many(test, ids) == yt).sum())


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_agreeing_balances_weigh_the_prior_in_full_and_keep_the_ties_of_a_rare_class(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, L, y = sms_shaped(seed)
    model = OnlineLabelModel(2)
    gap = accuracies(model, ids, L, y)
    assert model.balance_agreement_ > 0.5
    pi = model._fit_balance()
    w = 0.5 + 0.5 * model.balance_agreement_
    np.testing.assert_allclose(model.prior_, pi**w / (pi**w).sum())
    assert gap >= -1  # level with majority vote, to one event in 3,000
    # Without it (no span within which the balances agree) the half weight sends ties of
    # one ham and one spam LF to spam, and the model falls below majority vote.
    monkeypatch.setattr(_online, "_AGREE_SPAN", 1e-12)
    hedged = OnlineLabelModel(2)
    assert accuracies(hedged, ids, L, y) <= -4
    assert hedged.balance_agreement_ == 0.0


def test_balances_that_part_keep_the_half_weight() -> None:
    # Most events that draw a vote are fraud, most events are legit: majority vote's
    # balance reads the voted events, the co-firing balance the rules' lift.
    ids, L, _ = fraud_rules(seed=1)
    model = learned(ids, L)
    assert model.balance_agreement_ == 0.0
    pi = model._fit_balance()
    np.testing.assert_allclose(model.prior_, np.sqrt(pi) / np.sqrt(pi).sum())


def test_a_balance_given_or_a_full_weight_is_taken_as_set() -> None:
    ids, L, _ = sms_shaped(0)
    given = OnlineLabelModel(2, balance=[0.8, 0.2])
    given.learn_many(L[:N_LEARN], ids)
    assert given.balance_agreement_ == 0.0
    np.testing.assert_allclose(given.prior_, [2 / 3, 1 / 3])
    full = OnlineLabelModel(2, prior_weight=1.0)
    full.learn_many(L[:N_LEARN], ids)
    assert full.balance_agreement_ > 0.5
    np.testing.assert_allclose(full.prior_, full._fit_balance())


def test_one_event_and_a_batch_read_the_same_weight() -> None:
    ids, L, _ = sms_shaped(1)
    model = OnlineLabelModel(2)
    model.learn_many(L[:N_LEARN], ids)
    assert 0.0 < model.balance_agreement_
    rows = L[N_LEARN : N_LEARN + 400]
    batch = model.predict_proba_many(rows, ids)
    for row, p in zip(rows, batch, strict=True):
        votes = {i: int(v) for i, v in zip(ids, row, strict=True)}  # -1: present, silent
        np.testing.assert_allclose(model.predict_proba_one(votes), p, rtol=1e-9, atol=1e-12)


def test_agreement_round_trips_and_an_older_file_weighs_its_prior_as_set(tmp_path: Path) -> None:
    ids, L, _ = sms_shaped(1)
    model = OnlineLabelModel(2)
    model.learn_many(L[:2000], ids)  # the next fit at 2,048 events
    path = save_model(model, tmp_path / "lm.npz")
    back = load_model(path)
    assert back.balance_agreement_ == model.balance_agreement_ > 0.0
    np.testing.assert_array_equal(back.prior_, model.prior_)
    old = tmp_path / "old.npz"
    _rewrite_header(path, old, drop_state=("balance_agreement",))
    before = load_model(old)
    assert before.balance_agreement_ == 0.0
    pi = before._fit_balance()
    np.testing.assert_allclose(before.prior_, np.sqrt(pi) / np.sqrt(pi).sum())
    # Its next fit measures the agreement again.
    before.learn_many(L[2000:2100], ids)
    assert before.balance_agreement_ > 0.5


def test_a_file_with_an_agreement_out_of_range_is_refused(tmp_path: Path) -> None:
    ids, L, _ = sms_shaped(0)
    model = OnlineLabelModel(2)
    model.learn_many(L[:1000], ids)
    path = save_model(model, tmp_path / "lm.npz")
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(bytes(data["header"]).decode())
    header["state"]["balance_agreement"] = 1.5
    bad = tmp_path / "bad.npz"
    _rewrite_header(path, bad, state=header["state"])
    with pytest.raises(ValueError, match="balance_agreement must lie in"):
        load_model(bad)


def test_merge_measures_the_agreement_afresh() -> None:
    ids, L, _ = sms_shaped(1)
    a, b, whole = OnlineLabelModel(2), OnlineLabelModel(2), OnlineLabelModel(2)
    a.learn_many(L[: N_LEARN // 2], ids)
    b.learn_many(L[N_LEARN // 2 : N_LEARN], ids)
    whole.learn_many(L[:N_LEARN], ids)
    merged = a.merge(b)
    assert merged.balance_agreement_ == pytest.approx(whole.balance_agreement_, abs=0.05)
