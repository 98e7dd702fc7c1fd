"""Edges of the registry, serving and artifacts that a mutation review found untested."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import streamlabel.models._io as io_mod
import streamlabel.models._registry as reg_mod
from streamlabel.models import (
    CorruptArtifactError,
    EndModel,
    IncompatibleArtifactError,
    Lineage,
    ModelRegistry,
    PayloadFeaturizer,
    RegistryError,
    ServingModel,
    decide,
    evaluate,
    load_model_artifact,
    save_model_artifact,
)
from streamlabel.models._io import _digest

LIN = Lineage("s", "1", "0.1", 8)


def _small(k: int = 2, C: float = 1.0) -> EndModel:
    f = PayloadFeaturizer(numeric_fields=["x"], n_features=4)
    return EndModel(f, C=C).fit([{"x": i} for i in range(3 * k)], np.arange(3 * k) % k)


def _members(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as d:
        return {k: d[k] for k in d.files}


# ------------------------------------------------------------------ registry


def test_default_ids_skip_a_folder_left_by_a_failed_registration(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    reg.register(_small(), {}, LIN)
    (tmp_path / "versions" / "v2").mkdir()  # a registration that failed after its claim
    v = reg.register(_small(), {}, LIN)
    assert (v.version, v.number) == ("v3", 3)


def test_a_failed_artifact_write_leaves_no_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = ModelRegistry(tmp_path)

    def boom(model: Any, path: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(reg_mod, "save_model_artifact", boom)
    with pytest.raises(OSError):
        reg.register(_small(), {}, LIN)
    monkeypatch.undo()
    again = ModelRegistry(tmp_path)  # re-opened: the half registration is no version
    assert len(again) == 0
    assert again.register(_small(), {}, LIN).version == "v2"  # v1 is never reused


def test_a_promotion_that_cannot_be_written_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = ModelRegistry(tmp_path)
    reg.register(_small(), {}, LIN)

    def boom(path: Any, obj: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(reg_mod, "_write_json", boom)
    with pytest.raises(OSError):
        reg.promote("v1", "first", actor="ci")
    assert reg.champion is None and reg.history == ()


def test_opening_refuses_inconsistent_folders(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path / "a")
    reg.register(_small(), {}, LIN)
    reg.promote("v1", "first", actor="ci")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "registry.json").write_text(
        json.dumps({"format": "streamlabel.model-registry", "format_version": 2})
    )
    with pytest.raises(RegistryError, match="format version 2"):
        ModelRegistry(tmp_path / "b")
    history = tmp_path / "a" / "history.json"
    good = history.read_text()
    hist = json.loads(good)
    hist["entries"][0]["version"] = "v9"
    history.write_text(json.dumps(hist))
    with pytest.raises(RegistryError, match="unregistered"):
        ModelRegistry(tmp_path / "a")
    history.unlink()
    (tmp_path / "a" / "versions" / "v1").rename(tmp_path / "a" / "versions" / "v7")
    with pytest.raises(RegistryError, match="not its folder"):
        ModelRegistry(tmp_path / "a")


def test_opening_refuses_a_history_that_cannot_be_replayed(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    reg.register(_small(), {}, LIN)
    reg.register(_small(), {}, LIN)
    reg.promote("v1", "first", actor="ci")
    reg.promote("v2", "second", actor="ci")
    reg.rollback("bad", actor="ops")
    history = tmp_path / "history.json"
    entries = json.loads(history.read_text())["entries"]
    champion = ModelRegistry(tmp_path).champion
    assert champion is not None and champion.version == "v1"
    for broken, fragment in [
        ([entries[2]], "no earlier champion"),  # a rollback first
        ([entries[0], entries[0]], "does not follow"),  # v1 promoted over itself
        ([entries[1]], "does not follow"),  # v2 promoted "from v1" with no champion
    ]:
        history.write_text(json.dumps({"entries": broken}))
        with pytest.raises(RegistryError, match=fragment):
            ModelRegistry(tmp_path)


# ------------------------------------------------------------------ serving


def test_set_shadow_refuses_a_candidate_that_fails_verification() -> None:
    serving = ServingModel()
    assert serving.swap(_small(2), version="v1").ok
    r = serving.set_shadow(_small(3), version="k3")
    assert not r.ok and "predicts 3 classes" in r.reason
    assert serving.shadow is None and serving.swap_failures_ == 1


def test_a_refused_shadow_leaves_the_current_shadow(tmp_path: Path) -> None:
    serving = ServingModel()
    serving.swap(_small(), version="v1")
    assert serving.set_shadow(_small(C=0.1), version="s1").ok
    assert not serving.set_shadow(tmp_path / "missing.npz").ok
    assert serving.shadow is not None and serving.shadow.version == "s1"


def test_smoke_test_refuses_probabilities_outside_0_1(monkeypatch: pytest.MonkeyPatch) -> None:
    serving = ServingModel()

    def bad(self: EndModel, payloads: Any) -> np.ndarray:
        return np.array([[1.5, -0.5]] * len(payloads))

    monkeypatch.setattr(EndModel, "predict_proba_many", bad)
    r = serving.swap(_small(), version="bad")
    assert not r.ok and "not in [0, 1]" in r.reason and serving.version is None


def test_the_caller_keeps_no_reference_into_the_served_model() -> None:
    serving = ServingModel()
    m = _small()
    serving.swap(m, version="v1")
    before = serving.predict_proba_many([{"x": 2}])
    m.coef_ = m.coef_ * 100  # the caller edits its model after the swap
    np.testing.assert_array_equal(serving.predict_proba_many([{"x": 2}]), before)
    assert serving.current is not None and serving.current.model is not m


class _CountingServing(ServingModel):
    """Counts reads of the served reference: one request must read it once."""

    reads = 0

    @property  # type: ignore[override]
    def _current(self) -> Any:
        type(self).reads += 1
        return self.__dict__["_cur"]

    @_current.setter
    def _current(self, v: Any) -> None:
        self.__dict__["_cur"] = v


def test_a_request_reads_the_served_reference_once() -> None:
    # Two reads could pair one model's version with another's output during a swap.
    s = _CountingServing()
    s.swap(_small(), version="a")
    for call in (s.predict_proba_with_version, s.predict_with_shadow, s.predict_proba_many):
        _CountingServing.reads = 0
        call([{"x": 1}])
        assert _CountingServing.reads == 1, call.__name__


# ------------------------------------------------------------------ champion / challenger


def test_a_gain_exactly_equal_to_the_margin_promotes() -> None:
    assert decide({"accuracy": 0.5}, {"accuracy": 0.75}, margin=0.25).promote  # exact in binary


def test_a_non_finite_champion_is_replaced() -> None:
    d = decide({"log_loss": float("inf")}, {"log_loss": 0.4}, metric="log_loss")
    assert d.promote and d.champion is None


class _Fixed:
    def __init__(self, p: np.ndarray) -> None:
        self.p = p

    def predict_proba_many(self, payloads: Any) -> np.ndarray:
        return self.p[: len(payloads)]


def test_no_auc_when_the_truth_is_all_positive() -> None:
    m = evaluate(_Fixed(np.array([[0.4, 0.6]] * 4)), [{}] * 4, np.ones(4, dtype=np.int64))
    assert "auc" not in m and m["accuracy"] == 1.0


# ------------------------------------------------------------------ artifacts


def test_an_artifact_without_its_hash_member_is_refused(tmp_path: Path) -> None:
    path = save_model_artifact(_small(), tmp_path / "m.npz").path
    members = _members(path)
    del members["sha256"]
    members["coef"] = members["coef"] * 2  # an edit nothing else would notice
    np.savez_compressed(path, **members)
    with pytest.raises(CorruptArtifactError, match="no content hash"):
        load_model_artifact(path)


def test_another_model_class_is_refused_even_with_a_valid_hash(tmp_path: Path) -> None:
    path = save_model_artifact(_small(), tmp_path / "m.npz").path
    members = _members(path)
    header = json.loads(members.pop("header").tobytes())
    members.pop("sha256")
    header["class"] = "GradientBoosting"
    hb = json.dumps(header, sort_keys=True).encode()
    members["sha256"] = np.frombuffer(_digest(hb, members).encode(), np.uint8)
    members["header"] = np.frombuffer(hb, np.uint8)
    np.savez_compressed(path, **members)
    with pytest.raises(IncompatibleArtifactError, match="unknown model class"):
        load_model_artifact(path)


def test_a_failed_save_leaves_the_previous_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_model_artifact(_small(), tmp_path / "m.npz").path
    good = path.read_bytes()

    def half(fh: Any, **members: Any) -> None:
        fh.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(io_mod.np, "savez_compressed", half)
    with pytest.raises(OSError):
        save_model_artifact(_small(C=0.1), path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
