from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from streamlabel.lf import (
    ABSTAIN,
    LFSet,
    LFSetDiff,
    LFSetRegistry,
    LFSpecError,
    LFVersionError,
    labeling_function,
    load_lfset,
)


def _spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "fraud",
        "version": "1",
        "cardinality": 2,
        "resources": {"risky": ["gambling", "crypto"]},
        "lfs": [
            {
                "name": "big",
                "label": 1,
                "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 1000},
            },
            {
                "name": "risky",
                "label": 1,
                "when": {"kind": "lookup", "field": "cat", "resource": "risky"},
            },
            {
                "name": "casino",
                "label": 1,
                "when": {"kind": "keyword", "field": "t", "keywords": ["casino"]},
            },
        ],
    }
    spec.update(overrides)
    return spec


def _with_lf(spec: dict[str, Any], index: int, **changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    spec["lfs"][index].update(changes)
    return spec


@labeling_function(fields=["amount"])
def tiny(event: dict[str, Any]) -> int:
    return 0 if event["amount"] < 5 else ABSTAIN


def test_content_hash_is_stable_and_ignores_set_name_and_version() -> None:
    a = LFSet.from_spec(_spec())
    b = LFSet.from_spec(_spec())
    c = LFSet.from_spec(_spec(version="7", name="other"))
    assert a.content_hash == b.content_hash == c.content_hash
    assert a == b and a != c
    assert len(a.content_hash) == 64


def test_content_hash_is_a_known_constant() -> None:
    # Pins the canonical form: if it changes (a new spec field with a default, another JSON
    # layout), every registered version would look changed. Update only on purpose.
    expected = "c686dc8df5f7a0fe73f001234254902aa99852fccfe670f1057ccca80f1ea31b"
    assert LFSet.from_spec(_spec()).content_hash == expected


@pytest.mark.parametrize(
    "change",
    [
        lambda s: _with_lf(s, 2, when={"kind": "keyword", "field": "t", "keywords": ["poker"]}),
        lambda s: _with_lf(s, 0, label=0),
        lambda s: _with_lf(s, 0, version="2"),
        lambda s: {**s, "resources": {"risky": ["gambling"]}},
        lambda s: {**s, "lfs": s["lfs"][::-1]},
        lambda s: {**s, "cardinality": 3},
        lambda s: {**s, "label_names": ["legit", "fraud"]},
    ],
)
def test_content_hash_detects_changes(change: Any) -> None:
    base = LFSet.from_spec(_spec())
    assert LFSet.from_spec(change(_spec())).content_hash != base.content_hash


def test_unused_resources_do_not_change_lf_hashes() -> None:
    a = LFSet.from_spec(_spec())
    b = LFSet.from_spec(_spec(resources={"risky": ["gambling", "crypto"], "other": ["x"]}))
    assert a.content_hash == b.content_hash


def test_ids_and_mixed_sets() -> None:
    decl = LFSet.from_spec(_spec())
    mixed = LFSet("mixed", "1", [*decl.lfs, tiny], cardinality=2)
    assert mixed.ids == ("big@1", "risky@1", "casino@1", "tiny@1")
    assert len(mixed) == 4
    assert mixed.content_hash != decl.content_hash


def test_set_validation() -> None:
    decl = LFSet.from_spec(_spec())
    with pytest.raises(LFSpecError) as info:
        LFSet("s", "1", [tiny, tiny], cardinality=2)
    assert (info.value.lf, info.value.field) == ("tiny", "name")
    with pytest.raises(LFSpecError) as info:
        LFSet.from_spec(_with_lf(_spec(), 0, label=5))
    assert (info.value.lf, info.value.field) == ("big", "label")
    with pytest.raises(ValueError, match="cardinality"):
        LFSet("s", "1", decl.lfs, cardinality=1)
    with pytest.raises(ValueError, match="label names"):
        LFSet("s", "1", decl.lfs, cardinality=2, label_names=["a"])
    with pytest.raises(TypeError):
        LFSet("s", "1", [lambda e: 0], cardinality=2)  # type: ignore[list-item]


def test_lfset_is_immutable() -> None:
    s = LFSet.from_spec(_spec())
    with pytest.raises(AttributeError):
        s.version = "2"  # type: ignore[misc]
    assert isinstance(s.lfs, tuple)


def test_to_spec_json_round_trip(tmp_path: Path) -> None:
    s = LFSet.from_spec(_spec(label_names=["legit", "fraud"]))
    text = s.to_spec().model_dump_json()
    again = load_lfset(text)
    assert again.content_hash == s.content_hash
    assert again.ids == s.ids and again.label_names == ("legit", "fraud")
    path = tmp_path / "set.json"
    path.write_text(text)
    assert load_lfset(path) == s


def test_to_spec_refuses_code_lfs() -> None:
    with pytest.raises(TypeError, match="code"):
        LFSet("s", "1", [tiny], cardinality=2).to_spec()


def test_diff_added_removed_changed() -> None:
    old = LFSet.from_spec(_spec())
    spec = _spec()
    spec["lfs"] = [
        spec["lfs"][0] | {"version": "2"},  # version bump
        spec["lfs"][1],  # unchanged
        {"name": "night", "label": 1, "when": {"kind": "range", "field": "h", "max": 4}},
    ]
    new = LFSet.from_spec(spec)
    d = old.diff(new)
    assert d == LFSetDiff(added=("night@1",), removed=("casino@1",), changed=(("big@1", "big@2"),))
    assert d
    assert not old.diff(LFSet.from_spec(_spec()))
    reverse = new.diff(old)
    assert reverse.added == ("casino@1",) and reverse.removed == ("night@1",)


def test_diff_detects_logic_change_under_the_same_version() -> None:
    old = LFSet.from_spec(_spec())
    new = LFSet.from_spec(
        _with_lf(_spec(), 0, when={"kind": "threshold", "field": "amount", "op": "gt", "value": 9})
    )
    assert old.diff(new).changed == (("big@1", "big@1"),)


def test_registry_register_get_versions() -> None:
    reg = LFSetRegistry()
    v1 = reg.register(LFSet.from_spec(_spec()))
    again = reg.register(LFSet.from_spec(_spec()))  # same content: idempotent
    assert again is v1
    v2 = reg.register(LFSet.from_spec(_with_lf(_spec(version="2"), 0, version="2", label=0)))
    assert reg.versions("fraud") == ("1", "2")
    assert reg.get("fraud") is v2
    assert reg.get("fraud", "1") is v1
    assert ("fraud", "1") in reg and "fraud" in reg and ("fraud", "9") not in reg
    assert len(reg) == 2 and reg.names() == ("fraud",)
    with pytest.raises(KeyError):
        reg.get("fraud", "9")
    with pytest.raises(KeyError):
        reg.get("nope")


def test_registry_refuses_reusing_a_set_version_for_other_content() -> None:
    reg = LFSetRegistry()
    reg.register(LFSet.from_spec(_spec()))
    changed = _with_lf(_spec(), 2, version="2", when={"kind": "equals", "field": "t", "value": "x"})
    with pytest.raises(LFVersionError, match="version '1' is already registered"):
        reg.register(LFSet.from_spec(changed))
    assert reg.versions("fraud") == ("1",)


def test_registry_refuses_changed_logic_under_the_same_lf_version() -> None:
    reg = LFSetRegistry()
    reg.register(LFSet.from_spec(_spec()))
    sneaky = _with_lf(
        _spec(version="2"),
        0,
        when={"kind": "threshold", "field": "amount", "op": "gt", "value": 5},
    )
    with pytest.raises(LFVersionError) as info:
        reg.register(LFSet.from_spec(sneaky))
    assert "big@1" in str(info.value)
    assert reg.versions("fraud") == ("1",)  # nothing half-registered
    # With a bumped LF version the same change is accepted.
    reg.register(LFSet.from_spec(_with_lf(sneaky, 0, version="2")))
    assert reg.versions("fraud") == ("1", "2")


def test_registry_checks_code_lf_hashes_across_sets() -> None:
    @labeling_function(name="tiny")
    def tiny_v1_changed(event: dict[str, Any]) -> int:
        return 1

    reg = LFSetRegistry()
    reg.register(LFSet("a", "1", [tiny], cardinality=2))
    with pytest.raises(LFVersionError, match="tiny@1"):
        reg.register(LFSet("b", "1", [tiny_v1_changed], cardinality=2))


def test_diff_with_only_changed_lfs_is_truthy_and_versions_tell_sets_apart() -> None:
    assert LFSetDiff(changed=(("a@1", "a@2"),))
    assert not LFSetDiff()
    lfs = LFSet.from_spec(_spec()).lfs
    assert LFSet("s", "1", lfs, 2) == LFSet("s", "1", lfs, 2)
    assert LFSet("s", "1", lfs, 2) != LFSet("s", "2", lfs, 2)


def test_set_refuses_a_declarative_lf_whose_label_exceeds_its_cardinality() -> None:
    three = LFSet.from_spec(_with_lf(_spec(cardinality=3), 0, label=2))
    with pytest.raises(LFSpecError) as info:
        LFSet("s", "1", three.lfs, cardinality=2)
    assert (info.value.lf, info.value.field) == ("big", "label")


def test_a_refused_registration_records_no_lf_hash() -> None:
    @labeling_function(name="fresh")
    def fresh_a(event: dict[str, Any]) -> int:
        return 1

    @labeling_function(name="fresh")
    def fresh_b(event: dict[str, Any]) -> int:
        return 0

    @labeling_function(name="tiny")
    def tiny_changed(event: dict[str, Any]) -> int:
        return 1

    reg = LFSetRegistry()
    reg.register(LFSet("a", "1", [tiny], cardinality=2))
    with pytest.raises(LFVersionError, match="tiny@1"):
        reg.register(LFSet("b", "1", [fresh_a, tiny_changed], cardinality=2))
    # ``fresh@1`` of the refused set was not recorded: another logic under that id passes.
    reg.register(LFSet("c", "1", [fresh_b], cardinality=2))
    assert reg.versions("c") == ("1",) and reg.versions("b") == ()
