"""The predictor service on the session's Kafka broker (in-process, its own event loop).

(a) events wait for the first model; every event is predicted by the version that
served it, v1 then v2 published mid-stream (no event lost or failed, the switch is
monotone per partition), a record with a bad hash is refused while v2 serves on;
(b) HTTP requests from 4 client threads during repeated swaps: zero failures, every
response scored wholly by the version it names.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streamlabel.datasets import make_fraud_stream
from streamlabel.models import (
    EndModel,
    Lineage,
    ModelRecord,
    ModelVersion,
    PayloadFeaturizer,
    RegistryEntry,
    artifact_sha256,
    dumps_model_artifact,
    encode_model_record,
)
from streamlabel.stream import PredictorService, StreamSettings, ensure_topics
from streamlabel.stream._process import worker_env

pytestmark = pytest.mark.kafka

PARTITIONS = 2
WAIT = 45.0
STREAM = make_fraud_stream(1600, seed=5)
EVENTS: list[dict[str, Any]] = STREAM.events


def _featurizer() -> PayloadFeaturizer:
    return PayloadFeaturizer(
        text_fields=["descriptor"],
        numeric_fields=["amount", "hour", "tx_last_hour", "tx_last_day"],
        categorical_fields=["merchant_category", "country", "device"],
        log_fields=["amount", "tx_last_hour", "tx_last_day"],
        n_features=2**10,
    )


@pytest.fixture(scope="module")
def models() -> dict[str, EndModel]:
    """Two different models of the same data (v1, v2); v3 is v1's weights again."""
    payloads, y = STREAM.payloads()[:600], STREAM.y[:600]
    m1 = EndModel(_featurizer()).fit(payloads, y)
    m2 = EndModel(_featurizer(), C=0.02).fit(payloads, y)
    return {"v1": m1, "v2": m2, "v3": m1, "v4": m2}


def model_record(
    model: EndModel,
    version: str,
    *,
    sha: str | None = None,
    action: Literal["promote", "rollback"] = "promote",
    name: str = "fraud",
) -> bytes:
    n = int(version[1:])
    v = ModelVersion(
        version,
        n,
        float(n),
        {"accuracy": 0.95},
        Lineage("fraud-stream", "4", "1.0", 600),
        None,
        f"versions/{version}/model.npz",
        artifact_sha256(model) if sha is None else sha,
        model.n_classes_,
    )
    entry = RegistryEntry(action, version, None, "trainer", float(n), "integration test")
    return encode_model_record(ModelRecord(name, v, entry, dumps_model_artifact(model)))


class Running:
    """A :class:`PredictorService` run in a thread with its own event loop."""

    def __init__(self, settings: StreamSettings) -> None:
        self.service = PredictorService(settings)
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + WAIT
        while self.service.http_address is None:
            assert self.error is None, self.error
            assert time.monotonic() < deadline, "the HTTP server did not start"
            time.sleep(0.05)
        host, port = self.service.http_address
        self.base = f"http://{host}:{port}"

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await self.service.run(self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        return http(self.base + path)

    def wait_status(self, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while True:
            assert self.error is None, self.error
            status = self.get("/model")[1]
            if done(status):
                return status
            assert time.monotonic() < deadline, status
            time.sleep(0.1)

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout=WAIT)
        assert not self.thread.is_alive(), "the predictor did not stop"


def http(url: str, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def settings(kafka_bootstrap: str, topic_prefix: str) -> StreamSettings:
    s = StreamSettings(
        brokers=[kafka_bootstrap],
        topic_prefix=topic_prefix,
        partitions=PARTITIONS,
        batch_size=50,
        batch_max_wait=0.05,
        predictor_model="fraud",
        predictor_port=0,
    )
    ensure_topics(s)
    return s


@pytest.fixture
def producer(settings: StreamSettings) -> Iterator[KafkaProducer]:
    p = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", max_request_size=4_000_000
    )
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def running(settings: StreamSettings) -> Iterator[Running]:
    r = Running(settings)
    try:
        yield r
    finally:
        r.close()


def produce(producer: KafkaProducer, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    futures = [producer.send(topic, key=k, value=v) for k, v in items]
    producer.flush(timeout=30)
    for f in futures:
        f.get(timeout=30)


def event_items(lo: int, hi: int) -> list[tuple[bytes, bytes]]:
    return [(e["entity"].encode(), json.dumps(e).encode()) for e in EVENTS[lo:hi]]


class Outputs:
    def __init__(self, settings: StreamSettings) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False
        )
        self.names = {settings.topic(n): n for n in ("predictions", "dlq")}
        tps = [TopicPartition(t, p) for t in self.names for p in range(PARTITIONS)]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)
        self.records: dict[str, list[dict[str, Any]]] = {"predictions": [], "dlq": []}

    def poll(self, seconds: float = 0.2) -> None:
        for batch in self.consumer.poll(timeout_ms=int(seconds * 1000)).values():
            for rec in batch:
                self.records[self.names[rec.topic]].append(json.loads(rec.value))

    def until(self, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT
        while not done():
            assert time.monotonic() < deadline, {k: len(v) for k, v in self.records.items()}
            self.poll()

    def ids(self) -> set[str]:
        return {p["event_id"] for p in self.records["predictions"]}


@pytest.fixture
def outputs(settings: StreamSettings) -> Iterator[Outputs]:
    o = Outputs(settings)
    try:
        yield o
    finally:
        o.consumer.close()


def test_predicts_every_event_swaps_mid_stream_and_refuses_a_corrupt_record(
    settings: StreamSettings,
    running: Running,
    producer: KafkaProducer,
    outputs: Outputs,
    models: dict[str, EndModel],
) -> None:
    models_topic, events_topic = settings.topic("models"), settings.topic("events")
    assert running.get("/healthz") == (200, {"status": "ok"})
    assert running.get("/readyz")[0] == 503
    # Events before any model are held, not predicted and not lost.
    produce(producer, events_topic, event_items(0, 100))
    produce(producer, events_topic, [(b"bad", b"{not json"), (b"bad", b'{"id": "x"}')])
    time.sleep(1.5)
    outputs.poll(0.5)
    assert outputs.records == {"predictions": [], "dlq": []}

    produce(producer, models_topic, [(b"fraud", model_record(models["v1"], "v1"))])
    outputs.until(lambda: len(outputs.ids()) == 100 and len(outputs.records["dlq"]) == 2)
    assert running.get("/readyz") == (200, {"ready": True, "version": "v1"})
    assert {p["version"] for p in outputs.records["predictions"]} == {"v1"}
    assert sorted(d["reason"] for d in outputs.records["dlq"]) == ["missing_field", "not_json"]
    assert {d["service"] for d in outputs.records["dlq"]} == {"predictor"}

    # v2 published while events keep flowing from another thread.
    def keep_producing() -> None:
        for lo in range(100, 1000, 50):
            produce(producer, events_topic, event_items(lo, lo + 50))
            time.sleep(0.1)

    flow = threading.Thread(target=keep_producing)
    flow.start()
    time.sleep(0.6)
    produce(producer, models_topic, [(b"fraud", model_record(models["v2"], "v2"))])
    flow.join(timeout=WAIT)
    running.wait_status(lambda s: s["version"] == "v2")
    produce(producer, events_topic, event_items(1000, 1100))  # surely after the swap

    # A record whose registered hash is not its artifact's: refused, v2 serves on.
    corrupt = model_record(models["v1"], "v3", sha="0" * 64)
    produce(producer, models_topic, [(b"fraud", corrupt)])
    status = running.wait_status(lambda s: s["models_refused"] == 1)
    assert status["version"] == "v2" and status["swaps"] == 2
    assert "content hash" in status["last_refusal"]["reason"]
    produce(producer, events_topic, event_items(1100, 1200))
    outputs.until(lambda: len(outputs.ids()) == 1200)
    outputs.poll(1.0)  # nothing more should come but re-deliveries

    preds = outputs.records["predictions"]
    assert len(outputs.records["dlq"]) == 2  # no valid event failed
    by_version: dict[str, list[dict[str, Any]]] = {}
    for p in preds:
        by_version.setdefault(p["version"], []).append(p)
    assert set(by_version) == {"v1", "v2"}
    assert len(by_version["v2"]) >= 200
    index = {e["id"]: i for i, e in enumerate(EVENTS)}
    for version, group in by_version.items():
        # Each prediction is exactly its version's output for its event.
        expected = models[version].predict_proba_many(
            [EVENTS[index[p["event_id"]]]["payload"] for p in group]
        )
        np.testing.assert_array_equal([p["proba"] for p in group], expected)
        assert all(p["score"] == p["proba"][1] and p["model"] == "fraud" for p in group)
    late = {e["id"] for e in EVENTS[1000:1200]}
    assert {p["version"] for p in preds if p["event_id"] in late} == {"v2"}
    # Per partition the switch is monotone: once v2 scores an offset, no later one has v1.
    for part in range(PARTITIONS):
        ordered = sorted(
            (p["source"]["offset"], p["version"]) for p in preds if p["source"]["partition"] == part
        )
        versions = [v for _, v in ordered]
        if "v2" in versions:
            assert "v1" not in versions[versions.index("v2") :]


def test_http_under_load_during_swaps_fails_no_request(
    settings: StreamSettings,
    running: Running,
    producer: KafkaProducer,
    models: dict[str, EndModel],
) -> None:
    models_topic = settings.topic("models")
    status, body = http(running.base + "/predict", json.dumps(EVENTS[0]).encode())
    assert status == 503 and body["error"] == "no_model"
    produce(producer, models_topic, [(b"fraud", model_record(models["v1"], "v1"))])
    running.wait_status(lambda s: s["ready"])

    stop = threading.Event()
    results: list[tuple[int, dict[str, Any], list[int]]] = []

    def client(seed: int) -> int:
        rng = np.random.default_rng(seed)
        n = 0
        while not stop.is_set():
            idx = [int(i) for i in rng.integers(0, len(EVENTS), size=int(rng.integers(1, 6)))]
            status, body = http(
                running.base + "/predict", json.dumps([EVENTS[i] for i in idx]).encode()
            )
            results.append((status, body, idx))
            n += 1
        return n

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(client, seed) for seed in range(4)]
        for version in ("v2", "v3", "v4"):
            time.sleep(0.4)
            action: Literal["promote", "rollback"] = "rollback" if version == "v3" else "promote"
            produce(
                producer,
                models_topic,
                [(b"fraud", model_record(models[version], version, action=action))],
            )
            running.wait_status(lambda st, v=version: bool(st["version"] == v))
        time.sleep(0.4)
        stop.set()
        counts = [f.result(timeout=WAIT) for f in futures]

    assert sum(counts) == len(results) >= 40
    failed = [(s, b) for s, b, _ in results if s != 200]
    assert failed == []
    seen = set()
    for _, body, idx in results:
        version = body["version"]
        seen.add(version)
        expected = models[version].predict_proba_many([EVENTS[i]["payload"] for i in idx])
        np.testing.assert_array_equal([p["proba"] for p in body["predictions"]], expected)
        assert [p["id"] for p in body["predictions"]] == [EVENTS[i]["id"] for i in idx]
    assert seen == {"v1", "v2", "v3", "v4"}
    final = running.get("/model")[1]
    assert (final["swaps"], final["models_refused"], final["version"]) == (4, 0, "v4")
    assert final["events"]["reading"] is True

    # Invalid input names the field and reason.
    bad = dict(EVENTS[1], ts="not a time")
    status, body = http(running.base + "/predict", json.dumps([EVENTS[0], bad]).encode())
    assert status == 422
    assert body["errors"] == [
        {
            "index": 1,
            "field": "ts",
            "reason": "invalid_value",
            "detail": body["errors"][0]["detail"],
        }
    ]


def test_no_model_within_the_bounded_wait_is_a_startup_error(settings: StreamSettings) -> None:
    from streamlabel.stream import StartupError

    bounded = settings.model_copy(update={"predictor_model_wait": 1.5})

    async def main() -> None:
        await PredictorService(bounded).run(asyncio.Event())

    started = time.monotonic()
    with pytest.raises(StartupError, match="no valid model 'fraud'"):
        asyncio.run(main())
    assert time.monotonic() - started < 15


CLI = "import sys; from streamlabel.cli import main; sys.exit(main())"


def test_cli_predict_serves_with_a_shadow_and_stops_cleanly_on_sigterm(
    settings: StreamSettings,
    producer: KafkaProducer,
    models: dict[str, EndModel],
    tmp_path: Path,
) -> None:
    env = worker_env(settings)
    log = tmp_path / "predictor.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", CLI, "predict", "--model", "fraud", "--shadow", "fraud-next"],
            env={**env, "STREAMLABEL_PREDICTOR_PORT": "0"},  # any free port, logged
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + WAIT
        found = None
        while found is None:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            found = re.search(r"predictor http on 127\.0\.0\.1:(\d+)", log.read_text())
            time.sleep(0.1)
        base = f"http://127.0.0.1:{found.group(1)}"
        assert http(base + "/readyz")[0] == 503
        challenger = model_record(models["v1"], "v5", name="fraud-next")
        produce(
            producer,
            settings.topic("models"),
            [(b"fraud-next", challenger), (b"fraud", model_record(models["v2"], "v2"))],
        )
        produce(producer, settings.topic("events"), event_items(0, 20))
        while http(base + "/model")[1]["predicted"] < 20:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert http(base + "/readyz") == (200, {"ready": True, "version": "v2"})
        status, body = http(base + "/predict", json.dumps(EVENTS[:3]).encode())
        assert status == 200 and body["version"] == "v2" and body["shadow"]["version"] == "v5"
        np.testing.assert_array_equal(
            [p["proba"] for p in body["shadow"]["predictions"]],
            models["v1"].predict_proba_many([e["payload"] for e in EVENTS[:3]]),
        )
        assert "predictor ready" in log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
