"""Scrape a running labeler worker's /metrics on the session's Kafka broker."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from streamlabel.datasets import make_transactions
from streamlabel.stream import StreamSettings, ensure_topics
from streamlabel.stream._process import WorkerProcess

pytestmark = pytest.mark.kafka

PARTITIONS = 2
N_EVENTS = 400
SPEC = {
    "name": "tx",
    "version": "1",
    "cardinality": 2,
    "label_names": ["legit", "fraud"],
    "lfs": [
        {
            "name": "big_amount",
            "label": 1,
            "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 1500},
        },
        {
            "name": "small",
            "label": 0,
            "when": {"kind": "threshold", "field": "amount", "op": "lt", "value": 50},
        },
    ],
}


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of the page: sample name -> sorted labels -> value."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


@pytest.fixture
def worker(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    lfset_file = tmp_path / "lfs.json"
    lfset_file.write_text(json.dumps(SPEC))
    settings = StreamSettings(
        brokers=[kafka_bootstrap],
        topic_prefix=topic_prefix,
        partitions=PARTITIONS,
        batch_size=100,
        batch_max_wait=0.1,
        datadir=tmp_path / "faust",
        lfset="tx",
        lfset_file=lfset_file,
        metrics_port=0,  # a free port, logged
        drift_enabled=False,
    )
    ensure_topics(settings)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    try:
        for tx in make_transactions(N_EVENTS, seed=5):
            payload = {k: v for k, v in tx.items() if k not in ("id", "ts", "entity")}
            event = {"id": tx["id"], "ts": tx["ts"], "entity": tx["entity"], "payload": payload}
            value = json.dumps(event).encode()
            producer.send(settings.topic("events"), key=tx["entity"].encode(), value=value)
        producer.send(settings.topic("events"), key=b"bad", value=b"{not json")
        producer.flush(timeout=30)
    finally:
        producer.close()
    proc = WorkerProcess(settings, tmp_path / "worker.log")
    try:
        yield proc
    finally:
        proc.kill()


def test_a_running_labeler_serves_its_metrics(worker: WorkerProcess, topic_prefix: str) -> None:
    match = worker.wait_log(r"streamlabel labeler metrics on (http://127\.0\.0\.1:\d+/metrics)", 45)
    url = match.group(1)
    worker.wait_ready(45)
    deadline = time.monotonic() + 45
    page = scrape(url)
    while page.get("streamlabel_events_processed_total", {}).get((), 0) < N_EVENTS + 1:
        assert time.monotonic() < deadline, page.get("streamlabel_events_processed_total")
        time.sleep(0.2)
        page = scrape(url)
    assert page["streamlabel_labels_emitted_total"][()] == N_EVENTS
    assert page["streamlabel_dlq_total"][(("reason", "not_json"),)] == 1
    votes = page["streamlabel_lf_votes_total"]
    assert votes[(("label", "fraud"), ("lf", "big_amount"), ("version", "1"))] > 0
    assert votes[(("label", "legit"), ("lf", "small"), ("version", "1"))] > 0
    balance = page["streamlabel_labelmodel_class_balance"]
    assert set(balance) == {(("label", "legit"),), (("label", "fraud"),)}
    assert sum(balance.values()) == pytest.approx(1.0)
    cov = page["streamlabel_lf_coverage"]
    assert 0 < cov[(("lf", "big_amount"), ("version", "1"))] < 1
    assert page["streamlabel_lf_quarantined"][(("lf", "big_amount"), ("version", "1"))] == 0
    assert page["streamlabel_batch_duration_seconds_count"][()] >= 1
    raw = page["streamlabel_label_quality_estimated_accuracy"][(("estimate", "raw"),)]
    assert 0.5 <= raw <= 1.0  # the label-free estimate, before any late gold
    # Consumer lag per assigned partition of events: caught up once everything is in.
    events = f"{topic_prefix}events"
    deadline = time.monotonic() + 15
    while True:
        lag = {
            dict(k)["partition"]: v
            for k, v in scrape(url).get("streamlabel_consumer_lag", {}).items()
            if dict(k)["topic"] == events
        }
        if set(lag) == {"0", "1"} and all(v == 0 for v in lag.values()):
            break
        assert time.monotonic() < deadline, lag
        time.sleep(0.3)
