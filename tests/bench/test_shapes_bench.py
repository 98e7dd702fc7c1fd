"""``streamlabel bench shapes``: random-shape streams, the model beside majority vote."""

from __future__ import annotations

import json

import pytest

from streamlabel.bench import bench_shapes
from streamlabel.bench._shapes import GUARDED, RANDOM_MV, UNGUARDED, UNINFLATED
from streamlabel.cli import main


def test_the_guard_is_what_separates_the_model_from_its_ablations() -> None:
    # Seed 84: 6 classes, 138 keyword LFs, firing intensity of variance 1, where the model
    # without the guard collapses (measured 0.438, the majority rule keeping part of it; with
    # the guard 0.858, with it but no pair inflation 0.841, majority vote 0.780); seed 2 has
    # no intensity: the guard stays off and the three are the same model.
    r = bench_shapes(seeds=[84, 2])
    bursty, plain = r["streams"]
    assert bursty["settings"]["intensity"] == 1.0 and plain["settings"]["intensity"] == 0.0
    acc = {name: m["accuracy"] for name, m in bursty["models"].items()}
    assert bursty["intensity_weight"] == 1.0 and bursty["cofiring_ratio"] > 1.25
    assert acc[UNGUARDED] < 0.5 and acc[GUARDED] > acc[UNINFLATED] + 0.01 > 0.8
    assert bursty["pair_inflation"] > 1.2
    assert plain["intensity_weight"] == 0.0 and plain["pair_inflation"] == 1.0
    same = plain["models"][GUARDED] | {"learn_seconds": 0}
    for ablation in (UNGUARDED, UNINFLATED):
        assert same == plain["models"][ablation] | {"learn_seconds": 0}
    summary = r["summary"]
    assert set(summary) == {"all", "intensity 0", "intensity 1"}
    vs = summary["intensity 1"][f"vs {UNGUARDED}"]["accuracy"]
    assert vs["mean_points"] == pytest.approx(100 * (acc[GUARDED] - acc[UNGUARDED]))
    assert summary["intensity 0"][f"vs {UNGUARDED}"]["accuracy"]["mean_points"] == 0.0
    vs = summary["intensity 1"][f"vs {UNINFLATED}"]["accuracy"]
    assert vs["mean_points"] == pytest.approx(100 * (acc[GUARDED] - acc[UNINFLATED]))
    assert RANDOM_MV in bursty["models"]


def test_cli_prints_json_and_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "shapes", "--streams", "1", "--first", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["bench"] == "shapes" and doc["seeds"] == [3]
    assert main(["bench", "shapes", "--streams", "1", "--first", "3"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("streams") and "MajorityVote" in out
    assert main(["bench", "shapes", "--streams", "0"]) == 2
