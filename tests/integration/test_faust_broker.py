"""A real Faust worker (faust-streaming + aiokafka) against the session's Kafka broker.

The worker runs in a subprocess (``python -m streamlabel.stream._worker``) with the echo
handler: one ``labels`` record per event, keyed by the event's key. Timings and duplicate
counts are printed (``pytest -s``) and recorded as test properties.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from streamlabel.stream import StreamSettings, ensure_topics
from streamlabel.stream._process import READY_PATTERN, WorkerProcess

pytestmark = pytest.mark.kafka

N_EVENTS = 500
PARTITIONS = 3
READY_TIMEOUT = 45.0
LABELS_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
_ASSIGNED = re.compile(r"streamlabel partitions assigned after ([0-9.]+) s")


class Worker(WorkerProcess):
    """The echo worker (``--handler echo``) with timed stops for these tests."""

    def __init__(self, settings: StreamSettings, log: Path) -> None:
        super().__init__(settings, log, ["--handler", "echo"])

    def wait_assigned(self, timeout: float = READY_TIMEOUT) -> float:
        """Seconds from the worker's start to its first partition assignment."""
        return float(self.wait_log(_ASSIGNED, timeout).group(1))

    def stop_timed(
        self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT
    ) -> tuple[int, float]:
        """Send ``sig``; return the exit status and the seconds it took to exit."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"worker did not exit {timeout} s after signal {sig}:\n{self.text()[-3000:]}"
            ) from None
        return rc, time.monotonic() - t0


@pytest.fixture
def settings(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> StreamSettings:
    s = StreamSettings(
        brokers=[kafka_bootstrap],
        topic_prefix=topic_prefix,
        partitions=PARTITIONS,
        batch_size=100,
        batch_max_wait=0.1,
        datadir=tmp_path / "faust",
    )
    ensure_topics(s)
    return s


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    try:
        yield started
    finally:
        for w in started:
            w.kill()


class LabelReader:
    """Reads the ``labels`` topic from the beginning and counts event ids."""

    def __init__(self, settings: StreamSettings) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False
        )
        tps = [TopicPartition(settings.topic("labels"), p) for p in range(settings.partitions)]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)
        self.ids: Counter[str] = Counter()
        self.records = 0
        self.first_ts = self.last_ts = 0  # record timestamps, ms

    def poll_until(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() >= deadline:
                return False
            for batch in self.consumer.poll(timeout_ms=200).values():
                for record in batch:
                    value = json.loads(record.value)
                    assert record.key == value["event_id"].encode(), "labels keyed by event"
                    self.ids[value["event_id"]] += 1
                    self.records += 1
                    self.first_ts = min(self.first_ts or record.timestamp, record.timestamp)
                    self.last_ts = max(self.last_ts, record.timestamp)
        return True

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture
def labels(settings: StreamSettings) -> Iterator[LabelReader]:
    reader = LabelReader(settings)
    try:
        yield reader
    finally:
        reader.close()


def _produce(settings: StreamSettings, ids: range, per_second: float | None = None) -> float:
    """Send events ``ev-<i>`` keyed by their id; return the seconds it took."""
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5)
    t0 = time.monotonic()
    try:
        for n, i in enumerate(ids):
            if per_second is not None:
                time.sleep(max(0.0, t0 + n / per_second - time.monotonic()))
            value = {"id": f"ev-{i}", "ts": time.time(), "amount": i * 0.5}
            producer.send(
                settings.topic("events"), key=f"ev-{i}".encode(), value=json.dumps(value).encode()
            )
        producer.flush(timeout=30)
    finally:
        producer.close()
    return time.monotonic() - t0


def _report(record_property: Callable[[str, Any], None], **values: Any) -> None:
    for name, value in values.items():
        record_property(name, value)
    print("\n[faust-broker] " + ", ".join(f"{k}={v}" for k, v in values.items()))


def test_worker_labels_every_event_and_stops_cleanly(
    settings: StreamSettings,
    workers: list[Worker],
    labels: LabelReader,
    tmp_path: Path,
    record_property: Callable[[str, Any], None],
) -> None:
    # A backlog: the agent's throughput is measured on events already waiting.
    produce_s = _produce(settings, range(N_EVENTS))
    worker = Worker(settings, tmp_path / "worker.log")
    workers.append(worker)
    assigned_s = worker.wait_assigned()

    ok = labels.poll_until(lambda: len(labels.ids) >= N_EVENTS, LABELS_TIMEOUT)
    labeled_s = time.monotonic() - worker.started
    assert ok, f"{len(labels.ids)} of {N_EVENTS} labeled:\n{worker.text()[-3000:]}"
    assert set(labels.ids) == {f"ev-{i}" for i in range(N_EVENTS)}

    rc, stop_s = worker.stop_timed(signal.SIGTERM)
    log = worker.text()
    assert rc == 0, f"worker exited with {rc} after SIGTERM:\n{log[-3000:]}"
    assert "Traceback" not in log, log[-3000:]

    # A clean stop commits every processed offset.
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        committed = admin.list_group_offsets(settings.group_id)[settings.group_id]
    finally:
        admin.close()
    events = {
        tp: meta.offset for tp, meta in committed.items() if tp.topic == settings.topic("events")
    }
    assert sum(events.values()) == N_EVENTS, committed

    ready = READY_PATTERN.search(log)
    span_s = max((labels.last_ts - labels.first_ts) / 1000.0, 1e-3)
    _report(
        record_property,
        produce_s=round(produce_s, 3),
        ready_after_start_s=float(ready.group(1)) if ready else None,
        assigned_after_start_s=assigned_s,
        all_labeled_after_start_s=round(labeled_s, 2),
        first_to_last_label_s=round(span_s, 3),
        echo_events_per_s=round(N_EVENTS / span_s),
        duplicates=labels.records - len(labels.ids),
        sigterm_exit_s=round(stop_s, 2),
        log_lines=[ln for ln in log.splitlines() if "] streamlabel " not in ln],
    )


def test_sigkill_and_restart_loses_no_event(
    settings: StreamSettings,
    workers: list[Worker],
    labels: LabelReader,
    tmp_path: Path,
    record_property: Callable[[str, Any], None],
) -> None:
    log = tmp_path / "worker.log"
    first = Worker(settings, log)
    workers.append(first)
    first.wait_assigned()

    # Events arrive over ~2.5 s; the worker is killed once a fifth of them are labeled,
    # while the producer is still sending.
    producer = threading.Thread(
        target=_produce, args=(settings, range(N_EVENTS)), kwargs={"per_second": 200.0}
    )
    producer.start()
    try:
        assert labels.poll_until(lambda: len(labels.ids) >= N_EVENTS // 5, LABELS_TIMEOUT)
        first.kill()
        labeled_at_kill = len(labels.ids)
    finally:
        producer.join(timeout=30)

    t_restart = time.monotonic()
    second = Worker(settings, log)
    workers.append(second)
    ok = labels.poll_until(lambda: len(labels.ids) >= N_EVENTS, LABELS_TIMEOUT)
    recovered_s = time.monotonic() - t_restart
    missing = {f"ev-{i}" for i in range(N_EVENTS)} - set(labels.ids)
    assert ok and not missing, f"lost {len(missing)} events:\n{second.text()[-3000:]}"

    rc, _ = second.stop_timed(signal.SIGTERM)
    assert rc == 0, second.text()[-3000:]
    duplicated = sum(1 for n in labels.ids.values() if n > 1)
    _report(
        record_property,
        labeled_before_kill=labeled_at_kill,
        all_labeled_after_restart_s=round(recovered_s, 2),
        label_records=labels.records,
        distinct_events=len(labels.ids),
        events_labeled_more_than_once=duplicated,
    )
