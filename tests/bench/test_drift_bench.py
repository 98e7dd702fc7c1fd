"""``bench drift`` on a small run (20,000 events, ~20 s): the closed loop, side by side."""

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


def test_streamlabel_retrains_on_schedule_and_requests_and_swaps(report: dict[str, Any]) -> None:
    b = report["pipelines"]["streamlabel"]
    start = report["phases"]["tactic_change"]["start"]
    assert any(r["index"] >= start for r in b["retrains"])
    assert b["retrain_requests"] == len(b["retrains"]) == sum(b["retrain_reasons"].values())
    assert all(r["action"] in ("swapped", "kept") for r in b["retrains"])
    triggers = [t["trigger"] for t in b["trainings"]]
    assert triggers[0] == "first window" and triggers.count("drift") == b["retrain_requests"]
    every = report["retrain_every"]
    scheduled = [t["at"] for t in b["trainings"] if t["trigger"] == "schedule"]
    assert scheduled and all(at % every == 0 for at in scheduled)
    # every training after the first is either swapped in or kept out by `decide`
    assert b["swaps"] >= 2
    assert b["swaps"] + b["swaps_refused"] + b["trainings_failed"] == len(b["trainings"]) - 1
    assert [t["version"] for t in b["trainings"] if t["action"] == "swapped"] == [
        f"v{i}" for i in range(1, b["swaps"] + 2)
    ]
    base = report["phases"]["baseline"]
    n_base = base["stop"] - base["start"]
    assert b["false_alarms_per_100k"] == pytest.approx(b["false_alarms"] * 1e5 / n_base)


def test_streamlabel_recovers_label_accuracy_where_static_does_not(report: dict[str, Any]) -> None:
    # The acceptance point, on the small stream (phases of 4,000 events): after the drifts
    # the v1 LFs cannot see, the automatic loop (b) labels better than the static pipeline;
    # after the amount shift and the fraud-rate rise it is back within 2 points of its
    # baseline label accuracy 2,000 events after the onset, while the static pipeline
    # never is, nor after the tactic change. (Seeds 0-2 alike. The new pattern needs a
    # model trained on post-drift gold, the tactic change an alarm on gift_card_cashout:
    # 4,000 events are not always enough, see BENCHMARKS.md for 20,000-event phases.)
    for name in PHASES[1:]:
        a = report["phases"][name]["static"]
        assert a["time_to_recover_from_onset"] is None and a["fix"] is None
    for name in PHASES[2:]:
        row = report["phases"][name]
        b, a = row["streamlabel"], row["static"]
        assert b["label_accuracy"] > a["label_accuracy"] + 0.01
        assert a["time_to_recover_from_onset"] is None and a["fix"] is None
        if name != "new_pattern":
            assert b["time_to_recover_from_onset"] == 2_000
    for name in PHASES[1:]:
        b = report["phases"][name]["streamlabel"]
        # the served model is an LF of the labeler, and an accurate one
        assert b["model_lf_coverage"] > 0.8 and b["model_lf_accuracy"] > 0.97
        if b["fix"] is not None:
            assert b["fix"] == "swap"
            assert report["phases"][name]["start"] < b["recover_from"]


def test_static_keeps_its_first_model_and_its_labels(report: dict[str, Any]) -> None:
    a = report["pipelines"]["static"]
    assert (a["swaps"], a["retrain_requests"], a["trainings"]) == (0, 0, [])


def test_model_lf_and_gold_are_what_recovers(report: dict[str, Any]) -> None:
    # Ablation on the same stream: without the model LF and without gold in the label
    # model, (b) labels like before this loop existed. Measured (label accuracy, on / off):
    # new_pattern 0.968 / 0.963, amount_shift 0.984 / 0.961, fraud_rate_rise 0.974 / 0.920;
    # on is back within 2 points 2,000 events into the last two phases, off never. In
    # new_pattern both are back 3,000 events in (off never, and on 500 events sooner,
    # before events without votes got majority vote's prior).
    off = bench_drift(n_events=N, seed=0, model_lf=None, feed_gold=False, retrain_every=0)
    for name in PHASES[2:]:
        on_acc = report["phases"][name]["streamlabel"]["label_accuracy"]
        assert off["phases"][name]["streamlabel"]["label_accuracy"] < on_acc
    for name in PHASES[3:]:
        on, ablated = report["phases"][name]["streamlabel"], off["phases"][name]["streamlabel"]
        assert ablated["label_accuracy"] < on["label_accuracy"] - 0.01
        assert on["time_to_recover_from_onset"] is not None
        assert ablated["time_to_recover_from_onset"] is None
    on_new, off_new = (r["phases"]["new_pattern"]["streamlabel"] for r in (report, off))
    on_t, off_t = on_new["time_to_recover_from_onset"], off_new["time_to_recover_from_onset"]
    assert on_t is not None and (off_t is None or off_t >= on_t)
    assert off["phases"]["new_pattern"]["streamlabel"]["model_lf_coverage"] == 0


def test_pushes_beat_the_static_pipeline_on_the_last_phase(report: dict[str, Any]) -> None:
    last = report["phases"][PHASES[-1]]
    assert last["streamlabel_pushes"]["label_accuracy"] > last["static"]["label_accuracy"]
    pushes = report["pipelines"]["streamlabel_pushes"]["pushes"]
    assert [p["lfset_version"] for p in pushes] == ["2", "3", "4"]
    for p, name in zip(pushes, PHASES[1:4], strict=True):
        assert p["index"] == report["phases"][name]["start"] + 1_000
        cell = report["phases"][name]["streamlabel_pushes"]
        assert (cell["fix"], cell["recover_from"]) == ("push", p["index"])
    assert report["pipelines"]["streamlabel"]["pushes"] == []


def test_cli_parses_bench_drift() -> None:
    args = build_parser().parse_args(["bench", "drift", "--events", "10", "--json"])
    assert (args.events, args.seed, args.json) == (10, 0, True)
    assert args.handler.__name__ == "_run_drift"
    assert (args.prior_weight, args.forget_on_drift) == (1.0, True)
    args = build_parser().parse_args(
        ["bench", "drift", "--prior-weight", "0.5", "--no-forget-on-drift"]
    )
    assert (args.prior_weight, args.forget_on_drift) == (0.5, False)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "drift", "--prior-weight", "1.5"])


def test_cli_passes_the_loop_settings(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "drift", "--events", "10", "--prior-weight", "0.5", "--no-forget-on-drift"]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["prior_weight"], out["forget_on_drift"]) == (0.5, False)


def test_cli_runs_a_tiny_drift_bench(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "drift", "--events", "10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bench"] == "drift" and out["n_events"] == 10
