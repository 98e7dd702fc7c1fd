"""Persistence of OnlineLabelModel: exact, versioned, pickle-free."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from streamlabel.datasets import make_bipolar_stream, make_drifting_stream, make_unipolar_stream
from streamlabel.labelmodel import (
    FORMAT_VERSION,
    IncompatibleModelError,
    MajorityVote,
    OnlineLabelModel,
    load_model,
    save_model,
)


def assert_same_model(
    a: OnlineLabelModel, b: OnlineLabelModel, L: np.ndarray, ids: list[str]
) -> None:
    assert a._settings() == b._settings()
    assert a.lf_ids_ == b.lf_ids_
    assert a._state_header() == b._state_header()
    sa, sb = a._state_arrays(), b._state_arrays()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert sa[key].dtype == sb[key].dtype
        assert np.array_equal(sa[key], sb[key]), key
    assert np.array_equal(a.predict_proba_many(L, ids), b.predict_proba_many(L, ids))
    assert a.lf_accuracies() == b.lf_accuracies()
    assert np.array_equal(a.class_balance_, b.class_balance_)


def test_round_trip_after_forgetting(tmp_path: Path) -> None:
    s = make_drifting_stream(3000, drift_at=1500, n_lfs=6, seed=0)
    model = OnlineLabelModel(2, half_life=200)  # the scale has grown to 2**15
    for start in range(0, 3000, 250):
        model.learn_many(s.L[start : start + 250], s.lf_ids)
    assert model._scale > 1e4
    back = load_model(save_model(model, tmp_path / "lm.npz"))
    assert_same_model(model, back, s.L, s.lf_ids)


def test_round_trip_after_add_and_retire(tmp_path: Path) -> None:
    s = make_bipolar_stream(2000, 3, 5, seed=1)
    model = OnlineLabelModel(3, half_life=500)
    model.learn_many(s.L[:1000], s.lf_ids)
    model.add_lf("lf000@2")
    model.retire_lf("lf003@1")
    ids = [*s.lf_ids[:3], "lf004@1", "lf000@2"]
    L = s.L[:, [0, 1, 2, 4, 0]]
    model.learn_many(L[1000:1500], ids)
    back = load_model(save_model(model, tmp_path / "lm.npz"))
    assert back.lf_ids_ == ["lf000@1", "lf001@1", "lf002@1", "lf004@1", "lf000@2"]
    assert_same_model(model, back, L, ids)


def test_round_trip_of_untrained_model(tmp_path: Path) -> None:
    model = OnlineLabelModel(4, half_life=None, prior_accuracy=0.6)
    back = load_model(save_model(model, tmp_path / "lm.npz"))
    assert back._settings() == model._settings()
    assert back.lf_ids_ == []
    np.testing.assert_array_equal(back.class_balance_, np.full(4, 0.25))


def test_loaded_model_keeps_learning_like_the_original(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    L = rng.integers(-1, 2, size=(100, 2))
    ids = ["a@1", "b@1"]
    model = OnlineLabelModel(2, half_life=None)
    model.learn_many(L[:70], ids)  # refit at event 64, then 6 events more
    back = load_model(save_model(model, tmp_path / "lm.npz"))
    model.learn_many(L[70:], ids)
    back.learn_many(L[70:], ids)
    # Measured: max |dp| 1.3e-3 and C [49.41, 50.59] vs [49.34, 50.66]; should be ~1e-15.
    np.testing.assert_allclose(
        back.predict_proba_many(L, ids), model.predict_proba_many(L, ids), atol=1e-12
    )


def test_loaded_model_after_add_lf_keeps_learning_like_the_original(tmp_path: Path) -> None:
    s = make_bipolar_stream(2000, 3, 5, seed=1)
    model = OnlineLabelModel(3, half_life=500)
    model.learn_many(s.L[:1000, :4], s.lf_ids[:4])
    model.add_lf(s.lf_ids[4])
    back = load_model(save_model(model, tmp_path / "lm.npz"))
    model.learn_many(s.L[1000:1010], s.lf_ids)
    back.learn_many(s.L[1000:1010], s.lf_ids)
    # Measured: max |dp| 0.075.
    np.testing.assert_allclose(
        back.predict_proba_many(s.L, s.lf_ids), model.predict_proba_many(s.L, s.lf_ids), atol=1e-9
    )


def _rewrite_header(
    path: Path,
    out: Path,
    *,
    drop_arrays: tuple[str, ...] = (),
    drop_state: tuple[str, ...] = (),
    **changes: object,
) -> None:
    """Copy a saved model with header changes, arrays and state keys left out."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k not in drop_arrays}
    header = json.loads(bytes(arrays["header"]).decode())
    header.update(changes)
    for key in drop_state:
        del header["state"][key]
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with out.open("wb") as fh:
        np.savez(fh, **arrays)


def _saved(tmp_path: Path) -> Path:
    model = OnlineLabelModel(2)
    model.learn_many([[0, 1], [1, 1], [-1, 0]], ["a@1", "b@1"])
    return save_model(model, tmp_path / "lm.npz")


def test_bumped_format_version_is_refused(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    bumped = tmp_path / "bumped.npz"
    _rewrite_header(path, bumped, format_version=FORMAT_VERSION + 1)
    with pytest.raises(IncompatibleModelError, match=f"version {FORMAT_VERSION + 1}"):
        load_model(bumped)
    # The untouched rewrite of the same file loads: only the version made the difference.
    same = tmp_path / "same.npz"
    _rewrite_header(path, same)
    assert load_model(same).lf_ids_ == ["a@1", "b@1"]


def test_other_format_or_class_is_refused(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    other = tmp_path / "other.npz"
    _rewrite_header(path, other, format="something.else")
    with pytest.raises(IncompatibleModelError, match=r"something\.else"):
        load_model(other)
    _rewrite_header(path, other, **{"class": "SnorkelModel"})
    with pytest.raises(IncompatibleModelError, match="SnorkelModel"):
        load_model(other)


def test_non_npz_and_headerless_files_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "model.npz"
    text.write_text("not a model at all", encoding="utf-8")
    with pytest.raises(IncompatibleModelError):
        load_model(text)
    bare = tmp_path / "bare.npz"
    np.savez(bare, T=np.zeros(2))
    with pytest.raises(IncompatibleModelError, match="no header"):
        load_model(bare)
    assert issubclass(IncompatibleModelError, ValueError)


def test_file_loads_without_pickle(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    assert "header" in arrays
    assert all(a.dtype != object for a in arrays.values())
    header = json.loads(bytes(arrays["header"]).decode())
    assert header["format_version"] == FORMAT_VERSION
    assert header["state"]["lf_ids"] == ["a@1", "b@1"]


def test_only_online_models_are_saved(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="MajorityVote"):
        save_model(MajorityVote(2), tmp_path / "mv.npz")  # type: ignore[arg-type]


def test_dumps_loads_round_trip_in_memory() -> None:
    from streamlabel.labelmodel import dumps_model, loads_model

    rng = np.random.default_rng(0)
    model = OnlineLabelModel(cardinality=3, half_life=1000.0)
    model.learn_many(rng.integers(-1, 3, size=(500, 4)), ["a@1", "b@1", "c@1", "d@1"])
    data = dumps_model(model)
    assert isinstance(data, bytes)
    back = loads_model(data)
    assert back.lf_ids_ == model.lf_ids_ and back.version_ == model.version_
    assert back.half_life == 1000.0
    L = rng.integers(-1, 3, size=(50, 4))
    ids = ["a@1", "b@1", "c@1", "d@1"]
    np.testing.assert_allclose(back.predict_proba_many(L, ids), model.predict_proba_many(L, ids))
    # Both keep learning identically.
    model.learn_many(L, ids)
    back.learn_many(L, ids)
    assert back.version_ == model.version_
    np.testing.assert_allclose(back.predict_proba_many(L, ids), model.predict_proba_many(L, ids))


@pytest.mark.parametrize("data", [b"", b"not a model", b"PK\x03\x04broken zip"])
def test_loads_refuses_garbage(data: bytes) -> None:
    from streamlabel.labelmodel import loads_model

    with pytest.raises(IncompatibleModelError):
        loads_model(data)


def test_round_trip_after_forget_lf(tmp_path: Path) -> None:
    s = make_drifting_stream(3000, drift_at=1500, n_lfs=6, seed=0)
    model = OnlineLabelModel(2, half_life=5000)
    model.learn_many(s.L[:1500], s.lf_ids)
    model.forget_lf("lf000@1")
    model.learn_many(s.L[1500:1700], s.lf_ids)  # the refit forget_lf brought forward
    back = load_model(save_model(model, tmp_path / "lm.npz"))
    assert_same_model(model, back, s.L, s.lf_ids)
    model.learn_many(s.L[1700:], s.lf_ids)
    back.learn_many(s.L[1700:], s.lf_ids)
    assert_same_model(model, back, s.L, s.lf_ids)


def test_file_saved_before_the_intensity_guard_loads_without_it(tmp_path: Path) -> None:
    # A stream where the guard is on (see test_intensity_guard.py).
    s = make_unipolar_stream(
        8000, 4, 40, class_balance=[0.5, 0.3, 0.15, 0.05], recall=(0.1, 0.5), intensity=1.0, seed=2
    )
    model = OnlineLabelModel(4)
    model.learn_many(s.L[:2000], s.lf_ids)
    assert model.intensity_weight_ > 0.5
    old = tmp_path / "old.npz"
    _rewrite_header(
        save_model(model, tmp_path / "lm.npz"),
        old,
        drop_arrays=("fire",),
        drop_state=("cofiring_ratio", "intensity_weight", "pair_inflation"),
    )
    back = load_model(old)
    assert back.intensity_weight_ == 0.0
    assert back.pair_inflation_ == 1.0 < model.pair_inflation_
    L = s.L[2000:2500]
    guarded = model.predict_proba_many(L, s.lf_ids)
    # Without the guard, predictions are those of the same tables without the normaliser.
    model.intensity_weight_ = 0.0
    bare = model.predict_proba_many(L, s.lf_ids)
    np.testing.assert_allclose(back.predict_proba_many(L, s.lf_ids), bare, atol=1e-15)
    assert not np.allclose(guarded, bare)
    # Its next fit measures the co-firing again and turns the guard on.
    back.learn_many(s.L[2000:4100], s.lf_ids)
    assert back.intensity_weight_ == 1.0
    assert back.pair_inflation_ > 1.0


def test_views_round_trip_and_a_file_saved_before_them_settles_ties_as_it_did(
    tmp_path: Path,
) -> None:
    # Two LFs are two views at most: the model settles their ties as majority vote does.
    s = make_unipolar_stream(3000, 2, 2, seed=2)
    model = OnlineLabelModel(2)
    model.learn_many(s.L, s.lf_ids)
    assert model.views_ == 2
    path = save_model(model, tmp_path / "lm.npz")
    assert load_model(path).views_ == 2
    old = tmp_path / "old.npz"
    _rewrite_header(path, old, drop_state=("views",))
    back = load_model(old)
    assert back.views_ == 3
    two = model.predict_proba_many(s.L, s.lf_ids)
    model.views_ = 3  # the same tables, every tie to the fit
    np.testing.assert_allclose(
        back.predict_proba_many(s.L, s.lf_ids), model.predict_proba_many(s.L, s.lf_ids)
    )
    tie = (s.L >= 0).all(axis=1) & (s.L[:, 0] != s.L[:, 1])
    assert not np.allclose(back.predict_proba_many(s.L, s.lf_ids)[tie], two[tie])
    # Its next fit counts the views again.
    back.learn_many(s.L, s.lf_ids)
    assert back.views_ == 2


def test_a_file_saved_before_views_were_counted_once_counts_every_lf(tmp_path: Path) -> None:
    # Three LFs, the first two one field read both ways: one view, counted once.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    x = rng.normal(y - 0.5, 1.0)
    kw = np.where(rng.random(3000) < np.where(y == 1, 0.4, 0.05), 1, -1)
    L = np.stack([np.where(x <= 0, 0, -1), np.where(x > 0, 1, -1), kw], axis=1)
    ids = ["le@1", "gt@1", "kw@1"]
    model = OnlineLabelModel(2)
    model.learn_many(L, ids)
    assert len(set(model._view.tolist())) == 2
    path = save_model(model, tmp_path / "lm.npz")
    old = tmp_path / "old.npz"
    _rewrite_header(path, old, drop_arrays=("view",))
    back = load_model(old)
    assert back._view.tolist() == [0, 1, 2] and not back._grouped
    # Its next fit (at 4,096 events) joins the field again.
    fits = back.n_fits_
    back.learn_many(L[:1100], ids)
    assert back.n_fits_ == fits + 1
    assert back._view.tolist() == model._view.tolist()
