"""``bench stream`` on the session's broker: every event is accounted for, even across a
SIGKILL of the worker (at-least-once: duplicates allowed, losses not)."""

from __future__ import annotations

from typing import Any

import pytest

from streamlabel.bench import bench_stream
from streamlabel.cli._main import build_parser

pytestmark = pytest.mark.kafka


def _check_accounting(result: dict[str, Any], n: int) -> None:
    assert result["events_in"] == n
    assert result["lost"] == 0, result["lost_sample"]
    assert not result["timed_out"]
    assert result["distinct_labeled"] + result["distinct_dlq"] == n
    assert result["distinct_dlq"] == result["malformed_in"] > 0
    assert result["good_sent_to_dlq"] == 0 and result["malformed_labeled"] == 0
    assert result["dlq_unknown_source"] == 0
    assert result["labels_out"] >= result["distinct_labeled"]
    assert result["plain"]["consumed"] == n
    assert result["throughput_events_per_s"] > 0 and result["ratio_to_plain_consume"] > 0
    assert 0 <= result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]


def test_small_run_accounts_for_every_event(kafka_bootstrap: str) -> None:
    result = bench_stream(kafka_bootstrap, n_events=600, workers=1, timeout=45.0, seed=1)
    _check_accounting(result, 600)
    assert set(result["malformed_by_kind"].values()) != {0}
    assert result["duplicates"] == 0 and result["crash"] is None
    assert result["worker_exit_codes"] == [0] and result["worker_tracebacks"] == 0


def test_crash_run_loses_nothing(kafka_bootstrap: str) -> None:
    # Paced (~2.5 s of producing) so that the kill lands mid-stream.
    result = bench_stream(
        kafka_bootstrap, n_events=1000, workers=1, crash_after=300, rate=400, timeout=60.0, seed=2
    )
    print(f"\n[bench stream crash] {result}")
    _check_accounting(result, 1000)
    crash = result["crash"]
    assert crash is not None and 300 <= crash["labels_seen_at_kill"] < 1000
    assert "replacement_ready_s" in crash
    assert crash["killed_pid"] != crash["replacement_pid"]


def test_cli_options() -> None:
    argv = ["bench", "stream", "--events", "10", "--workers", "2", "--crash-after", "5"]
    args = build_parser().parse_args([*argv, "--rate", "100", "--brokers", "127.0.0.1:1"])
    assert (args.events, args.workers, args.crash_after, args.rate, args.brokers) == (
        10,
        2,
        5,
        100.0,
        "127.0.0.1:1",
    )
