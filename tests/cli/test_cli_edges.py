"""The ``streamlabel`` command: exit codes, messages that name what is wrong, options that
reach the code they set. Fast: nothing here connects to a broker or runs a long bench."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from streamlabel.cli import main


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Guards cli/_main.py main(): Ctrl-C exits 130 with "interrupted" (documented), not 0.
def test_keyboard_interrupt_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(**_: Any) -> dict[str, Any]:
        raise KeyboardInterrupt

    monkeypatch.setattr("streamlabel.bench._apply.bench_apply", interrupted)
    assert main(["bench", "apply", "--json"]) == 130
    captured = capsys.readouterr()
    assert "streamlabel: interrupted" in captured.err and captured.out == ""


# Guards cli/_main.py _run_demo: a negative --linger is refused (exit 2), not ignored.
def test_demo_refuses_a_negative_linger(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-serve", "--events", "500", "--linger", "-1", "--json"]) == 2
    captured = capsys.readouterr()
    assert "--linger" in captured.err and captured.out == ""


# Guards cli/_demo.py run_demo: --speed reaches the run's config (the throttle).
def test_demo_speed_reaches_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-serve", "--events", "400", "--speed", "4000", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["speed"] == 4000.0


# Guards cli/_main.py _run_kafka_logs: -n N shows the log's last N lines, not 50.
def test_dev_kafka_logs_shows_the_last_n_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "kafka"
    (data / "logs").mkdir(parents=True)
    (data / "logs" / "kafka.out").write_text("".join(f"line {i}\n" for i in range(100)))
    assert main(["dev", "kafka", "logs", "-n", "3", "--data-dir", str(data)]) == 0
    assert capsys.readouterr().out.splitlines() == ["line 97", "line 98", "line 99"]


# Guards cli/_replay.py: an empty range (--to equal to --from) is a usage error before
# any connection, like --to before --from.
def test_replay_refuses_an_empty_range(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["replay", "--set", "s", "--version", "2", "--brokers", "127.0.0.1:1"]
    assert main([*argv, "--from", "100", "--to", "100", "--timeout", "1"]) == 2
    assert "must be after --from" in capsys.readouterr().err


# Guards cli/_lf.py _load_local: a missing LF set file is named in the error.
def test_lf_check_names_the_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["lf", "check", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


# Guards cli/_lf.py _kafka_errors: an unreachable broker is named in the error.
def test_lf_list_names_the_unreachable_broker(capsys: pytest.CaptureFixture[str]) -> None:
    brokers = f"127.0.0.1:{_unused_port()}"
    assert main(["lf", "list", "--brokers", brokers, "--timeout", "1"]) == 2
    err = capsys.readouterr().err
    assert f"no Kafka broker answers at {brokers}" in err


# Guards datasets/_youtube.py as `bench keywords` / `bench drift --dataset youtube` report
# it: without the data the error names the missing file or folder (no data needed here).
def test_youtube_benches_name_the_missing_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "keywords", "--data", str(tmp_path), "--no-peers"]) == 2
    err = capsys.readouterr().err
    assert "UCI YouTube file not found" in err and str(tmp_path / "uci_raw") in err
    missing = tmp_path / "absent"
    assert main(["bench", "drift", "--dataset", "youtube", "--data", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "YouTube data folder not found" in err and str(missing) in err


# Guards cli/_main.py handlers: --gold-every (quality), --unanimous-weight (drift) and
# --seeds (regimes) reach their benchmark.
def test_bench_options_reach_their_benchmarks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: dict[str, dict[str, Any]] = {}

    def fake(name: str) -> Any:
        def run(*args: Any, **kwargs: Any) -> dict[str, Any]:
            calls[name] = {"args": args, **kwargs}
            return {"bench": name}

        return run

    monkeypatch.setattr("streamlabel.bench._quality.bench_quality", fake("quality"))
    monkeypatch.setattr("streamlabel.bench._drift.bench_drift", fake("drift"))
    monkeypatch.setattr("streamlabel.bench._regimes.bench_regimes", fake("regimes"))
    assert main(["bench", "quality", "--events", "10", "--gold-every", "7", "--json"]) == 0
    assert calls["quality"]["gold_every"] == 7
    assert main(["bench", "drift", "--events", "10", "--unanimous-weight", "0.25", "--json"]) == 0
    assert calls["drift"]["unanimous_weight"] == 0.25
    assert main(["bench", "regimes", "--seeds", "4", "--no-peers", "--json"]) == 0
    assert tuple(calls["regimes"]["seeds"]) == (0, 1, 2, 3)
    assert calls["regimes"]["peers"] is False
    capsys.readouterr()
