"""Label-model contracts a mutation review found untested (each test names what it guards)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from streamlabel.datasets import make_bipolar_stream
from streamlabel.labelmodel import (
    IncompatibleModelError,
    MajorityVote,
    OnlineLabelModel,
    dumps_model,
    load_model,
    save_model,
)
from streamlabel.labelmodel._base import as_vote_matrix

# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        # Guards the "< math.inf" half of the half_life check: without it, inf overflows
        # int() in the state set-up instead of a ValueError naming the field.
        ({"half_life": math.inf}, "half_life must be >= 1"),
        # Guards the "< math.inf" half of the gold_weight check (inf gold -> NaN counts).
        ({"gold_weight": math.inf}, "gold_weight"),
    ],
)
def test_infinite_settings_are_refused_naming_the_field(
    settings: dict[str, float], match: str
) -> None:
    """Infinite settings get a ValueError naming the field, as NaN and out-of-range do."""
    with pytest.raises(ValueError, match=match):
        OnlineLabelModel(2, **settings).learn_many([[0]], ["a@1"])  # type: ignore[arg-type]


# ---------------------------------------------------------------- learn_one / learn_gold


def test_a_bad_learn_one_event_leaves_no_trace() -> None:
    """Guards learn_one's validation *before* it registers unseen LF ids."""
    model = OnlineLabelModel(3)
    model.learn_one({"a@1": 0, "b@1": 1})
    version = model.version_
    with pytest.raises(ValueError, match=r"votes must lie in -1\.\.2"):
        model.learn_one({"a@1": 0, "new@1": 5})
    assert model.lf_ids_ == ["a@1", "b@1"]
    assert model.version_ == version


def _forgetting_model(gold_weight: float = 1.0) -> tuple[OnlineLabelModel, list[str]]:
    s = make_bipolar_stream(400, 2, 4, seed=0)
    model = OnlineLabelModel(2, half_life=50.0, gold_weight=gold_weight)
    model.learn_many(s.L, s.lf_ids)
    assert model._scale > 100  # the inflated scale differs from 1 (and from its square)
    return model, s.lf_ids


def test_gold_weighs_gold_weight_events_under_forgetting() -> None:
    """Guards learn_gold's weight scale**2 * gold_weight (counts are stored at scale**2)."""
    model, ids = _forgetting_model(gold_weight=3.0)
    before = model.sufficient_statistics()
    model.learn_gold({ids[0]: 1, ids[1]: -1}, 1)
    after = model.sufficient_statistics()
    np.testing.assert_allclose(after["C"] - before["C"], [0.0, 3.0], atol=1e-9)
    np.testing.assert_allclose(after["N"][0] - before["N"][0], [0.0, 3.0], atol=1e-9)
    np.testing.assert_allclose(after["n"][0, 1] - before["n"][0, 1], [0.0, 3.0], atol=1e-9)
    np.testing.assert_allclose(after["n"][1], before["n"][1], atol=1e-9)  # b abstained


def test_gold_leaves_the_moments_alone() -> None:
    """Guards learn_gold touching only the expected counts (the moments saw the events)."""
    model, ids = _forgetting_model()
    before = model.sufficient_statistics()
    model.learn_gold(np.array([[1, 1, -1, 0], [0, -1, -1, -1]]), [1, 0], lf_ids=ids)
    after = model.sufficient_statistics()
    for key in ("t", "T", "Fv", "TT", "O", "V"):
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)
    assert not np.array_equal(after["C"], before["C"])


# ---------------------------------------------------------------- forgetting


def test_majority_balance_is_rescaled_with_the_other_moments() -> None:
    """Guards _renormalize dividing V (majority vote's balance) by the scale like the rest.

    half_life=1 pushes the inflated scale past _MAX_SCALE within ~400 events.
    """
    model = OnlineLabelModel(2, half_life=1.0)
    L = np.array([[0, 0]] * 1000 + [[1, 1]] * 10)
    model.learn_many(L, ["a@1", "b@1"])
    ages = np.arange(len(L))[::-1]  # the last event has age 0
    g = 0.5**ages
    expected = np.array([g[:1000].sum(), g[1000:].sum()])
    np.testing.assert_allclose(model.sufficient_statistics()["V"], expected, rtol=1e-9)
    assert model.prior_.argmax() == 1  # the recent class, not the long-forgotten one


def test_forget_lf_brings_the_next_fit_within_256_events() -> None:
    """Guards forget_lf moving the next moment fit forward (docstring: within 256 events)."""
    s = make_bipolar_stream(4500, 2, 4, seed=1)
    model = OnlineLabelModel(2, half_life=None)
    model.learn_many(s.L[:4200], s.lf_ids)  # fits up to 4096; the next is due at 8192
    fits = model.n_fits_
    model.forget_lf("lf000@1")
    model.learn_many(s.L[4200:4456], s.lf_ids)
    assert model.n_fits_ > fits


def test_forget_and_retire_change_the_version() -> None:
    """Guards the revision bump of forget_lf and retire_lf (a label names its parameters)."""
    s = make_bipolar_stream(300, 2, 3, seed=2)
    model = OnlineLabelModel(2)
    model.learn_many(s.L, s.lf_ids)
    v0 = model.version_
    model.forget_lf("lf000@1")
    v1 = model.version_
    assert v1 != v0
    model.retire_lf("lf001@1")
    assert model.version_ not in (v0, v1)


# ---------------------------------------------------------------- LF versions


def _trained(prior_events: float = 5.0) -> OnlineLabelModel:
    s = make_bipolar_stream(3000, 2, 4, accuracy=(0.85, 0.95), seed=2)
    model = OnlineLabelModel(2, half_life=None, prior_events=prior_events)
    model.learn_many(s.L, s.lf_ids)
    return model


def test_new_version_inherits_capped_counts_vote_rates_and_fit() -> None:
    """Guards add_lf's inheritance: counts capped at 10 * prior_events, rates, and mu."""
    model = _trained(prior_events=5.0)
    model.add_lf("lf000@2")
    st = model.sufficient_statistics()
    old, new = 0, model.lf_ids_.index("lf000@2")
    cap = 10 * 5.0
    assert st["N"][old].sum() > 10 * cap  # the predecessor has far more than the cap
    assert st["N"][new].sum() == pytest.approx(cap)
    np.testing.assert_allclose(st["n"][new], st["n"][old] * cap / st["N"][old].sum(), rtol=1e-12)
    assert st["T"][new] == pytest.approx(cap)
    np.testing.assert_allclose(st["Fv"][new] / st["T"][new], st["Fv"][old] / st["T"][old])
    np.testing.assert_array_equal(model._mu[new], model._mu[old])  # the E-step's model too


def test_inherit_false_starts_at_the_prior_and_contradictions_are_refused() -> None:
    """Guards add_lf(inherit=False) and its refusal of an explicit predecessor with it."""
    model = _trained()
    model.add_lf("lf000@2", inherit=False)
    st = model.sufficient_statistics()
    j = model.lf_ids_.index("lf000@2")
    for key in ("n", "N", "T", "Fv"):
        assert not st[key][j].any(), key
    with pytest.raises(ValueError, match="contradict"):
        model.add_lf("lf000@3", predecessor="lf000@1", inherit=False)
    assert "lf000@3" not in model.lf_ids_


def test_a_new_version_starts_from_the_latest_version() -> None:
    """Guards add_lf picking the newest same-name LF (same[-1]) as the predecessor."""
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 2, n)
    others = np.where(rng.random((n, 2)) < 0.8, y[:, None], 1 - y[:, None])
    model = OnlineLabelModel(2, half_life=None)
    x1 = np.where(rng.random(n) < 0.3, 0, -1)  # x@1 only ever votes 0, on 30% of events
    model.learn_many(np.column_stack([x1, others]), ["x@1", "o@1", "p@1"])
    x2 = np.where(rng.random(n) < 0.9, 1, -1)  # x@2 votes 1 on 90% of events
    model.learn_many(np.column_stack([x2, others]), ["x@2", "o@1", "p@1"])
    model.add_lf("x@3")
    st = model.sufficient_statistics()
    rate = {
        i: st["Fv"][model.lf_ids_.index(i)] / st["T"][model.lf_ids_.index(i)]
        for i in ("x@1", "x@2", "x@3")
    }
    np.testing.assert_allclose(rate["x@3"], rate["x@2"], rtol=1e-12)
    assert abs(rate["x@3"][1] - rate["x@1"][1]) > 0.3


# ---------------------------------------------------------------- merge


def test_merge_statistics_are_sums_of_the_parts_under_forgetting() -> None:
    """Guards merge's per-statistic rescaling (n, N, C by scale**2; t and moments by scale).

    With half_life=None the scale is 1 and a wrong power goes unseen.
    """
    s = make_bipolar_stream(1500, 3, 4, seed=4)
    a, b = OnlineLabelModel(3, half_life=300.0), OnlineLabelModel(3, half_life=300.0)
    a.learn_many(s.L[:700], s.lf_ids)
    b.learn_many(s.L[700:], s.lf_ids)
    assert a._scale > 4 and b._scale > 4
    sa, sb = a.sufficient_statistics(), b.sufficient_statistics()
    sm = a.merge(b).sufficient_statistics()
    for key in ("t", "T", "Fv", "TT", "O", "V", "n", "N", "C"):
        np.testing.assert_allclose(sm[key], sa[key] + sb[key], rtol=1e-10, err_msg=key)


def test_merged_models_of_different_data_carry_different_versions() -> None:
    """Guards merge carrying the parts' revisions: a merged model's version_ names its data.

    Without them every merge reads "1.1", whatever it merged.
    """
    s = make_bipolar_stream(900, 2, 4, seed=5)
    a, b = OnlineLabelModel(2), OnlineLabelModel(2)
    a.learn_many(s.L[:300], s.lf_ids)
    b.learn_many(s.L[300:600], s.lf_ids)
    first = a.merge(b).version_
    a.learn_many(s.L[600:], s.lf_ids)
    assert a.merge(b).version_ != first


# ---------------------------------------------------------------- save / load


def _saved(tmp_path: Path) -> Path:
    model = OnlineLabelModel(2)
    model.learn_many([[0, 1], [1, 1], [-1, 0]], ["a@1", "b@1"])
    return save_model(model, tmp_path / "lm.npz")


def _rewrite(
    path: Path,
    out: Path,
    *,
    arrays_changed: dict[str, np.ndarray] | None = None,
    drop_state: tuple[str, ...] = (),
    **changes: object,
) -> Path:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(bytes(arrays["header"]).decode())
    header.update(changes)
    for key in drop_state:
        del header["state"][key]
    arrays.update(arrays_changed or {})
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with out.open("wb") as fh:
        np.savez(fh, **arrays)
    return out


@pytest.mark.parametrize("version", [0, None])
def test_older_or_missing_format_version_is_refused_naming_the_file(
    tmp_path: Path, version: int | None
) -> None:
    """Guards the format-version check being an equality, and the error naming the file.

    Refusing only newer versions would read an older file as if it were current.
    """
    old = _rewrite(_saved(tmp_path), tmp_path / "old.npz", format_version=version)
    with pytest.raises(IncompatibleModelError, match=f"version {version}") as err:
        load_model(old)
    assert str(old) in str(err.value)


@pytest.mark.parametrize(
    "changed",
    [
        {"O": np.zeros((1, 1))},
        {"mu": np.zeros((1, 2, 2))},
        {"V": np.zeros(3)},
    ],
    ids=["O", "mu", "V"],
)
def test_arrays_inconsistent_with_the_header_are_refused(
    tmp_path: Path, changed: dict[str, np.ndarray]
) -> None:
    """Guards _load_state's shape checks: a broken file is refused at load, not later."""
    bad = _rewrite(_saved(tmp_path), tmp_path / "bad.npz", arrays_changed=changed)
    with pytest.raises(IncompatibleModelError, match="inconsistent"):
        load_model(bad)


@pytest.mark.parametrize("key", ["lf_ids", "scale", "n_events"])
def test_a_header_missing_a_state_key_is_refused(tmp_path: Path, key: str) -> None:
    """Guards the KeyError -> IncompatibleModelError translation of a truncated header."""
    bad = _rewrite(_saved(tmp_path), tmp_path / "bad.npz", drop_state=(key,))
    with pytest.raises(IncompatibleModelError, match=re.escape(key)):
        load_model(bad)


def test_dumps_model_refuses_other_models() -> None:
    """Guards dumps_model's type check (save_model's is tested elsewhere)."""
    with pytest.raises(TypeError, match="MajorityVote"):
        dumps_model(MajorityVote(2))  # type: ignore[arg-type]


# ---------------------------------------------------------------- MajorityVote / base


def test_majority_one_event_tie_on_zero_prior_classes_splits_evenly() -> None:
    """Guards predict_proba_one's fallback when a fixed prior is 0 on every tied class."""
    mv = MajorityVote(3, class_balance=[1.0, 0.0, 0.0])
    one = mv.predict_proba_one({"a": 1, "b": 2})
    np.testing.assert_array_equal(one, [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(one, mv.predict_proba_many([[1, 2]], ["a", "b"])[0])


def test_a_single_row_may_be_given_flat() -> None:
    """Guards as_vote_matrix reading a 1-D row of len(lf_ids) votes as one event."""
    assert as_vote_matrix([0, -1, 1], ["a", "b", "c"], 2).tolist() == [[0, -1, 1]]
    model = OnlineLabelModel(2)
    model.learn_many([0, 1], ["a@1", "b@1"])
    assert model.n_events_ == 1
    assert model.predict_proba_many([0, 1], ["a@1", "b@1"]).shape == (1, 2)


@pytest.mark.parametrize("balance", [[2.0, -1.0], [0.0, 0.0], [0.5, math.nan], [1.0, 1.0, 1.0]])
def test_majority_vote_refuses_a_class_balance_that_is_no_prior(balance: list[float]) -> None:
    """Guards MajorityVote's fixed prior: it used to give negative or NaN probabilities."""
    mv = MajorityVote(2, class_balance=balance)
    with pytest.raises(ValueError, match="class_balance"):
        mv.predict_proba_many([[-1, -1], [0, 1]], ["a", "b"])
