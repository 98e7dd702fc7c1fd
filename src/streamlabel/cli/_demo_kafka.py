"""``streamlabel demo --kafka``: the same drifting fraud stream through the Kafka services.

Against a running broker: the topics (under a fresh prefix) are created, LF set v1 is
pushed to ``lfsets`` with ``streamlabel lf push``, and the three services run as
subprocesses — a labeler worker (``streamlabel.stream._worker``), the trainer
(``streamlabel.stream._trainer``) and the predictor (``streamlabel predict``). The
generated events (with the embedded demo's malformed inputs) are produced to ``events``
in order; v2, v3 and v4 are pushed at the scripted points; one event in five gets its true
class on ``feedback`` 1,000 events later (late gold). ``labels``, ``dlq``,
``predictions``, ``drift`` and ``models`` are read back until every event is labeled or
sent to the DLQ (bounded), the services are stopped with SIGTERM, and the same summary
as the embedded demo is computed from what came out. The LF accuracy *estimates* live in
the labeler's label model and are not on any topic: the summary shows the true accuracies.
"""

from __future__ import annotations

import collections
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_kafka_demo"]

_READY_TIMEOUT = 90.0
_CLI = "import sys; from streamlabel.cli import main; sys.exit(main())"
_OUTPUTS = ("labels", "dlq", "predictions", "drift", "models")
_GOLD_LAG = 1_000


class _Outputs(threading.Thread):
    """Read the output topics from their beginning into lists of (topic name, value)."""

    def __init__(self, settings: Any) -> None:
        super().__init__(name="streamlabel-demo-outputs", daemon=True)
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            enable_auto_commit=False,
            fetch_max_wait_ms=100,
        )
        self.names = {settings.topic(t): t for t in _OUTPUTS}
        tps = [TopicPartition(t, p) for t in self.names for p in range(settings.partitions)]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)
        self.records: dict[str, list[bytes]] = {t: [] for t in _OUTPUTS}
        # Per ``models`` record: label records read before it (where in the stream it came).
        self.models_at: list[int] = []
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                for batch in self.consumer.poll(timeout_ms=100).values():
                    for rec in batch:
                        name = self.names[rec.topic]
                        if name == "models":
                            self.models_at.append(len(self.records["labels"]))
                        self.records[name].append(rec.value)
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            self.consumer.close()


class _View:
    """The status snapshot and the metrics of a Kafka demo, rebuilt from the output topics.

    :meth:`update` reads the records the output reader has collected since the last call;
    the services' own counters (the label model's estimates, LF faults) are not on any
    topic, so they are missing here: what a consumer of the topics can see is shown.
    """

    def __init__(self, stream: Any, y: Any, index: dict[str, int], partitions: int) -> None:
        from streamlabel.datasets import fraud_lfsets
        from streamlabel.metrics import Metrics

        self.stream, self.y, self.index = stream, y, index
        self.n = len(stream)
        self.lfsets = {s.version: s for s in fraud_lfsets()}
        self.metrics = Metrics(label_names=list(stream.label_names))
        self.lock = threading.Lock()
        self.read = dict.fromkeys(_OUTPUTS, 0)
        self.labeled: set[str] = set()
        self.predicted: set[str] = set()
        self.dlq_sources: set[str] = set()
        self.dlq: dict[str, int] = {}
        self.drift: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.models: list[dict[str, Any]] = []
        self.pushes: list[dict[str, Any]] = []
        self.version = "1"
        self.produced = [0] * partitions
        self.position = [0] * partitions
        self.window: collections.deque[tuple[int, dict[str, int]]] = collections.deque(
            maxlen=max(200, self.n // 25)
        )
        self.series: dict[str, list[list[float | None]]] = {
            "throughput": [],
            "label_accuracy": [],
            "serving_accuracy": [],
            "lag": [],
        }
        self.lf_history: dict[str, list[list[float | None]]] = {}
        self._since: list[tuple[int, int]] = []  # (label, truth) since the last point
        self._served_since: list[tuple[int, int]] = []
        self._last = (time.monotonic(), 0)
        self._every = max(250, self.n // 150)
        self.started = time.monotonic()
        self.state = "starting"

    def partition_of(self, key: str) -> int:
        """Partition of ``key`` on ``events`` (CRC-32, as :class:`~streamlabel.demo.EventLog`)."""
        return zlib.crc32(key.encode("utf-8")) % len(self.produced)

    def update(self, outputs: _Outputs) -> None:
        """Take in the records read since the last call (thread-safe)."""
        from streamlabel.drift import RetrainRequest
        from streamlabel.models import decode_model_record
        from streamlabel.pipeline import parse_drift_record

        m = self.metrics
        with self.lock:
            new = {t: outputs.records[t][self.read[t] :] for t in _OUTPUTS}
            models_at = outputs.models_at[self.read["models"] :]
            for t in _OUTPUTS:
                self.read[t] += len(new[t])
            by_version: dict[str, list[Any]] = {}
            for v in new["labels"]:
                rec = json.loads(v)
                i = self.index.get(rec["event_id"])
                src = rec.get("source") or {}
                p = src.get("partition")
                if isinstance(p, int) and 0 <= p < len(self.position):
                    self.position[p] = max(self.position[p], int(src["offset"]) + 1)
                if i is None or rec["event_id"] in self.labeled:
                    continue  # at least once: a redelivered label counts once
                self.labeled.add(rec["event_id"])
                self._since.append((int(rec["label"]), int(self.y[i])))
                self.window.append((i, rec["votes"]))
                by_version.setdefault(rec["lfset_version"], []).append(_Rec(rec))
            for version, recs in by_version.items():
                lfset = self.lfsets.get(version)
                m.observe_labels(recs, lfset.ids if lfset is not None else [])
            n_labels = sum(len(r) for r in by_version.values())
            m.labels_emitted.inc(n_labels)
            n_dlq = 0
            for v in new["dlq"]:
                d = json.loads(v)
                where = json.dumps(d.get("source"), sort_keys=True)
                if where in self.dlq_sources:
                    continue  # the predictor's copy of the labeler's DLQ record
                self.dlq_sources.add(where)
                n_dlq += 1
                self.dlq[d["reason"]] = self.dlq.get(d["reason"], 0) + 1
                m.dlq.labels(d["reason"]).inc()
                src = d.get("source") or {}
                p = src.get("partition")
                if isinstance(p, int) and 0 <= p < len(self.position):
                    self.position[p] = max(self.position[p], int(src["offset"]) + 1)
            m.events_processed.inc(n_labels + n_dlq)
            for v in new["predictions"]:
                rec = json.loads(v)
                i = self.index.get(rec["event_id"])
                if i is not None and rec["event_id"] not in self.predicted:
                    self.predicted.add(rec["event_id"])
                    self._served_since.append((int(rec["label"]), int(self.y[i])))
            m.predictions.labels("stream").inc(len(new["predictions"]))
            for v in new["drift"]:
                try:
                    item = parse_drift_record(v)
                except ValueError:
                    continue
                if isinstance(item, RetrainRequest):
                    m.retrain_requests.inc()
                    self.requests.append({"index": item.index, "reason": item.reason})
                else:
                    m.observe_drift([item])
                    self.drift.append(
                        {"index": item.index, "monitor": item.monitor, "kind": item.kind}
                    )
            # The reader appends to models_at first: it may hold one more than new["models"].
            for v, at in zip(new["models"], models_at, strict=False):
                try:
                    mr = decode_model_record(v)
                except ValueError:
                    continue
                m.set_served_model(mr.name, mr.version.version)
                self.models.append(
                    {
                        "version": mr.version.version,
                        "at": at,
                        "trigger": mr.entry.reason.split(":", 1)[0],
                        "reason": mr.entry.reason,
                        "promoted": True,
                        "served": True,
                        "accuracy": mr.version.metrics.get("accuracy"),
                        "auc": mr.version.metrics.get("auc"),
                        "n_train": mr.version.lineage.training_window,
                    }
                )
            for p, (end, pos) in enumerate(zip(self.produced, self.position, strict=True)):
                m.consumer_lag.labels("events", str(p)).set(max(0, end - pos))
            self._sample()

    def _sample(self) -> None:
        done = len(self.labeled)
        if len(self._since) < self._every and done < self.n:
            return
        x = float(done)
        now = time.monotonic()
        t, d = self._last
        if now > t and done > d:
            self.series["throughput"].append([x, (done - d) / (now - t)])
        self._last = (now, done)
        if self._since:
            acc = sum(a == b for a, b in self._since) / len(self._since)
            self.series["label_accuracy"].append([x, acc])
        if self._served_since:
            acc = sum(a == b for a, b in self._served_since) / len(self._served_since)
            self.series["serving_accuracy"].append([x, acc])
        self._since, self._served_since = [], []
        self.series["lag"].append([x, float(sum(self.produced) - sum(self.position))])
        cover, _ = self._window_stats()
        for lf in self.lfsets[self.version].ids:
            self.lf_history.setdefault(lf, []).append([x, None, cover.get(lf, 0.0)])
        for series in (*self.series.values(), *self.lf_history.values()):
            if len(series) > 150:
                series[:] = series[::2]

    def _window_stats(self) -> tuple[dict[str, float], dict[str, float]]:
        votes: dict[str, int] = {}
        right: dict[str, int] = {}
        for i, vs in self.window:
            for lf, v in vs.items():
                votes[lf] = votes.get(lf, 0) + 1
                right[lf] = right.get(lf, 0) + int(v == self.y[i])
        size = max(1, len(self.window))
        return (
            {lf: c / size for lf, c in votes.items()},
            {lf: right[lf] / c for lf, c in votes.items()},
        )

    def snapshot(self) -> dict[str, Any]:
        """Return the status page's input (the embedded demo's keys, where known)."""
        with self.lock:
            cover, true = self._window_stats()
            lfs = [
                {
                    "id": lf,
                    "estimated_accuracy": None,
                    "true_accuracy": true.get(lf),
                    "coverage": cover.get(lf, 0.0),
                    "faults": 0,
                    "history": [list(p) for p in self.lf_history.get(lf, [])],
                }
                for lf in self.lfsets[self.version].ids
            ]
            return {
                "title": "streamlabel demo (Kafka)",
                "state": self.state,
                "stream": {
                    "name": "fraud",
                    "events_total": self.n,
                    "events_done": len(self.labeled),
                    "elapsed_s": time.monotonic() - self.started,
                    "phases": [
                        {"name": p.name, "start": p.start, "stop": p.stop}
                        for p in self.stream.phases
                    ],
                },
                "lfset": {"name": "fraud-stream", "version": self.version},
                "lfs": lfs,
                "drift": [dict(d) for d in self.drift],
                "pushes": [dict(p) for p in self.pushes],
                "requests": [dict(r) for r in self.requests],
                "models": [dict(x) for x in self.models],
                "serving": {
                    "model": "fraud-demo",
                    "version": self.models[-1]["version"] if self.models else None,
                },
                "series": {k: [list(p) for p in v] for k, v in self.series.items()},
                "counters": {
                    "labels": len(self.labeled),
                    "dlq": dict(self.dlq),
                    "drifts": sum(1 for d in self.drift if d["kind"] == "drift"),
                    "retrain_requests": len(self.requests),
                    "swaps": len(self.models),
                    "predictions": len(self.predicted),
                    "backlog": sum(self.produced) - sum(self.position),
                },
                "label_names": list(self.stream.label_names),
            }


class _Rec:
    """A label record's ``votes`` and ``confidence``, what ``Metrics.observe_labels`` reads."""

    __slots__ = ("confidence", "votes")

    def __init__(self, rec: dict[str, Any]) -> None:
        self.votes = rec["votes"]
        self.confidence = rec["confidence"]


def _push(settings: Any, version: int) -> dict[str, Any]:
    """Publish the shipped ``fraud_v{version}.yaml`` with ``streamlabel lf push``."""
    from streamlabel.cli._main import build_parser

    spec = resources.files("streamlabel.datasets") / "lfsets" / f"fraud_v{version}.yaml"
    args = build_parser().parse_args(
        [
            "lf",
            "push",
            str(spec),
            "--set",
            "fraud-stream",
            "--brokers",
            ",".join(settings.bootstrap_servers),
            "--prefix",
            settings.topic_prefix,
            "--reason",
            f"demo: the analyst's LF set v{version} for the scripted drift",
        ]
    )
    result: dict[str, Any] = args.handler(args)
    return result


def _settings(n: int, brokers: str | None, prefix: str | None, tmp: Path) -> Any:
    from streamlabel.stream import StreamSettings

    env = StreamSettings.from_env()
    per_phase = max(250, n // 5)
    return env.model_copy(
        update={
            "brokers": [b.strip() for b in brokers.split(",")] if brokers else env.brokers,
            "topic_prefix": prefix if prefix is not None else f"demo{uuid.uuid4().hex[:8]}.",
            "partitions": 3,
            "batch_size": 250,
            "batch_max_wait": 0.1,
            "datadir": tmp / "faust",
            "lfset": "fraud-stream",
            "lfset_file": None,
            "worker_id": "demo-1",
            "half_life": float(per_phase),
            "drift_min_samples": max(50, n // 100),
            "drift_window": per_phase,
            "drift_cooldown": per_phase // 2,
            "model_name": "fraud-demo",
            "registry_dir": tmp / "registry",
            "train_window": 6_000,
            "train_every": per_phase,
            "train_cooldown": max(250, per_phase // 4),
            "train_min_events": min(500, max(50, n // 50)),
            "train_min_holdout": min(100, max(20, n // 200)),
            "train_min_gold": min(50, max(10, n // 400)),
            "promote_margin": 0.002,
            "predictor_model": "fraud-demo",
            "predictor_port": 0,
            "feature_text": ["descriptor"],
            "feature_numeric": ["amount", "hour", "tx_last_hour", "tx_last_day"],
            "feature_categorical": ["merchant_category", "country", "device"],
            "feature_log": ["amount", "tx_last_hour", "tx_last_day"],
            "feature_bits": 12,
        }
    )


def run_kafka_demo(
    n_events: int = 30_000,
    seed: int = 0,
    *,
    brokers: str | None = None,
    prefix: str | None = None,
    speed: float | None = None,
    port: int | None = 0,
    linger: float = 0.0,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Run the demo through the Kafka services; return the embedded demo's report shape.

    ``speed`` paces the producer (events per second; default 1,000, so that training,
    swaps and predictions interleave with the stream as they would in production).
    ``port``: the status page, ``/status.json`` and ``/metrics`` on 127.0.0.1 (0: a free
    port; ``None``: no server), rebuilt from the output topics; ``linger``: seconds to keep
    serving after the run. ``timeout`` bounds the wait for the outputs (seconds); the
    report says whether every event was labeled or sent to the DLQ, and predicted
    (``complete``).
    """
    from kafka import KafkaProducer

    from streamlabel.datasets import make_fraud_stream
    from streamlabel.demo import NEW_MARKET, PUSHES, malformed_input
    from streamlabel.pipeline import FeedbackRecord
    from streamlabel.status import StatusServer
    from streamlabel.stream import ensure_topics
    from streamlabel.stream._process import WorkerProcess, worker_env

    t_start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="streamlabel-demo-kafka-"))
    settings = _settings(n_events, brokers, prefix, tmp)
    stream = make_fraud_stream(n_events, seed=seed)
    n = len(stream)
    y = np.asarray(stream.y, dtype=np.int64)
    rng = np.random.default_rng([seed, 5])  # the embedded demo's injections
    for j in np.flatnonzero(rng.random(n) < 1.0 / 300).tolist():
        stream.events[j]["payload"]["country"] = NEW_MARKET
    bad_after = set(np.flatnonzero(rng.random(n) < 1.0 / 400).tolist())
    missing = np.random.default_rng([seed, 6]).random(n) < 1.0 / 500
    for j in np.flatnonzero(missing).tolist():
        stream.events[j]["payload"]["amount"] = None
    index = {e["id"]: i for i, e in enumerate(stream.events)}
    push_at = {
        stream.phase(name).start + round(0.02 * n): k + 1 for name, k in PUSHES
    }  # event index -> shipped version number

    view = _View(stream, y, index, settings.partitions)
    server = None
    refresher: threading.Thread | None = None
    stop = threading.Event()
    procs: list[WorkerProcess] = []
    predictor: subprocess.Popen[bytes] | None = None
    outputs: _Outputs | None = None
    producer = None
    pushes: list[dict[str, Any]] = []
    n_bad = 0
    complete = False
    try:
        print(
            f"Kafka {','.join(settings.bootstrap_servers)}, topic prefix {settings.topic_prefix!r}",
            file=sys.stderr,
            flush=True,
        )
        if port is not None:
            server = StatusServer(view.snapshot, view.metrics.render, port=port).start()
            print(
                f"status page {server.url}  metrics {server.url}metrics  "
                f"snapshot {server.url}status.json",
                file=sys.stderr,
                flush=True,
            )
        ensure_topics(settings)
        _push(settings, 1)
        labeler = WorkerProcess(settings, tmp / "labeler.log")
        procs.append(labeler)
        trainer = WorkerProcess(settings, tmp / "trainer.log", module="streamlabel.stream._trainer")
        procs.append(trainer)
        log = tmp / "predictor.log"
        with log.open("wb") as out:
            predictor = subprocess.Popen(
                [sys.executable, "-c", _CLI, "predict", "--model", "fraud-demo"],
                env={**worker_env(settings), "STREAMLABEL_PREDICTOR_MODEL_WAIT": "0"},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        labeler.wait_log(r"streamlabel worker ready", _READY_TIMEOUT)
        trainer.wait_log(r"streamlabel trainer ready", _READY_TIMEOUT)
        print("services ready: labeler, trainer, predictor", file=sys.stderr, flush=True)
        outputs = _Outputs(settings)
        outputs.start()
        reader = outputs

        def refresh() -> None:
            while not stop.wait(0.5):
                view.update(reader)

        refresher = threading.Thread(target=refresh, name="streamlabel-demo-view", daemon=True)
        refresher.start()
        view.state = "running"
        producer = KafkaProducer(
            bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5
        )
        events_topic, feedback_topic = settings.topic("events"), settings.topic("feedback")
        rate = speed or 1_000.0
        t0 = time.monotonic()
        for i, e in enumerate(stream.events):
            ahead = t0 + i / rate - time.monotonic()
            if ahead > 0.001:
                time.sleep(ahead)
            if i in push_at:
                producer.flush(timeout=60)
                result = _push(settings, push_at[i])
                pushes.append(
                    {
                        "index": i,
                        "at": i,
                        "lfset_version": str(push_at[i]),
                        "added": result["diff"]["added"],
                        "removed": result["diff"]["removed"],
                    }
                )
                with view.lock:
                    view.pushes.append(dict(pushes[-1]))
                    view.version = str(push_at[i])
            # The partition is chosen here (CRC-32 of the key, as the embedded log does) so
            # that the view knows each partition's end offset: the consumer lag.
            part = view.partition_of(e["entity"])
            producer.send(
                events_topic,
                key=e["entity"].encode(),
                value=json.dumps(e).encode(),
                partition=part,
            )
            view.produced[part] += 1
            if i in bad_after:
                part = view.partition_of("bad")
                producer.send(
                    events_topic, key=b"bad", value=malformed_input(rng, i), partition=part
                )
                view.produced[part] += 1
                n_bad += 1
            g = i - _GOLD_LAG
            if g >= 0 and g % 5 == 0:
                gold = FeedbackRecord(stream.events[g]["id"], int(y[g]), "chargeback", time.time())
                producer.send(
                    feedback_topic,
                    key=gold.event_id.encode(),
                    value=json.dumps(gold.to_dict()).encode(),
                )
        producer.flush(timeout=60)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if outputs.error is not None:
                raise RuntimeError(f"reading the outputs failed: {outputs.error!r}")
            for p in procs:
                if p.proc.poll() is not None:
                    raise RuntimeError(f"a service exited:\n{p.text()[-3000:]}")
            records = outputs.records
            labeled = {json.loads(v)["event_id"] for v in list(records["labels"])}
            # The predictor reads events only once a model serves, then from the start:
            # done when a model was published and every event was predicted.
            predicted = bool(records["models"]) and len(records["predictions"]) >= n
            if len(labeled) >= n and len(records["dlq"]) >= 2 * n_bad and predicted:
                complete = True
                break
            time.sleep(0.5)
        stop.set()
        if refresher is not None:
            refresher.join(timeout=10)
        view.update(outputs)
        view.state = "finished" if complete else "timed out"
        if server is not None and linger > 0:
            print(f"serving for {linger:g} s more (Ctrl-C to stop)", file=sys.stderr)
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait(linger)
    finally:
        stop.set()
        if server is not None:
            server.stop()
        if producer is not None:
            producer.close(timeout=10)
        if predictor is not None and predictor.poll() is None:
            predictor.terminate()
            try:
                predictor.wait(timeout=20)
            except subprocess.TimeoutExpired:
                predictor.kill()
        for p in procs:
            with contextlib.suppress(Exception):
                p.stop(timeout=20)
            p.kill()
        if outputs is not None:
            outputs.stop_event.set()
            outputs.join(timeout=10)
    try:
        return _report(stream, y, index, outputs, pushes, settings, n_bad, complete, t_start, seed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _report(
    stream: Any,
    y: Any,
    index: dict[str, int],
    outputs: _Outputs | None,
    pushes: list[dict[str, Any]],
    settings: Any,
    n_bad: int,
    complete: bool,
    t_start: float,
    seed: int,
) -> dict[str, Any]:
    from streamlabel.drift import RetrainRequest
    from streamlabel.models import decode_model_record
    from streamlabel.pipeline import parse_drift_record

    assert outputs is not None
    n = len(stream)
    label = np.full(n, -1, dtype=np.int64)
    votes: list[dict[str, int]] = [{} for _ in range(n)]
    for v in outputs.records["labels"]:
        rec = json.loads(v)
        i = index.get(rec["event_id"])
        if i is not None:
            label[i] = rec["label"]
            votes[i] = rec["votes"]
    served = np.full(n, -1, dtype=np.int64)
    for v in outputs.records["predictions"]:
        rec = json.loads(v)
        i = index.get(rec["event_id"])
        if i is not None:
            served[i] = rec["label"]
    phases = []
    for ph in stream.phases:
        seg = slice(ph.start, ph.stop)
        got = label[seg] >= 0
        s = served[seg] >= 0
        truth: dict[str, dict[str, Any]] = {}
        for i in range(ph.start, ph.stop):
            for lf, vote in votes[i].items():
                t = truth.setdefault(lf, {"n": 0, "right": 0})
                t["n"] += 1
                t["right"] += int(vote == y[i])
        phases.append(
            {
                "phase": ph.name,
                "start": ph.start,
                "stop": ph.stop,
                "label_accuracy": float((label[seg][got] == y[seg][got]).mean())
                if got.any()
                else None,
                "labeled": int(got.sum()),
                "serving_accuracy": float((served[seg][s] == y[seg][s]).mean())
                if s.any()
                else None,
                "served": int(s.sum()),
                "lf_accuracy": {
                    lf: {"estimated": None, "true": t["right"] / t["n"]} for lf, t in truth.items()
                },
            }
        )
    drift = []
    requests = []
    for v in outputs.records["drift"]:
        with contextlib.suppress(ValueError):
            item = parse_drift_record(v)
            if isinstance(item, RetrainRequest):
                requests.append({"index": item.index, "reason": item.reason})
            elif item.kind == "drift":
                drift.append({"index": item.index, "monitor": item.monitor})
    models = []
    for v, at in zip(outputs.records["models"], outputs.models_at, strict=True):
        with contextlib.suppress(ValueError):
            rec = decode_model_record(v)
            models.append(
                {
                    "version": rec.version.version,
                    "at": at,
                    "trigger": rec.entry.reason.split(":", 1)[0],
                    "reason": rec.entry.reason,
                    "served": True,
                    "accuracy": rec.version.metrics.get("accuracy"),
                }
            )
    # The labeler and the predictor both send a bad event to the DLQ: count each source once.
    dlq: dict[str, int] = {}
    seen: set[str] = set()
    for v in outputs.records["dlq"]:
        with contextlib.suppress(ValueError, KeyError):
            d = json.loads(v)
            where = json.dumps(d["source"], sort_keys=True)
            if where not in seen:
                seen.add(where)
                dlq[d["reason"]] = dlq.get(d["reason"], 0) + 1
    return {
        "demo": "kafka",
        "brokers": settings.bootstrap_servers,
        "topic_prefix": settings.topic_prefix,
        "complete": complete,
        "events": int((label >= 0).sum()),
        "seed": seed,
        "phases": phases,
        "drift": drift,
        "pushes": pushes,
        "retrain_requests": requests,
        "models": models,
        "dlq": sum(dlq.values()),
        "dlq_injected": n_bad,
        "dlq_by_reason": dlq,
        "lf_faults": {},
        "elapsed_s": time.monotonic() - t_start,
    }
