"""ModelRegistry: immutable versions, promote/rollback history, the same state re-opened."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from models_helpers import FraudSetup

from streamlabel.models import (
    CorruptArtifactError,
    Lineage,
    ModelRegistry,
    ModelVersion,
    RegistryError,
    VersionExistsError,
    decide,
    evaluate,
    save_model_artifact,
)


class Clock:
    """1000.0, 1001.0, ...: every registration and entry gets its own time."""

    def __init__(self) -> None:
        self._ticks = itertools.count()

    def __call__(self) -> float:
        return 1000.0 + next(self._ticks)


def test_versions_are_immutable(fraud: FraudSetup, tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path, clock=Clock())
    v1 = reg.register(fraud.soft_model, {"accuracy": 0.887}, fraud.lineage)
    assert (v1.version, v1.number, v1.created_at, v1.parent) == ("v1", 1, 1000.0, None)
    assert v1.lineage == fraud.lineage and v1.lineage.lfset_name == "fraud-stream"
    assert v1.lineage.lfset_version == "4" and v1.lineage.training_window == 4000
    with pytest.raises(VersionExistsError, match="already registered"):
        reg.register(fraud.hard_model, {"accuracy": 0.969}, fraud.lineage, version="v1")
    v2 = reg.register(fraud.hard_model, {"accuracy": 0.969}, fraud.lineage, parent="v1")
    assert (v2.version, v2.number, v2.parent) == ("v2", 2, "v1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v1.version = "v9"  # type: ignore[misc]
    with pytest.raises(TypeError):
        v1.metrics["accuracy"] = 1.0  # type: ignore[index]
    # A re-opened registry refuses the id too, and so does a folder left by a failed
    # registration: ids are never reused.
    with pytest.raises(VersionExistsError):
        ModelRegistry(tmp_path).register(fraud.soft_model, {}, fraud.lineage, version="v2")
    (tmp_path / "versions" / "half").mkdir()
    with pytest.raises(VersionExistsError, match="never reused"):
        reg.register(fraud.soft_model, {}, fraud.lineage, version="half")
    assert [v.version for v in ModelRegistry(tmp_path).list()] == ["v1", "v2"]
    # The stored artifact is the registered one.
    np.testing.assert_array_equal(
        reg.load("v2").predict_proba_many(fraud.test),
        fraud.hard_model.predict_proba_many(fraud.test),
    )


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "x" * 65, "v 1"])
def test_malformed_version_ids_are_refused(fraud: FraudSetup, tmp_path: Path, bad: str) -> None:
    reg = ModelRegistry(tmp_path)
    with pytest.raises(RegistryError, match="version id"):
        reg.register(fraud.soft_model, {}, fraud.lineage, version=bad)
    assert list((tmp_path / "versions").iterdir()) == []


def test_register_refuses_unknown_parents_and_non_finite_metrics(
    fraud: FraudSetup, tmp_path: Path
) -> None:
    reg = ModelRegistry(tmp_path)
    with pytest.raises(RegistryError, match="parent 'v7'"):
        reg.register(fraud.soft_model, {}, fraud.lineage, parent="v7")
    with pytest.raises(RegistryError, match="finite"):
        reg.register(fraud.soft_model, {"log_loss": float("nan")}, fraud.lineage)
    assert len(reg) == 0


def test_promote_and_rollback_history(fraud: FraudSetup, tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path, clock=Clock())
    for model in (fraud.soft_model, fraud.hard_model, fraud.gold_model):
        reg.register(model, {}, fraud.lineage)
    assert reg.champion is None
    with pytest.raises(RegistryError, match="no previous champion"):
        reg.rollback("nothing to undo", actor="ops")
    reg.promote("v1", "first model", actor="alice")
    with pytest.raises(RegistryError, match="already the champion"):
        reg.promote("v1", "again", actor="alice")
    with pytest.raises(KeyError, match="v9"):
        reg.promote("v9", "unknown", actor="alice")
    with pytest.raises(RegistryError, match="actor"):
        reg.promote("v2", "why not", actor=" ")
    with pytest.raises(RegistryError, match="reason"):
        reg.promote("v2", "", actor="ci")
    decision = decide({"accuracy": 0.887}, {"accuracy": 0.969}, margin=0.01)
    reg.promote("v2", "beats v1 on held-out accuracy", actor="ci", decision=decision)
    reg.promote("v3", "trained on gold", actor="bob")
    assert reg.champion is not None and reg.champion.version == "v3"
    back = reg.rollback("v3 mislabels refunds", actor="oncall")
    assert (back.action, back.version, back.previous) == ("rollback", "v2", "v3")
    assert reg.champion is not None and reg.champion.version == "v2"
    assert reg.rollback("v2 too slow", actor="oncall").version == "v1"
    with pytest.raises(RegistryError, match="no previous champion"):
        reg.rollback("nothing left", actor="oncall")
    reg.promote("v3", "retry", actor="bob")
    assert reg.rollback("no", actor="bob").version == "v1"  # back to v1, not to v3's past
    got = [(e.action, e.version, e.previous, e.actor, e.reason) for e in reg.history]
    assert got == [
        ("promote", "v1", None, "alice", "first model"),
        ("promote", "v2", "v1", "ci", "beats v1 on held-out accuracy"),
        ("promote", "v3", "v2", "bob", "trained on gold"),
        ("rollback", "v2", "v3", "oncall", "v3 mislabels refunds"),
        ("rollback", "v1", "v2", "oncall", "v2 too slow"),
        ("promote", "v3", "v1", "bob", "retry"),
        ("rollback", "v1", "v3", "bob", "no"),
    ]
    # The clock: three registrations (1000-1002), then one tick per entry.
    assert [e.at for e in reg.history] == [1003.0 + i for i in range(7)]
    assert reg.history[1].decision == decision and reg.history[0].decision is None


def test_reopened_registry_has_the_same_state(fraud: FraudSetup, tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path, clock=Clock())
    metrics = evaluate(fraud.soft_model, fraud.test, fraud.y_test)
    reg.register(fraud.soft_model, metrics, fraud.lineage)
    reg.register(
        fraud.hard_model, {"accuracy": 0.969}, fraud.lineage, parent="v1", version="hard-1"
    )
    decision = decide(metrics, {"accuracy": 0.969}, margin=0.02)
    reg.promote("v1", "first", actor="alice")
    reg.promote("hard-1", "better", actor="ci", decision=decision)
    reg.rollback("regression", actor="bob")

    again = ModelRegistry(tmp_path)
    assert again.list() == reg.list() and [v.version for v in again] == ["v1", "hard-1"]
    assert again.history == reg.history
    assert again.champion == reg.champion == reg.get("v1")
    assert again.get("hard-1").metrics == {"accuracy": 0.969}
    assert again.get("v1").metrics == metrics
    np.testing.assert_array_equal(
        again.load("hard-1").predict_proba_many(fraud.test[:100]),
        fraud.hard_model.predict_proba_many(fraud.test[:100]),
    )
    # Everything on disk is JSON or a .npz artifact.
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [
        "history.json",
        "registry.json",
        "versions/hard-1/model.npz",
        "versions/hard-1/version.json",
        "versions/v1/model.npz",
        "versions/v1/version.json",
    ]
    meta = json.loads((tmp_path / "versions/v1/version.json").read_text())
    assert ModelVersion.from_dict(meta) == reg.get("v1")
    assert meta["lineage"]["labelmodel_version"] == fraud.lineage.labelmodel_version


def test_a_replaced_artifact_is_refused(fraud: FraudSetup, tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    v1 = reg.register(fraud.soft_model, {}, fraud.lineage)
    save_model_artifact(fraud.hard_model, reg.path_of(v1))  # a valid model, not the one registered
    with pytest.raises(CorruptArtifactError, match="not the artifact that was registered"):
        reg.load("v1")


def test_a_folder_of_another_kind_is_refused(tmp_path: Path) -> None:
    (tmp_path / "registry.json").write_text('{"format": "something-else"}')
    with pytest.raises(RegistryError, match="not a streamlabel model registry"):
        ModelRegistry(tmp_path)


def test_lineage_is_json(fraud: FraudSetup) -> None:
    lin = Lineage.from_dict(json.loads(json.dumps(fraud.lineage.to_dict())))
    assert lin == fraud.lineage
