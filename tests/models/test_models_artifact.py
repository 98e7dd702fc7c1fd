"""Model artifacts: exact round trips; damaged, edited and foreign files refused; no pickle."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from models_helpers import FraudSetup

from streamlabel.labelmodel import IncompatibleModelError, OnlineLabelModel, save_model
from streamlabel.models import (
    ARTIFACT_FORMAT_VERSION,
    CorruptArtifactError,
    EndModel,
    IncompatibleArtifactError,
    artifact_sha256,
    dumps_model_artifact,
    load_model_artifact,
    loads_model_artifact,
    save_model_artifact,
)


def members_of(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def header_of(members: dict[str, np.ndarray]) -> dict[str, Any]:
    return json.loads(members["header"].tobytes().decode())


def rewrite(path: Path, members: dict[str, Any], allow_pickle: bool = False) -> None:
    with path.open("wb") as fh:
        np.savez_compressed(fh, **members, allow_pickle=allow_pickle)


def test_round_trip_is_exact(fraud: FraudSetup, tmp_path: Path) -> None:
    model = fraud.soft_model
    info = save_model_artifact(model, tmp_path / "m.npz")
    assert info.path == tmp_path / "m.npz" and info.size == info.path.stat().st_size
    assert info.sha256 == artifact_sha256(model)
    back = load_model_artifact(info.path, expected_sha256=info.sha256)
    np.testing.assert_array_equal(
        back.predict_proba_many(fraud.test), model.predict_proba_many(fraud.test)
    )
    np.testing.assert_array_equal(back.coef_, model.coef_)
    np.testing.assert_array_equal(back.featurizer_.mean_, model.featurizer_.mean_)
    assert back.featurizer_.get_config() == model.featurizer_.get_config()
    assert back._settings() == model._settings()
    assert (back.n_train_events_, back.n_train_rows_) == (4000, model.n_train_rows_)
    # In memory too, and the content hash does not depend on the zip container.
    again = loads_model_artifact(dumps_model_artifact(back))
    np.testing.assert_array_equal(
        again.predict_proba_many(fraud.test[:50]), back.predict_proba_many(fraud.test[:50])
    )
    assert artifact_sha256(again) == info.sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # no temporary left


def test_every_flipped_byte_is_refused_or_harmless(fraud: FraudSetup, tmp_path: Path) -> None:
    data = dumps_model_artifact(fraud.hard_model)
    expected = fraud.hard_model.predict_proba_many(fraud.test[:20])
    refused = 0
    # ~300 bytes spread over the file, and every byte of the zip directory at its end.
    positions = sorted({*range(0, len(data), len(data) // 300), *range(len(data) - 500, len(data))})
    for pos in positions:
        bad = bytearray(data)
        bad[pos] ^= 0xFF
        try:
            back = loads_model_artifact(bytes(bad))
        except CorruptArtifactError:
            refused += 1
            continue
        # Only zip metadata nothing reads (e.g. a timestamp) may change harmlessly.
        np.testing.assert_array_equal(back.predict_proba_many(fraud.test[:20]), expected)
    assert refused > 0.7 * len(positions)  # measured: 617 of 796


def test_flipped_byte_in_the_weights_is_refused(fraud: FraudSetup, tmp_path: Path) -> None:
    path = save_model_artifact(fraud.hard_model, tmp_path / "m.npz").path
    data = bytearray(path.read_bytes())
    at = data.index(b"coef.npy") + 200  # inside the compressed coefficients
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptArtifactError, match="not a readable model artifact"):
        load_model_artifact(path)


@pytest.mark.parametrize("keep", [0, 10, 0.5, -1])
def test_truncated_file_is_refused(fraud: FraudSetup, tmp_path: Path, keep: float) -> None:
    data = dumps_model_artifact(fraud.hard_model)
    n = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path = tmp_path / "m.npz"
    path.write_bytes(data[:n])
    with pytest.raises(CorruptArtifactError, match="not a readable model artifact"):
        load_model_artifact(path)


def test_edited_content_fails_its_hash(fraud: FraudSetup, tmp_path: Path) -> None:
    path = save_model_artifact(fraud.hard_model, tmp_path / "m.npz").path
    members = members_of(path)
    members["coef"] = members["coef"] * 1.01  # a valid zip, a plausible model, not the one hashed
    rewrite(path, members)
    with pytest.raises(CorruptArtifactError, match="does not match its SHA-256"):
        load_model_artifact(path)
    members = members_of(save_model_artifact(fraud.hard_model, path).path)
    header = header_of(members)
    header["settings"]["C"] = 2.0
    members["header"] = np.frombuffer(json.dumps(header, sort_keys=True).encode(), np.uint8)
    rewrite(path, members)
    with pytest.raises(CorruptArtifactError, match="does not match its SHA-256"):
        load_model_artifact(path)


def test_other_format_version_is_refused(fraud: FraudSetup, tmp_path: Path) -> None:
    path = save_model_artifact(fraud.hard_model, tmp_path / "m.npz").path
    members = members_of(path)
    header = header_of(members)
    header["format_version"] = ARTIFACT_FORMAT_VERSION + 1
    members["header"] = np.frombuffer(json.dumps(header, sort_keys=True).encode(), np.uint8)
    rewrite(path, members)
    with pytest.raises(IncompatibleArtifactError, match="format version 2 cannot be read") as err:
        load_model_artifact(path)
    assert isinstance(err.value, ValueError) and isinstance(err.value, IncompatibleModelError)


def test_other_formats_are_refused(tmp_path: Path) -> None:
    lm = OnlineLabelModel(cardinality=2)
    lm.learn_many(np.array([[0, 1], [1, 1]]), ["a@1", "b@1"])
    with pytest.raises(IncompatibleArtifactError, match=r"'streamlabel\.labelmodel' is not"):
        load_model_artifact(save_model(lm, tmp_path / "lm.npz"))
    np.savez(tmp_path / "plain.npz", x=np.arange(3))
    with pytest.raises(IncompatibleArtifactError, match="not a streamlabel end-model"):
        load_model_artifact(tmp_path / "plain.npz")
    np.save(tmp_path / "array.npy", np.arange(3))
    with pytest.raises(CorruptArtifactError):
        load_model_artifact(tmp_path / "array.npy")
    with pytest.raises(FileNotFoundError):
        load_model_artifact(tmp_path / "missing.npz")


def test_a_wrong_expected_hash_is_refused(fraud: FraudSetup, tmp_path: Path) -> None:
    path = save_model_artifact(fraud.hard_model, tmp_path / "m.npz").path
    with pytest.raises(CorruptArtifactError, match="not the artifact that was registered"):
        load_model_artifact(path, expected_sha256=artifact_sha256(fraud.soft_model))


TRAPS: list[str] = []


def _trap(note: str) -> str:
    TRAPS.append(note)
    return note


class Payload:
    """Unpickling this object runs _trap: the proof that something was unpickled."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _trap, ("unpickled!",)


def test_loading_never_unpickles(
    fraud: FraudSetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_model_artifact(fraud.hard_model, tmp_path / "m.npz").path
    members: dict[str, Any] = members_of(path)
    members["coef"] = np.array([Payload()], dtype=object)
    rewrite(path, members, allow_pickle=True)
    # The trap works: numpy with allow_pickle=True would run it.
    with np.load(path, allow_pickle=True) as data:
        data["coef"]
    assert TRAPS == ["unpickled!"]
    TRAPS.clear()

    calls: list[object] = []
    real_load = np.load

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    def no_pickle(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("pickle was called")

    monkeypatch.setattr(np, "load", spy)
    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    with pytest.raises(CorruptArtifactError, match="allow_pickle=False"):
        load_model_artifact(path)
    assert TRAPS == [] and calls == [False]
    good = save_model_artifact(fraud.hard_model, tmp_path / "good.npz").path
    assert isinstance(load_model_artifact(good), EndModel)
    assert isinstance(loads_model_artifact(good.read_bytes()), EndModel)
    assert calls == [False, False, False]


def test_unfitted_models_are_not_saved(fraud: FraudSetup) -> None:
    with pytest.raises(ValueError, match="not fitted"):
        dumps_model_artifact(EndModel(fraud.soft_model.featurizer))
    with pytest.raises(TypeError, match="EndModel"):
        dumps_model_artifact(io.BytesIO())  # type: ignore[arg-type]
