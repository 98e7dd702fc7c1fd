"""``bench stream``: the labeler service end to end on a Kafka broker, with a crash test.

N generated card transactions (:func:`~streamlabel.datasets.make_transactions`) become
events ``{id, ts, entity, payload}``; about ``malformed_rate`` of them are replaced by
malformed inputs of several kinds (not JSON, not an object, a missing field, a wrong
type, an unknown field, not UTF-8, an invalid value), each carrying a unique id where
the input has one. W labeler workers (``python -m streamlabel.stream._worker``) serve
the ten declarative LFs of ``bench apply`` (:func:`~streamlabel.bench._apply.bench_lfset_spec`,
written to a temporary ``lfset_file``). Events are produced with kafka-python, at full
speed or paced at ``rate`` events/s, each with its produce time as the Kafka record
timestamp. A consumer reads ``labels`` and ``dlq`` until every event is accounted for
(a label for its id, or a DLQ record for its source offset) or the timeout passes.

With ``crash_after=K`` one worker is killed with SIGKILL once K label records have
appeared, and a replacement is started; at-least-once delivery means re-delivered events
show up as ``duplicates`` (distinct ids labeled more than once), never as ``lost``.

Latency is the label record's Kafka timestamp (set by the worker's producer when it sends)
minus the event's produce timestamp, for the first label of each event. Throughput is
events in over first produce to last output. The broker's own ceiling is measured in the
same run: kafka-python produces the same N messages to a fresh topic and consumes them
back (``plain``), and ``ratio_to_plain_consume`` is the labeler's throughput over the
plain consume rate.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from streamlabel.bench._apply import bench_lfset_spec
from streamlabel.datasets import make_transactions
from streamlabel.stream import StreamSettings, ensure_topics
from streamlabel.stream._process import WorkerProcess

__all__ = ["MALFORMED_KINDS", "bench_stream"]

#: The kinds of malformed input produced, in turn, with the DLQ reason each should get.
MALFORMED_KINDS: tuple[str, ...] = (
    "not_json",
    "not_object",
    "missing_field",
    "wrong_type",
    "unknown_field",
    "not_utf8",
    "invalid_value",
)

_READY_TIMEOUT = 60.0
_PROCESSED_AT = re.compile(rb'"processed_at":\s*([0-9.eE+-]+)')
_STOP_TIMEOUT = 10.0


def _event_bytes(tx: dict[str, Any]) -> bytes:
    payload = {k: v for k, v in tx.items() if k not in ("id", "ts", "entity")}
    return json.dumps(
        {"id": tx["id"], "ts": tx["ts"], "entity": tx["entity"], "payload": payload}
    ).encode()


def _malformed(kind: str, ident: str, tx: dict[str, Any]) -> bytes:
    base = {"id": ident, "ts": tx["ts"], "entity": tx["entity"]}
    if kind == "not_json":
        return f'{{"id": "{ident}", "ts": '.encode()
    if kind == "not_object":
        return json.dumps([ident, tx["ts"]]).encode()
    if kind == "missing_field":
        return json.dumps(base).encode()
    if kind == "wrong_type":
        return json.dumps({**base, "payload": "not a mapping"}).encode()
    if kind == "unknown_field":
        return json.dumps({**base, "payload": {}, "extra": 1}).encode()
    if kind == "not_utf8":
        return b"\xff\xfe" + json.dumps({"id": ident}).encode()
    if kind == "invalid_value":
        return json.dumps({**base, "ts": "nan", "payload": {}}).encode()
    raise ValueError(f"unknown malformed kind {kind!r}")


def _make_inputs(
    n_events: int, malformed_rate: float, seed: int
) -> tuple[list[str], list[bytes], list[bytes], dict[str, str]]:
    """Return ids, keys, values and ``{id: kind}`` of the malformed ones."""
    txs = make_transactions(n_events, seed=seed)
    rng = random.Random(seed)
    ids: list[str] = []
    keys: list[bytes] = []
    values: list[bytes] = []
    bad: dict[str, str] = {}
    for i, tx in enumerate(txs):
        keys.append(str(tx["entity"]).encode())
        if rng.random() < malformed_rate:
            kind = MALFORMED_KINDS[len(bad) % len(MALFORMED_KINDS)]
            ident = f"bad{i:09d}"
            bad[ident] = kind
            ids.append(ident)
            values.append(_malformed(kind, ident, tx))
        else:
            ids.append(str(tx["id"]))
            values.append(_event_bytes(tx))
    return ids, keys, values, bad


def _stop_all(workers: list[WorkerProcess]) -> list[int | None]:
    """SIGTERM every worker, wait a bounded time, SIGKILL the rest; return exit codes."""
    for w in workers:
        w.signal(signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT
    for w in workers:
        try:
            w.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.kill()
    for w in workers:
        w.kill()
    return [w.proc.returncode for w in workers]


class _OutputReader(threading.Thread):
    """Reads ``labels`` and ``dlq`` from the beginning: (key, Kafka timestamp ms) each."""

    def __init__(self, bootstrap: list[str], topics: dict[str, str], partitions: int) -> None:
        super().__init__(name="bench-stream-outputs", daemon=True)
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
        )
        self.names = topics  # full topic name -> "labels" / "dlq"
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)
        self.labels: list[tuple[bytes, int]] = []
        self.dlq: list[tuple[bytes, int]] = []
        # Per label record, the worker's ``processed_at`` (epoch ms): splits the latency.
        self.processed_ms: list[float] = []
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                for batch in self.consumer.poll(timeout_ms=100).values():
                    for rec in batch:
                        if self.names[rec.topic] == "labels":
                            self.labels.append((rec.key, rec.timestamp))
                            found = _PROCESSED_AT.search(rec.value)
                            self.processed_ms.append(
                                float(found.group(1)) * 1000 if found else float("nan")
                            )
                        else:
                            self.dlq.append((rec.key, rec.timestamp))
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            self.consumer.close()


def _producer(bootstrap: list[str]) -> Any:
    from kafka import KafkaProducer

    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        batch_size=256 * 1024,
        max_request_size=2_000_000,
    )


class _EventProducer(threading.Thread):
    """Sends the inputs (paced at ``rate``/s when given), recording each send time."""

    def __init__(
        self,
        bootstrap: list[str],
        topic: str,
        keys: list[bytes],
        values: list[bytes],
        rate: float | None,
    ) -> None:
        super().__init__(name="bench-stream-producer", daemon=True)
        self.producer = _producer(bootstrap)
        self.topic = topic
        self.keys = keys
        self.values = values
        self.rate = rate
        self.sent_ms: list[int] = []
        self.where: list[tuple[int, int]] = []
        self.done = threading.Event()
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            futures = []
            start = time.monotonic()
            for i, (key, value) in enumerate(zip(self.keys, self.values, strict=True)):
                if self.stop_event.is_set():
                    break
                if self.rate is not None:
                    ahead = start + i / self.rate - time.monotonic()
                    if ahead > 0.0005:
                        time.sleep(ahead)
                now_ms = int(time.time() * 1000)
                self.sent_ms.append(now_ms)
                futures.append(
                    self.producer.send(self.topic, key=key, value=value, timestamp_ms=now_ms)
                )
            self.producer.flush(timeout=60)
            for f in futures:
                meta = f.get(timeout=60)
                self.where.append((meta.partition, meta.offset))
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            self.done.set()
            self.producer.close(timeout=10)


def _plain_ceiling(
    bootstrap: list[str],
    topic: str,
    partitions: int,
    keys: list[bytes],
    values: list[bytes],
    timeout: float,
) -> dict[str, Any]:
    """kafka-python produce of the same messages to a fresh topic, then consume them back."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    try:
        admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=1)],
            timeout_ms=30_000,
        )
    finally:
        admin.close()
    n = len(values)
    producer = _producer(bootstrap)
    try:
        t0 = time.perf_counter()
        for key, value in zip(keys, values, strict=True):
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=timeout)
        produce_s = time.perf_counter() - t0
    finally:
        producer.close(timeout=10)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        got = 0
        t0 = time.perf_counter()
        deadline = time.monotonic() + timeout
        while got < n and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                got += len(batch)
        consume_s = time.perf_counter() - t0
    finally:
        consumer.close()
    return {
        "topic": topic,
        "messages": n,
        "consumed": got,
        "produce_seconds": round(produce_s, 3),
        "produce_msgs_per_s": round(n / produce_s, 1) if produce_s > 0 else None,
        "consume_seconds": round(consume_s, 3),
        "consume_msgs_per_s": round(got / consume_s, 1) if consume_s > 0 else None,
    }


def _start_local_kafka(data_dir: Path) -> Any:
    from streamlabel.dev import KafkaDevError, start_on_free_ports

    try:
        return start_on_free_ports(data_dir, timeout=120)
    except KafkaDevError as exc:
        raise RuntimeError(f"local Kafka broker did not start: {exc}") from exc


def bench_stream(
    bootstrap: str | None,
    n_events: int = 20_000,
    workers: int = 1,
    crash_after: int | None = None,
    malformed_rate: float = 0.02,
    rate: float | None = None,
    timeout: float = 120.0,
    seed: int = 0,
    backlog: bool = False,
    drift: bool = True,
) -> dict[str, Any]:
    """Run the labeler service on a broker and account for every event.

    Parameters
    ----------
    bootstrap : str or None
        ``host:port`` of the broker; None starts a :class:`~streamlabel.dev.LocalKafka` on
        free ports in a temporary folder and stops it at the end.
    n_events : int, default=20000
        Events produced (malformed ones included).
    workers : int, default=1
        Labeler worker processes; topics get ``max(workers, 2)`` partitions.
    crash_after : int, optional
        Kill one worker with SIGKILL once this many label records have appeared, then
        start a replacement.
    malformed_rate : float, default=0.02
        Share of events replaced by malformed inputs (:data:`MALFORMED_KINDS` in turn).
    rate : float, optional
        Events per second to produce at; full speed when None.
    timeout : float, default=120
        Seconds from the first produce to wait for every event to be accounted for.
    seed : int, default=0
        Seed of the generated events and of where the malformed ones go.
    backlog : bool, default=False
        Produce every event before the workers start, and measure throughput from the
        first output to the last: the rate a worker sustains on a backlog, not bounded by
        the producer (kafka-python produces about as fast as a worker consumes here, on
        the same two cores). Latencies are then queueing times and are not reported.
    drift : bool, default=True
        The workers' ``drift_enabled`` (their DriftWatch; on by default, as in
        production); False measures the labeler without it.

    Returns
    -------
    dict
        JSON-able report (see the module docstring).
    """
    if n_events < 1:
        raise ValueError(f"n_events must be >= 1, got {n_events}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if crash_after is not None and crash_after < 1:
        raise ValueError(f"crash_after must be >= 1, got {crash_after}")
    if not 0.0 <= malformed_rate < 1.0:
        raise ValueError(f"malformed_rate must be in [0, 1), got {malformed_rate}")
    if rate is not None and rate <= 0:
        raise ValueError(f"rate must be > 0, got {rate}")
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0, got {timeout}")

    ids, keys, values, bad = _make_inputs(n_events, malformed_rate, seed)
    spec = bench_lfset_spec("mixed")
    partitions = max(workers, 2)
    with tempfile.TemporaryDirectory(prefix="streamlabel-bench-stream-") as tmp:
        tmpdir = Path(tmp)
        broker = None
        if bootstrap is None:
            broker = _start_local_kafka(tmpdir / "kafka")
            bootstrap = str(broker.bootstrap)
        try:
            return _run(
                bootstrap,
                tmpdir,
                spec,
                ids,
                keys,
                values,
                bad,
                partitions=partitions,
                n_workers=workers,
                crash_after=crash_after,
                malformed_rate=malformed_rate,
                rate=rate,
                timeout=timeout,
                seed=seed,
                local_broker=broker is not None,
                backlog=backlog,
                drift=drift,
            )
        finally:
            if broker is not None:
                broker.down()


def _run(
    bootstrap: str,
    tmpdir: Path,
    spec: dict[str, Any],
    ids: list[str],
    keys: list[bytes],
    values: list[bytes],
    bad: dict[str, str],
    *,
    partitions: int,
    n_workers: int,
    crash_after: int | None,
    malformed_rate: float,
    rate: float | None,
    timeout: float,
    seed: int,
    local_broker: bool,
    backlog: bool = False,
    drift: bool = True,
) -> dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:10]}."
    lfset_file = tmpdir / "lfset.json"
    lfset_file.write_text(json.dumps(spec), encoding="utf-8")
    base = StreamSettings(
        brokers=[bootstrap],
        topic_prefix=prefix,
        partitions=partitions,
        lfset=spec["name"],
        lfset_file=lfset_file,
        drift_enabled=drift,
    )
    ensure_topics(base)

    started: list[WorkerProcess] = []
    counter = [0]

    def start_worker(worker_id: str) -> WorkerProcess:
        counter[0] += 1
        k = counter[0]
        # Each worker its own stable id (a replacement takes the id of the one it replaces,
        # so it restores that worker's label-model statistics).
        settings = base.model_copy(
            update={"datadir": tmpdir / f"faust-{k}", "worker_id": worker_id}
        )
        w = WorkerProcess(settings, tmpdir / f"worker-{k}.log")
        started.append(w)
        return w

    reader: _OutputReader | None = None
    producer: _EventProducer | None = None
    crash: dict[str, Any] | None = None
    try:
        if backlog:
            producer = _EventProducer(
                base.bootstrap_servers, base.topic("events"), keys, values, rate
            )
            producer.start()
            if not producer.done.wait(timeout):
                raise RuntimeError("producing the backlog timed out")
        active = [start_worker(f"w{i + 1}") for i in range(n_workers)]
        ready_s = [round(w.wait_ready(_READY_TIMEOUT), 2) for w in active]
        # Wait (bounded) until every worker holds partitions: the group has settled.
        settle_deadline = time.monotonic() + 30.0
        while time.monotonic() < settle_deadline and not all(
            (w.assigned() or 0) > 0 for w in active
        ):
            time.sleep(0.05)
        assigned = [w.assigned() for w in active]

        reader = _OutputReader(
            base.bootstrap_servers,
            {base.topic("labels"): "labels", base.topic("dlq"): "dlq"},
            partitions,
        )
        reader.start()
        if producer is None:
            producer = _EventProducer(
                base.bootstrap_servers, base.topic("events"), keys, values, rate
            )
            producer.start()

        deadline = time.monotonic() + timeout
        labeled: set[str] = set()
        dlq_keys: set[bytes] = set()
        n_lab = n_dlq = 0
        where_key: dict[bytes, str] | None = None
        events_topic = base.topic("events")
        good_ids = set(ids) - set(bad)
        complete = False
        while time.monotonic() < deadline:
            if producer.error is not None:
                raise RuntimeError(f"producing events failed: {producer.error!r}")
            if reader.error is not None:
                raise RuntimeError(f"reading outputs failed: {reader.error!r}")
            new_lab = reader.labels[n_lab : len(reader.labels)]
            n_lab += len(new_lab)
            labeled.update(k.decode() for k, _ in new_lab)
            new_dlq = reader.dlq[n_dlq : len(reader.dlq)]
            n_dlq += len(new_dlq)
            dlq_keys.update(k for k, _ in new_dlq)

            if crash_after is not None and crash is None and n_lab >= crash_after:
                victim = active[0]
                t_kill = time.monotonic()
                victim.kill()
                replacement = start_worker("w1")
                active[0] = replacement
                crash = {
                    "after_labels": crash_after,
                    "labels_seen_at_kill": n_lab,
                    "killed_pid": victim.proc.pid,
                    "replacement_pid": replacement.proc.pid,
                    "kill_time_ms": int(time.time() * 1000),
                    "_t_kill": t_kill,
                }
            if crash is not None and "replacement_ready_s" not in crash:
                if active[0].is_ready():
                    crash["replacement_ready_s"] = round(time.monotonic() - crash["_t_kill"], 2)
                elif active[0].proc.poll() is not None:
                    raise RuntimeError(f"replacement worker exited:\n{active[0].text()[-3000:]}")

            if producer.done.is_set() and where_key is None and producer.error is None:
                where_key = {
                    f"{events_topic}:{p}:{o}".encode(): ident
                    for (p, o), ident in zip(producer.where, ids, strict=True)
                }
            replacement_pending = crash is not None and "replacement_ready_s" not in crash
            if where_key is not None and not replacement_pending and good_ids <= labeled:
                dlq_ids = {where_key[k] for k in dlq_keys if k in where_key}
                if labeled | dlq_ids >= set(ids):
                    complete = True
                    break
            time.sleep(0.05)
        timed_out = not complete
        producer.stop_event.set()
        producer.done.wait(timeout=30)
        time.sleep(0.2)  # a last poll's worth of output
        reader.stop_event.set()
        reader.join(timeout=10)
    finally:
        if producer is not None:
            producer.stop_event.set()
        if reader is not None:
            reader.stop_event.set()
        exit_codes = _stop_all(started)

    assert producer is not None and reader is not None  # set, or the try block raised
    if producer.error is not None:
        raise RuntimeError(f"producing events failed: {producer.error!r}")
    tracebacks = sum(w.text().count("Traceback") for w in started)
    where_key = {
        f"{events_topic}:{p}:{o}".encode(): ident
        for (p, o), ident in zip(producer.where, ids, strict=True)
    }
    sent_ms = dict(zip(ids, producer.sent_ms, strict=False))
    produced = len(producer.where)

    first_label_ms: dict[str, int] = {}
    label_count: dict[str, int] = {}
    first_processed_ms: dict[str, float] = {}
    for (key, _), at in zip(reader.labels, reader.processed_ms, strict=True):
        first_processed_ms.setdefault(key.decode(), at)
    for key, ts in reader.labels:
        ident = key.decode()
        label_count[ident] = label_count.get(ident, 0) + 1
        if ident not in first_label_ms:
            first_label_ms[ident] = ts
    first_dlq_ms: dict[str, int] = {}
    dlq_count: dict[str, int] = {}
    unknown_dlq = 0
    for key, ts in reader.dlq:
        ident_or_none = where_key.get(key)
        if ident_or_none is None:
            unknown_dlq += 1
            continue
        dlq_count[ident_or_none] = dlq_count.get(ident_or_none, 0) + 1
        first_dlq_ms.setdefault(ident_or_none, ts)

    all_ids = set(ids[:produced])
    accounted = set(first_label_ms) | set(first_dlq_ms)
    lost = sorted(all_ids - accounted)
    timed = [i for i in first_label_ms if i in sent_ms]
    latencies = np.array([first_label_ms[i] - sent_ms[i] for i in timed], dtype=float)
    # Produced -> batch processed by the worker, and processed -> label record written.
    to_processed = np.array([first_processed_ms[i] - sent_ms[i] for i in timed], dtype=float)
    to_label = np.array([first_label_ms[i] - first_processed_ms[i] for i in timed], dtype=float)
    outputs_ms = [*first_label_ms.values(), *first_dlq_ms.values()]
    first_ms = min(producer.sent_ms) if producer.sent_ms else None
    if backlog:
        latencies = to_processed = to_label = np.zeros(0)
        first_ms = min(outputs_ms) if outputs_ms else None
    last_ms = max(outputs_ms) if outputs_ms else None
    elapsed = (last_ms - first_ms) / 1000 if first_ms is not None and last_ms is not None else None
    throughput = len(accounted) / elapsed if elapsed else None

    plain = _plain_ceiling(
        base.bootstrap_servers,
        base.topic("plain"),
        partitions,
        keys[:produced],
        values[:produced],
        timeout,
    )
    plain_consume = plain["consume_msgs_per_s"]
    if crash is not None:
        crash.pop("_t_kill", None)

    def pct(q: float, values: np.ndarray = latencies) -> float | None:
        return round(float(np.percentile(values, q)), 1) if values.size else None

    return {
        "bench": "stream",
        "bootstrap": bootstrap,
        "local_broker": local_broker,
        "topic_prefix": prefix,
        "partitions": partitions,
        "workers": n_workers,
        "lfset": {"name": spec["name"], "version": spec["version"], "lfs": len(spec["lfs"])},
        "batch_size": base.batch_size,
        "batch_max_wait": base.batch_max_wait,
        "seed": seed,
        "rate": rate,
        "backlog": backlog,
        "events_reader": base.events_reader,
        # The labeler's DriftWatch (on by default) is part of what is measured.
        "drift_enabled": base.drift_enabled,
        "malformed_rate": malformed_rate,
        "worker_ready_s": ready_s,
        "worker_partitions": assigned,
        "events_in": produced,
        "malformed_in": sum(1 for i in ids[:produced] if i in bad),
        "malformed_by_kind": {
            k: sum(1 for i in ids[:produced] if bad.get(i) == k) for k in MALFORMED_KINDS
        },
        "labels_out": len(reader.labels),
        "distinct_labeled": len(first_label_ms),
        "dlq_records": len(reader.dlq),
        "distinct_dlq": len(first_dlq_ms),
        "dlq_unknown_source": unknown_dlq,
        "good_sent_to_dlq": sum(1 for i in first_dlq_ms if i not in bad),
        "malformed_labeled": sum(1 for i in first_label_ms if i in bad),
        "lost": len(lost),
        "lost_sample": lost[:10],
        "duplicates": sum(1 for c in label_count.values() if c > 1),
        "dlq_duplicates": sum(1 for c in dlq_count.values() if c > 1),
        "timed_out": timed_out,
        "produce_seconds": (
            round((max(producer.sent_ms) - min(producer.sent_ms)) / 1000, 3)
            if producer.sent_ms
            else None
        ),
        "seconds": round(elapsed, 3) if elapsed is not None else None,
        "throughput_events_per_s": round(throughput, 1) if throughput else None,
        "latency_ms": {
            "p50": pct(50),
            "p90": pct(90),
            "p99": pct(99),
            "max": round(float(latencies.max()), 1) if latencies.size else None,
        },
        "latency_split_ms": {
            "produced_to_processed": {"p50": pct(50, to_processed), "p99": pct(99, to_processed)},
            "processed_to_label": {"p50": pct(50, to_label), "p99": pct(99, to_label)},
        },
        "crash": crash,
        "worker_exit_codes": exit_codes,
        "worker_tracebacks": tracebacks,
        "plain": plain,
        "ratio_to_plain_consume": (
            round(throughput / plain_consume, 3) if throughput and plain_consume else None
        ),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
