"""``streamlabel replay`` and the replay state, the parts that need no broker."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from streamlabel.cli import build_parser, main
from streamlabel.datasets import fraud_lfsets
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.stream import StreamSettings
from streamlabel.stream._replay import (
    ReplayError,
    ReplayRequest,
    default_replay_id,
    parse_time,
    run_replay,
    start_replay,
)

# Nothing listens here: a test that tried to connect would fail, not hang.
NOWHERE = StreamSettings(brokers=["127.0.0.1:1"], topic_prefix="t.")


def test_the_parser_reads_times_as_iso_or_epoch() -> None:
    args = build_parser().parse_args(
        ["replay", "--set", "s", "--version", "2", "--from", "2023-11-14T22:13:20Z",
         "--to", "1700003600", "--replay-id", "r1", "--no-progress"]
    )  # fmt: skip
    assert (args.lfset, args.version, args.start, args.stop) == ("s", "2", 1.7e9, 1700003600.0)
    assert args.replay_id == "r1" and args.state_dir == "streamlabel-replay"
    assert parse_time("2023-11-14T23:13:20+01:00") == 1.7e9
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_time("yesterday")


def test_usage_errors_exit_2_before_any_connection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["replay", "--set", "fraud-stream", "--version", "2", "--brokers", "127.0.0.1:1"]
    assert main([*base, "--from", "yesterday"]) == 2
    assert main([*base, "--from", "100", "--to", "50"]) == 2
    assert "must be after --from" in capsys.readouterr().err
    v1 = resources.files("streamlabel.datasets") / "lfsets" / "fraud_v1.yaml"
    assert main([*base, "--from", "100", "--file", str(v1), "--state-dir", str(tmp_path)]) == 2
    assert "holds 'fraud-stream' version '1'" in capsys.readouterr().err


def test_a_state_of_another_request_is_refused_and_a_finished_one_does_nothing(
    tmp_path: Path,
) -> None:
    v2 = fraud_lfsets()[1]
    request = ReplayRequest("fraud-stream", "2", 100.0, 200.0, replay_id="r1")
    # A finished replay: its state file says done; nothing is read (no broker here).
    from streamlabel.stream._replay import _state_paths

    state_path = _state_paths(tmp_path, "r1")[0]
    state = {
        "format": "streamlabel.replay-state",
        "format_version": 1,
        "replay_id": "r1",
        "request": {"lfset": "fraud-stream", "version": "2", "start": 100.0, "stop": 200.0},
        "labelmodel_version": "1.0",
        "ranges": {"0": [5, 9, 9]},
        "labels_from": {"0": 0},
        "summary": {"events": 4, "revised": 1, "unchanged": 3, "flips": {"1->0": 1}},
        "done": True,
    }
    state_path.write_text(json.dumps(state), encoding="utf-8")
    report = run_replay(NOWHERE, request, v2, OnlineLabelModel(2), state_dir=tmp_path)
    assert report.already_done and report.done and report.events_read == 0
    # start_replay loads nothing for a finished replay (no lfsets, no model look-up).
    assert start_replay(NOWHERE, request, state_dir=tmp_path, timeout=1.0).already_done
    assert report.summary.revised == 1 and report.ranges == {0: [5, 9, 9]}
    other = ReplayRequest("fraud-stream", "3", 100.0, 200.0, replay_id="r1")
    with pytest.raises(ReplayError, match="was started for"):
        run_replay(NOWHERE, other, v2, OnlineLabelModel(2), state_dir=tmp_path)


def test_the_default_id_names_the_range() -> None:
    assert default_replay_id("s", "2", 1.5, 2.5) == "s-v2-1500-2500"
    request = ReplayRequest("s", "2", 1.5)
    assert request.resolved_id() == "s-v2-1500-end"
