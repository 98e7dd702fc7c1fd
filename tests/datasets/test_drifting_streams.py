"""What both drifting streams promise: determinism, event shape, hidden labels, phases, LF sets."""

from __future__ import annotations

import fnmatch
import itertools
import json
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

from streamlabel.datasets import (
    DriftPhase,
    LabeledStream,
    chat_lfsets,
    chat_phases,
    fraud_lfsets,
    fraud_phases,
    make_chat_stream,
    make_fraud_stream,
)
from streamlabel.lf import LFSet, LFSetRegistry, LFVersionError, load_lfset
from streamlabel.pipeline import Event, parse_event

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


class Kind(NamedTuple):
    make: Callable[..., LabeledStream]
    phases: Callable[[int], tuple[DriftPhase, ...]]
    lfsets: Callable[[], list[LFSet]]
    prefix: str
    set_name: str
    phase_names: tuple[str, ...]
    payload_keys: frozenset[str]
    # Words that would give the answer away if they showed up in an event.
    truth_words: tuple[str, ...]


FRAUD = Kind(
    make_fraud_stream,
    fraud_phases,
    fraud_lfsets,
    "fraud",
    "fraud-stream",
    ("baseline", "tactic_change", "new_pattern", "amount_shift", "fraud_rate_rise"),
    frozenset(
        {
            "amount",
            "merchant_category",
            "country",
            "device",
            "hour",
            "tx_last_hour",
            "tx_last_day",
            "descriptor",
        }
    ),
    ("fraud", "legit", "takeover", "scam", "wallet_topup"),
)
CHAT = Kind(
    make_chat_stream,
    chat_phases,
    chat_lfsets,
    "chat",
    "chat-surveillance",
    ("baseline", "evasion", "new_code", "month_end"),
    frozenset({"desk", "channel", "hour", "text"}),
    ("suspicious", "benign", "front_running", "code_words", "off_channel"),
)
KINDS = pytest.mark.parametrize("kind", [FRAUD, CHAT], ids=["fraud", "chat"])


@KINDS
def test_same_seed_same_stream_other_seed_other_stream(kind: Kind) -> None:
    a, b, c = kind.make(3000, seed=3), kind.make(3000, seed=3), kind.make(3000, seed=4)
    assert a.events == b.events
    assert np.array_equal(a.y, b.y) and np.array_equal(a.kind, b.kind)
    assert a.events != c.events and not np.array_equal(a.y, c.y)


@KINDS
def test_shapes_and_types(kind: Kind) -> None:
    s = kind.make(3000, seed=1, start_ts=1.6e9)
    assert len(s) == len(s.events) == 3000
    assert s.y.shape == s.kind.shape == (3000,)
    assert s.y.dtype == np.int64 and s.kind.dtype == np.int64
    assert set(np.unique(s.y).tolist()) == {0, 1}
    assert np.array_equal(s.y, (s.kind != 0).astype(np.int64))  # kind 0 is the negative class
    assert 0 <= s.kind.min() and s.kind.max() < len(s.kind_names)
    assert len(s.label_names) == 2
    ids = [e["id"] for e in s.events]
    assert len(set(ids)) == 3000
    ts = np.array([e["ts"] for e in s.events])
    assert ts[0] > 1.6e9 and (np.diff(ts) > 0).all()
    for e in s.events:
        assert set(e) == {"id", "ts", "entity", "payload"}
        assert isinstance(e["entity"], str) and e["entity"]
        assert set(e["payload"]) == kind.payload_keys
        hour = e["payload"]["hour"]
        assert type(hour) is int and 0 <= hour <= 23


@KINDS
def test_events_validate_with_the_event_parser(kind: Kind) -> None:
    s = kind.make(2000, seed=2)
    for e in s.events:
        from_mapping = parse_event(e)
        assert isinstance(from_mapping, Event)
        assert from_mapping.payload == e["payload"]
        assert parse_event(json.dumps(e).encode()) == from_mapping


@KINDS
def test_labels_stay_out_of_the_events(kind: Kind) -> None:
    s = kind.make(3000, seed=5)
    text = json.dumps(s.events).lower()
    for word in (*kind.truth_words, "label", '"y"'):
        assert word not in text
    # Events of either class have exactly the same fields.
    pos, neg = int(np.flatnonzero(s.y == 1)[0]), int(np.flatnonzero(s.y == 0)[0])
    assert set(s.events[pos]["payload"]) == set(s.events[neg]["payload"])


@KINDS
@pytest.mark.parametrize("n", [0, 1, 7, 20_000])
def test_phases_cover_the_stream_in_order(kind: Kind, n: int) -> None:
    phases = kind.phases(n)
    assert tuple(p.name for p in phases) == kind.phase_names
    assert phases[0].start == 0 and phases[-1].stop == n
    for before, after in itertools.pairwise(phases):
        assert before.stop == after.start >= before.start
    assert all(p.description for p in phases)


@KINDS
def test_stream_carries_its_phases(kind: Kind) -> None:
    s = kind.make(1000, seed=0)
    assert s.phases == kind.phases(1000)
    idx = s.phase_index()
    for i, p in enumerate(s.phases):
        assert (idx[p.as_slice()] == i).all()
        assert s.phase(p.name) == p
    with pytest.raises(KeyError, match="no phase"):
        s.phase("nope")
    with pytest.raises(KeyError, match="no kind"):
        s.kind_id("nope")


@KINDS
def test_empty_stream_and_bad_n(kind: Kind) -> None:
    s = kind.make(0)
    assert len(s) == 0 and s.y.shape == (0,)
    with pytest.raises(ValueError, match="n must be >= 0"):
        kind.make(-1)


def test_lf_accuracy_per_phase() -> None:
    s = make_fraud_stream(500, seed=0)
    y = s.y
    L = np.stack([np.where(y == 1, 1, -1), np.where(y == 1, 0, -1), np.full(500, -1)], axis=1)
    L[s.phase("baseline").as_slice(), 0] = 1  # votes fraud on all of the baseline
    acc = s.lf_accuracy(L)
    assert acc.shape == (5, 3)
    assert acc[0, 0] == pytest.approx(y[:100].mean())
    assert (acc[1:, 0] == 1.0).all() and (acc[:, 1] == 0.0).all()
    assert np.isnan(acc[:, 2]).all()  # never fired
    with pytest.raises(ValueError, match="shape"):
        s.lf_accuracy(L[:10])


# -- shipped LF sets -------------------------------------------------------------------------


def _shipped(prefix: str) -> list[str]:
    folder = resources.files("streamlabel.datasets").joinpath("lfsets")
    names = [p.name for p in folder.iterdir() if p.name.startswith(f"{prefix}_v")]
    return sorted(names, key=lambda name: int(name.removeprefix(f"{prefix}_v").split(".")[0]))


@KINDS
def test_every_shipped_yaml_loads_and_the_loader_returns_them_all(kind: Kind) -> None:
    files = _shipped(kind.prefix)
    assert len(files) >= 2
    folder = resources.files("streamlabel.datasets").joinpath("lfsets")
    loaded = kind.lfsets()
    assert len(loaded) == len(files)
    for i, (name, lfset) in enumerate(zip(files, loaded, strict=True)):
        with resources.as_file(folder.joinpath(name)) as path:
            from_file = load_lfset(path)
        assert from_file == lfset  # name, version and content hash
        assert lfset.name == kind.set_name and lfset.version == str(i + 1)
        assert lfset.cardinality == 2 and lfset.label_names is not None


@KINDS
def test_successive_versions_register_without_silent_lf_changes(kind: Kind) -> None:
    reg = LFSetRegistry()
    sets = kind.lfsets()
    for s in sets:
        reg.register(s)
    assert reg.versions(kind.set_name) == tuple(s.version for s in sets)
    for old, new in itertools.pairwise(sets):
        diff = old.diff(new)
        assert diff  # every version changes something
        for old_id, new_id in diff.changed:  # a changed LF always carries a new version
            assert old_id != new_id


@KINDS
def test_registry_would_refuse_an_lf_changed_under_its_version(kind: Kind) -> None:
    # The check above is only worth something if the registry does look at the logic:
    # republishing v2's first LF under v1's id must be refused.
    v1, v2 = kind.lfsets()[:2]
    changed_id = v1.diff(v2).changed[0][0]
    spec = v2.to_spec().model_dump(mode="json")
    name = changed_id.split("@")[0]
    for lf in spec["lfs"]:
        if lf["name"] == name:
            lf["version"] = changed_id.split("@")[1]
    spec["version"] = "tampered"
    reg = LFSetRegistry()
    reg.register(v1)
    with pytest.raises(LFVersionError, match="bump the LF's version"):
        reg.register(load_lfset(spec))


def test_package_data_glob_ships_every_yaml() -> None:
    config: dict[str, Any] = tomllib.loads(PYPROJECT.read_text())
    globs = config["tool"]["setuptools"]["package-data"]["streamlabel.datasets"]
    for name in _shipped("fraud") + _shipped("chat"):
        assert any(fnmatch.fnmatch(f"lfsets/{name}", g) for g in globs), name
