"""``bench drift --dataset youtube``: the closed loop on the real comment stream (~1 min).

The served model is trained only on streamlabel's labels (gold only monitors and judges
challengers) and scored on the 250-row Shakira test split, which no comment of the stream
comes from and which decides nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streamlabel.bench import bench_drift_youtube
from streamlabel.bench._youtube import PUBLISHED
from streamlabel.cli._main import _render_drift, build_parser, main


@pytest.fixture(scope="module")
def report(youtube_dir: Path) -> dict[str, Any]:
    return bench_drift_youtube(youtube_dir)


def test_report_is_json_and_leak_free(report: dict[str, Any]) -> None:
    assert json.loads(json.dumps(report)) == report
    assert report["dataset"] == "youtube" and report["n_events"] == 1586
    assert report["n_test"] == 250
    assert report["leakage"]["clean"] and report["leakage"]["shakira_rows_in_stream"] == 0
    assert set(report["videos"]) == {"Psy", "KatyPerry", "LMFAO", "Eminem"}
    assert sum(v["events"] for v in report["videos"].values()) == 1586
    assert sum(p["events"] for p in report["phases"].values()) == 1586
    assert _render_drift(report).startswith("youtube comment stream: 1,586 comments")


def test_the_loop_serves_every_comment_after_the_first_window(report: dict[str, Any]) -> None:
    loop = report["loop"]
    assert loop["predictions_failed"] == 0
    assert loop["events_served"] == 1586 - report["first_window_events"]
    assert loop["deployments"] == 1 and loop["swaps"] >= 1
    assert loop["trainings_failed"] == 0
    # Every training's outcome is recorded; only swapped ones were scored on the test split.
    for t in loop["trainings"]:
        assert t["action"] in {"swapped", "kept"}
        assert ("test" in t) == (t["action"] == "swapped")
    # Gold never trains: the training label accuracy is the label model's, below 1.
    assert all(t["train_label_accuracy"] < 1 for t in loop["trainings"])


def test_prequential_labels_beat_chance_on_covered_comments(report: dict[str, Any]) -> None:
    pre = report["prequential"]
    assert pre["coverage"] > 0.75
    assert pre["label_accuracy_covered"] > 0.88
    for video in report["videos"].values():
        assert video["label_accuracy_covered"] > 0.8


def test_served_model_meets_the_majority_vote_lr_bar(report: dict[str, Any]) -> None:
    test = report["test"]
    served = test["served"]["accuracy"]
    assert served > test["always_majority"] + 30
    # Acceptance: at least WRENCH's MV -> LR (90.72); measured 95.2 (BENCHMARKS.md).
    assert served >= PUBLISHED["wrench_mv_lr"]
    assert test["served"]["auc"] > 95
    # The online label model itself beats WRENCH's majority vote (84.0) on the test rows.
    assert test["label_model"] > PUBLISHED["wrench_mv_label_model"]
    # The peers ran on the same stream with the same end model.
    assert test["peer_gold_lr"]["n_train"] == 1586
    assert test["peer_mv_lr"]["accuracy"] > test["always_majority"] + 30


def test_cli_routes_to_the_youtube_bench(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    args = build_parser().parse_args(["bench", "drift", "--dataset", "youtube", "--data", "d"])
    assert (args.dataset, args.data) == ("youtube", "d")
    assert build_parser().parse_args(["bench", "drift"]).dataset == "fraud"
    calls: list[Any] = []
    monkeypatch.setattr(
        "streamlabel.bench._youtube.bench_drift_youtube",
        lambda data: calls.append(data) or {"bench": "drift", "dataset": "youtube"},
    )
    assert main(["bench", "drift", "--dataset", "youtube", "--data", str(tmp_path), "--json"]) == 0
    assert calls == [str(tmp_path)]


def test_cli_missing_data_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "drift", "--dataset", "youtube", "--data", str(tmp_path / "x")]) == 2
    assert "YouTube data folder not found" in capsys.readouterr().err
    assert main(["bench", "drift", "--data", str(tmp_path)]) == 2
    assert "--data applies to --dataset youtube" in capsys.readouterr().err
