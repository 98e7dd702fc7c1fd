"""``bench driftcost``: the report's shape and that the variants watched the same labels.

Timings are the benchmark's output, never asserted here (see BENCHMARKS.md).
"""

from __future__ import annotations

import json

import pytest

from streamlabel.bench import bench_driftcost
from streamlabel.bench._driftcost import DRIFTCOST_VARIANTS
from streamlabel.cli._main import _render_generic, main


def test_report_is_json_and_the_watches_saw_the_same_drifts() -> None:
    # 15,000 events: past the stream's first drift phases, so the watches see drifts.
    report = bench_driftcost(15_000, repeats=1)
    assert json.loads(json.dumps(report)) == report
    assert report["benchmark"] == "driftcost" and report["labels"] == 15_000
    assert report["lfset_version"] == 4 and report["lfs"] == 12
    assert list(report["variants"]) == list(DRIFTCOST_VARIANTS)
    for cell in report["variants"].values():
        assert cell["total_us_per_event"] == pytest.approx(
            cell["labeler_us_per_event"] + cell["watch_us_per_event"]
        )
    none, per_value, chunked = (report["variants"][v] for v in DRIFTCOST_VARIANTS)
    assert none["drift_events"] is None and none["watch_us_per_event"] == 0.0
    # Chunking moves a detection by a few chunks at most on this stream, never drops one.
    assert per_value["drift_events"] >= 2 and chunked["drift_events"] == per_value["drift_events"]
    assert set(report["ratios"]) == {"per_value", "chunked"}
    assert _render_generic(report)


def test_cli_runs_a_tiny_driftcost_bench(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "driftcost", "--events", "600", "--batch", "200", "--repeats", "1"]
    assert main([*argv, "--lfset", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["n_events"], out["batch_size"], out["lfset_version"]) == (600, 200, 1)
