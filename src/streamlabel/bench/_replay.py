"""``bench replay``: replay throughput against the live labeler's, in the same run.

N events of the drifting fraud stream (:func:`~streamlabel.datasets.make_fraud_stream`)
are produced to a broker as a backlog; one labeler worker
(``python -m streamlabel.stream._worker``) labels them with ``fraud-stream`` v1 and its
throughput is the number of labels over the span of their Kafka timestamps (first to
last label record: the rate it sustains on a backlog). v2 is pushed on ``lfsets``, the
worker stops cleanly (its label-model snapshot is published) and
:func:`~streamlabel.stream._replay.start_replay` replays the whole range with v2: its
throughput is events over relabeling seconds (reading ``events``, looking up the
previous labels, applying v2, predicting, producing revisions, recording progress), and
over the whole replay including indexing ``labels`` first. Both ratios to the labeler
are reported, with the replay's summary (labels flipped per class and per LF).
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

from streamlabel.datasets import make_fraud_stream
from streamlabel.lf import load_lfset_spec
from streamlabel.stream import StreamSettings, ensure_topics, read_snapshot
from streamlabel.stream._process import WorkerProcess
from streamlabel.stream._replay import ReplayRequest, start_replay

__all__ = ["bench_replay"]

_READY_TIMEOUT = 90.0


def _label_timestamps(settings: StreamSettings, n: int, timeout: float) -> list[int]:
    """Kafka timestamps (ms) of the first ``n`` records on ``labels`` (waits for them)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        tps = [TopicPartition(settings.topic("labels"), p) for p in range(settings.partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        stamps: list[int] = []
        deadline = time.monotonic() + timeout
        while len(stamps) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(stamps)} of {n} labels after {timeout:g} s")
            for batch in consumer.poll(timeout_ms=500).values():
                stamps.extend(r.timestamp for r in batch)
        return stamps
    finally:
        consumer.close()


def bench_replay(
    bootstrap: str | None,
    n_events: int = 50_000,
    *,
    seed: int = 0,
    batch_size: int = 2_000,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """Label N fraud events with v1 on a broker, replay them with v2; compare throughputs.

    Parameters
    ----------
    bootstrap : str or None
        ``host:port`` of a broker; None starts a :class:`~streamlabel.dev.LocalKafka` on
        free ports in a temporary folder and stops it at the end.
    n_events : int, default=50000
        Events of the fraud stream (2 partitions).
    seed : int, default=0
        Seed of the stream.
    batch_size : int, default=2000
        The replay's batch size.
    timeout : float, default=300
        Seconds to wait for the labeler to label everything.

    Returns
    -------
    dict
        JSON-able report: ``labeler`` and ``replay`` throughputs, the ratios, the
        replay's summary.
    """
    if n_events < 1:
        raise ValueError(f"n_events must be >= 1, got {n_events}")
    with tempfile.TemporaryDirectory(prefix="streamlabel-bench-replay-") as tmp:
        tmpdir = Path(tmp)
        broker = None
        if bootstrap is None:
            from streamlabel.bench._stream import _start_local_kafka

            broker = _start_local_kafka(tmpdir / "kafka")
            bootstrap = str(broker.bootstrap)
        try:
            return _run(bootstrap, tmpdir, n_events, seed, batch_size, timeout, broker is not None)
        finally:
            if broker is not None:
                broker.down()


def _run(
    bootstrap: str,
    tmpdir: Path,
    n_events: int,
    seed: int,
    batch_size: int,
    timeout: float,
    local_broker: bool,
) -> dict[str, Any]:
    from kafka import KafkaProducer

    lfsets = resources.files("streamlabel.datasets") / "lfsets"
    settings = StreamSettings(
        brokers=[bootstrap],
        topic_prefix=f"bench{uuid.uuid4().hex[:10]}.",
        partitions=2,
        datadir=tmpdir / "faust",
        lfset="fraud-stream",
        lfset_file=Path(str(lfsets / "fraud_v1.yaml")),
        worker_id="w1",
        drift_enabled=False,
    )
    ensure_topics(settings)
    stream = make_fraud_stream(n_events, seed=seed)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=20)
    t_from = time.time() - 1.0
    try:
        topic = settings.topic("events")
        for e in stream.events:
            producer.send(topic, key=e["entity"].encode(), value=json.dumps(e).encode())
        producer.flush(timeout=60)
        worker = WorkerProcess(settings, tmpdir / "labeler.log")
        try:
            ready = worker.wait_ready(_READY_TIMEOUT)
            stamps = _label_timestamps(settings, n_events, timeout)
            v2 = load_lfset_spec(str(lfsets / "fraud_v2.yaml")).model_dump(mode="json")
            producer.send(
                settings.topic("lfsets"), key=b"fraud-stream", value=json.dumps(v2).encode()
            ).get(timeout=30)
            exit_code = worker.stop(timeout=30)  # a clean stop publishes the snapshot
        finally:
            worker.kill()
    finally:
        producer.close()
    span = (max(stamps) - min(stamps)) / 1000.0
    labeler_eps = n_events / span if span > 0 else float("nan")
    snap = read_snapshot(settings)
    if snap is None:
        raise RuntimeError("the labeler published no label-model snapshot")

    t0 = time.perf_counter()
    report = start_replay(
        settings,
        ReplayRequest("fraud-stream", "2", t_from, None, replay_id="bench"),
        state_dir=tmpdir / "replay",
        model_source="stats",
        batch_size=batch_size,
    )
    total = time.perf_counter() - t0
    whole_eps = report.events_read / total if total > 0 else float("nan")
    return {
        "benchmark": "replay",
        "events": n_events,
        "seed": seed,
        "partitions": settings.partitions,
        "broker": "local Apache Kafka (started for the run)" if local_broker else bootstrap,
        "labeler": {
            "lfset_version": "1",
            "ready_seconds": round(ready, 2),
            "events_per_second": round(labeler_eps, 1),
            "span_seconds": round(span, 3),
            "exit_code": exit_code,
        },
        "replay": {
            "lfset_version": "2",
            "batch_size": batch_size,
            "events_read": report.events_read,
            "labels_indexed": report.labels_indexed,
            "index_seconds": round(report.index_seconds, 3),
            "relabel_seconds": round(report.seconds, 3),
            "total_seconds": round(total, 3),
            "relabel_events_per_second": round(report.events_per_second, 1),
            "total_events_per_second": round(whole_eps, 1),
            "summary": report.summary.to_dict(),
        },
        "ratio_relabel_to_labeler": round(report.events_per_second / labeler_eps, 3),
        "ratio_total_to_labeler": round(whole_eps / labeler_eps, 3),
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
    }


def _cpus() -> int | None:
    import os

    return os.cpu_count()
