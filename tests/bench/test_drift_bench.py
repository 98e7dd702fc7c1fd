"""``bench drift`` on a small run (20,000 events, ~10 s): the closed loop, side by side."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streamlabel.bench import bench_drift
from streamlabel.bench._drift import PIPELINES
from streamlabel.cli._main import _render_generic, build_parser, main
from streamlabel.datasets import fraud_phases

N = 20_000
PHASES = [p.name for p in fraud_phases(N)]


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return bench_drift(n_events=N, seed=0)


def test_report_is_json_with_the_documented_keys(report: dict[str, Any]) -> None:
    assert json.loads(json.dumps(report)) == report
    assert report["bench"] == "drift" and report["n_events"] == N
    assert list(report["phases"]) == PHASES
    assert set(report["pipelines"]) == set(PIPELINES)
    for row in report["windows"]:
        for p in PIPELINES:
            assert set(row[p]) == {"label_accuracy", "serving_accuracy", "serving_auc", "served"}
    assert len(report["windows"]) == N // report["window"]
    for name, row in report["phases"].items():
        for p in PIPELINES:
            cell = row[p]
            assert {"label_accuracy", "serving_accuracy", "serving_auc"} <= set(cell)
            assert ("detection_delay" in cell) == (p != "static")
            assert ("time_to_recover" in cell) == (name != "baseline")
    for p in PIPELINES:
        keys = set(report["pipelines"][p])
        assert {
            "predictions_failed",
            "swaps",
            "swaps_refused",
            "retrain_requests",
            "retrain_reasons",
            "false_alarms",
            "false_alarms_per_100k",
        } <= keys
    assert _render_generic(report)  # the text report renders


def test_no_prediction_fails_and_every_event_after_the_first_window_is_served(
    report: dict[str, Any],
) -> None:
    for p in PIPELINES:
        row = report["pipelines"][p]
        assert row["predictions_failed"] == 0
        assert row["events_served"] == N - report["first_window_events"]
        assert row["deployments"] == 1


def test_streamlabel_retrains_after_the_tactic_change_and_swaps(report: dict[str, Any]) -> None:
    b = report["pipelines"]["streamlabel"]
    start = report["phases"]["tactic_change"]["start"]
    assert any(r["index"] >= start for r in b["retrains"])
    assert b["retrain_requests"] == len(b["retrains"]) == sum(b["retrain_reasons"].values())
    assert b["swaps"] >= 1
    assert all(r["action"] in ("swapped", "kept") for r in b["retrains"])
    assert b["swaps"] + b["swaps_refused"] == b["retrain_requests"]
    base = report["phases"]["baseline"]
    n_base = base["stop"] - base["start"]
    assert b["false_alarms_per_100k"] == pytest.approx(b["false_alarms"] * 1e5 / n_base)


def test_pushes_beat_the_static_pipeline_on_the_last_phase(report: dict[str, Any]) -> None:
    last = report["phases"][PHASES[-1]]
    assert last["streamlabel_pushes"]["label_accuracy"] > last["static"]["label_accuracy"]
    pushes = report["pipelines"]["streamlabel_pushes"]["pushes"]
    assert [p["lfset_version"] for p in pushes] == ["2", "3", "4"]
    for p, name in zip(pushes, PHASES[1:4], strict=True):
        assert p["index"] == report["phases"][name]["start"] + 1_000
        assert report["phases"][name]["streamlabel_pushes"]["recover_from"] == p["index"]
    assert report["pipelines"]["streamlabel"]["pushes"] == []


def test_cli_parses_bench_drift() -> None:
    args = build_parser().parse_args(["bench", "drift", "--events", "10", "--json"])
    assert (args.events, args.seed, args.json) == (10, 0, True)
    assert args.handler.__name__ == "_run_drift"


def test_cli_runs_a_tiny_drift_bench(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "drift", "--events", "10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bench"] == "drift" and out["n_events"] == 10
