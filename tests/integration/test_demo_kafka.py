"""`streamlabel demo --kafka` on the session's broker: the same script through the services."""

from __future__ import annotations

import pytest

from streamlabel.cli._demo_kafka import run_kafka_demo

pytestmark = pytest.mark.kafka


def test_kafka_demo_labels_predicts_and_pushes_every_version(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    r = run_kafka_demo(
        3_000, seed=1, brokers=kafka_bootstrap, prefix=topic_prefix, speed=1_000, timeout=300
    )
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
