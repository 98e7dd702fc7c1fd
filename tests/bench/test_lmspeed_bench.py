"""``bench lmspeed``: the report's shape and the LF kinds it times.

Timings are the benchmark's output, never asserted here (see BENCHMARKS.md).
"""

from __future__ import annotations

import json

import pytest

from streamlabel.cli._main import main


@pytest.mark.parametrize("unipolar", [False, True])
def test_cli_runs_a_tiny_lmspeed_bench(unipolar: bool, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "lmspeed", "--events", "3000", "--lfs", "8", "--classes", "4"]
    argv += ["--repeats", "1", "--no-peers", "--json"]
    assert main([*argv, "--unipolar"] if unipolar else argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["n_events"], out["n_lfs"], out["cardinality"]) == (3000, 8, 4)
    assert out["lfs"] == ("unipolar" if unipolar else "bipolar")
    assert set(out["models"]) == {"OnlineLabelModel", "MajorityVote"}
    for verbs in out["models"].values():
        assert min(verbs.values()) > 0
    assert out["peers"] == {"skipped": "--no-peers"}
