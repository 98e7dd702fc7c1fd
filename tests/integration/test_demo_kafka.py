"""`streamlabel demo --kafka` on the session's broker: the same script through the services."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from typing import Any

import pytest

from streamlabel.cli._demo_kafka import run_kafka_demo

pytestmark = pytest.mark.kafka


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_kafka_demo_labels_predicts_pushes_and_serves_its_status(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    port = _free_port()
    result: dict[str, Any] = {}

    def run() -> None:
        result.update(
            run_kafka_demo(
                3_000,
                seed=1,
                brokers=kafka_bootstrap,
                prefix=topic_prefix,
                speed=500,
                port=port,
                timeout=300,
            )
        )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    status: dict[str, Any] = {}
    metrics = ""
    deadline = time.monotonic() + 240
    while thread.is_alive() and time.monotonic() < deadline:  # while it runs (bounded)
        try:
            status = json.loads(urllib.request.urlopen(url + "status.json", timeout=5).read())
            if status["stream"]["events_done"] >= 1_000:
                metrics = urllib.request.urlopen(url + "metrics", timeout=5).read().decode()
                page = urllib.request.urlopen(url, timeout=5).read().decode()
                break
        except OSError:
            pass  # not listening yet
        time.sleep(0.5)
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert status.get("state") == "running", status
    assert "streamlabel_labels_emitted_total" in metrics and "<svg" in page
    assert 'streamlabel_consumer_lag{partition="2",topic="events"}' in metrics
    assert status["lfs"] and all(lf["history"] for lf in status["lfs"])

    r = result
    assert r["complete"], r
    assert r["events"] == 3_000 and r["topic_prefix"] == topic_prefix
    assert [p["lfset_version"] for p in r["pushes"]] == ["2", "3", "4"]
    assert r["dlq"] == r["dlq_injected"] > 0
    assert len(r["models"]) >= 1
    for phase in r["phases"]:
        assert phase["labeled"] == phase["stop"] - phase["start"]
        assert phase["label_accuracy"] > 0.9, phase
        assert phase["served"] == phase["stop"] - phase["start"]
        assert phase["serving_accuracy"] > 0.9, phase
    # LFs of the pushed versions vote (the labeler hot-reloaded them from `lfsets`).
    last = r["phases"][-1]["lf_accuracy"]
    assert "just_under_limit@1" in last and "big_amount@1" not in last
