"""The labeler service on the session's Kafka broker: a real worker subprocess.

(a) end to end: generated events and malformed ones of each kind -> one label per valid
event, one DLQ record per bad one (reason, source offset); (b) hot LF reload mid-stream
through ``lfsets`` (JSON of ``LFSetSpec.model_dump(mode="json")``, key = set name), with
an invalid spec going to the DLQ while labeling goes on with the previous version.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streamlabel.cli import main as cli_main
from streamlabel.datasets import make_transactions
from streamlabel.dev import start_on_free_ports
from streamlabel.lf import load_lfset_spec
from streamlabel.stream import StreamSettings, ensure_topics
from streamlabel.stream._process import WorkerProcess

pytestmark = pytest.mark.kafka

PARTITIONS = 2
READY_TIMEOUT = 45.0
WAIT_TIMEOUT = 45.0
STOP_TIMEOUT = 20.0

SPEC: dict[str, Any] = {
    "name": "tx",
    "version": "1",
    "cardinality": 2,
    "label_names": ["legit", "fraud"],
    "resources": {"risky": ["gambling", "crypto", "gift_cards"]},
    "lfs": [
        {
            "name": "risky",
            "label": 1,
            "when": {"kind": "lookup", "field": "merchant_category", "resource": "risky"},
        },
        {
            "name": "scam_words",
            "label": 1,
            "when": {
                "kind": "keyword",
                "field": "descriptor",
                "keywords": ["urgent", "verify account", "2fa"],
                "word_boundary": False,
            },
        },
        {
            "name": "big_amount",
            "label": 1,
            "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 1500},
        },
        {
            "name": "refund",
            "label": 0,
            "when": {
                "kind": "regex",
                "field": "descriptor",
                "pattern": r"\brefund(?:ed)?\b",
                "ignore_case": True,
            },
        },
        {
            "name": "small_grocery",
            "label": 0,
            "when": {
                "kind": "all",
                "conditions": [
                    {"kind": "equals", "field": "merchant_category", "value": "grocery"},
                    {"kind": "threshold", "field": "amount", "op": "lt", "value": 100},
                ],
            },
        },
    ],
}


def contract_json(spec: dict[str, Any]) -> bytes:
    """The value ``lf push`` publishes: ``LFSetSpec.model_dump(mode="json")`` as JSON."""
    return json.dumps(load_lfset_spec(spec).model_dump(mode="json")).encode()


def spec_v2() -> dict[str, Any]:
    data = json.loads(json.dumps(SPEC))
    data["version"] = "2"
    data["lfs"][2]["version"] = "2"
    data["lfs"][2]["when"]["value"] = 1000
    del data["lfs"][4]
    return data


def event_json(tx: dict[str, Any]) -> bytes:
    payload = {k: v for k, v in tx.items() if k not in ("id", "ts", "entity")}
    return json.dumps(
        {"id": tx["id"], "ts": tx["ts"], "entity": tx["entity"], "payload": payload}
    ).encode()


class Worker(WorkerProcess):
    """The labeler worker, with the waits these tests use."""

    def wait_log(  # type: ignore[override]
        self, pattern: str | re.Pattern[str], timeout: float = READY_TIMEOUT
    ) -> re.Match[str]:
        return super().wait_log(pattern, timeout)


class Outputs:
    """Reads ``labels``, ``dlq`` and ``review`` from the beginning."""

    def __init__(self, settings: StreamSettings) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False
        )
        self.names = {settings.topic(n): n for n in ("labels", "dlq", "review")}
        tps = [TopicPartition(t, p) for t in self.names for p in range(settings.partitions)]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)
        self.records: dict[str, list[tuple[bytes, dict[str, Any]]]] = {
            n: [] for n in self.names.values()
        }

    @property
    def labels(self) -> dict[str, dict[str, Any]]:
        return {v["event_id"]: v for _, v in self.records["labels"]}

    @property
    def dlq(self) -> list[tuple[bytes, dict[str, Any]]]:
        return self.records["dlq"]

    def poll_until(self, done: Callable[[], bool], timeout: float = WAIT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, {k: len(v) for k, v in self.records.items()}
            for batch in self.consumer.poll(timeout_ms=200).values():
                for rec in batch:
                    self.records[self.names[rec.topic]].append((rec.key, json.loads(rec.value)))

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture
def settings(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> StreamSettings:
    s = StreamSettings(
        brokers=[kafka_bootstrap],
        topic_prefix=topic_prefix,
        partitions=PARTITIONS,
        batch_size=100,
        batch_max_wait=0.1,
        datadir=tmp_path / "faust",
        lfset="tx",
    )
    ensure_topics(s)
    return s


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    try:
        yield started
    finally:
        for w in started:
            w.kill()


@pytest.fixture
def outputs(settings: StreamSettings) -> Iterator[Outputs]:
    reader = Outputs(settings)
    try:
        yield reader
    finally:
        reader.close()


@pytest.fixture
def producer(settings: StreamSettings) -> Iterator[KafkaProducer]:
    p = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=5,
        max_request_size=2_000_000,
    )
    try:
        yield p
    finally:
        p.close()


def produce(
    producer: KafkaProducer, topic: str, items: list[tuple[bytes | None, bytes]]
) -> list[tuple[int, int]]:
    """Send ``(key, value)`` pairs; return each one's (partition, offset)."""
    futures = [producer.send(topic, key=k, value=v) for k, v in items]
    producer.flush(timeout=30)
    return [(m.partition, m.offset) for m in (f.get(timeout=30) for f in futures)]


def test_end_to_end_labels_every_valid_event_and_dlqs_every_bad_one(
    settings: StreamSettings,
    workers: list[Worker],
    outputs: Outputs,
    producer: KafkaProducer,
    tmp_path: Path,
    record_property: Callable[[str, Any], None],
) -> None:
    lfset_file = tmp_path / "lfs.json"
    lfset_file.write_text(json.dumps(SPEC))  # no version on lfsets: the file is used
    settings = settings.model_copy(update={"lfset_file": lfset_file})
    txs = make_transactions(300, seed=3)
    good = [(tx["entity"].encode(), event_json(tx)) for tx in txs]
    big = json.loads(event_json(txs[0]))
    big["id"] = "too-big"
    big["payload"]["descriptor"] = "x" * 70_000
    bad = {
        "not_json": b'{"id": "oops", ',
        "missing_field": json.dumps({"ts": 1.0, "entity": "c1", "payload": {}}).encode(),
        "wrong_type": json.dumps({"id": 42, "ts": 1.0, "entity": "c1", "payload": {}}).encode(),
        "oversized": json.dumps(big).encode(),
    }
    topic = settings.topic("events")
    items = good[:150] + [(b"bad", v) for v in bad.values()] + good[150:]
    where = produce(producer, topic, items)

    t0 = time.monotonic()
    worker = Worker(settings, tmp_path / "worker.log")
    workers.append(worker)
    worker.wait_log(r"streamlabel worker ready .*version '1' from file")
    outputs.poll_until(lambda: len(outputs.labels) >= 300 and len(outputs.dlq) >= 4)
    all_out_s = time.monotonic() - t0

    source_of = {
        json.loads(v)["id"]: {"topic": topic, "partition": p, "offset": o}
        for (_, v), (p, o) in zip(items, where, strict=True)
        if (_, v) in good
    }
    labels = outputs.labels
    assert set(labels) == {tx["id"] for tx in txs}
    for key, value in outputs.records["labels"]:
        assert key == value["event_id"].encode()
        assert value["lfset"] == "tx" and value["lfset_version"] == "1"
        assert set(value["votes"]) <= {f"{lf['name']}@1" for lf in SPEC["lfs"]}
        assert len(value["posterior"]) == 2 and abs(sum(value["posterior"]) - 1) < 1e-9
        assert value["label"] in (0, 1) and value["labelmodel_version"]
        assert value["source"] == source_of[value["event_id"]]
    assert any(v["votes"] for v in labels.values()) and {v["label"] for v in labels.values()} == {
        0,
        1,
    }

    bad_where = dict(zip(bad, where[150:154], strict=True))
    dlq = {v["reason"]: (k, v) for k, v in outputs.dlq}
    assert sorted(dlq) == sorted(bad) and len(outputs.dlq) == 4
    for reason, (p, o) in bad_where.items():
        key, value = dlq[reason]
        assert key == f"{topic}:{p}:{o}".encode()
        assert value["source"] == {"topic": topic, "partition": p, "offset": o}
    assert all(k == v["event_id"].encode() for k, v in outputs.records["review"])

    assert worker.stop() == 0, worker.text()[-3000:]
    assert "Traceback" not in worker.text(), worker.text()[-3000:]
    record_property("start_to_all_outputs_s", round(all_out_s, 2))
    print(f"\n[labeler e2e] start to all 304 outputs: {all_out_s:.2f} s")


def test_hot_reload_mid_stream_and_invalid_spec_to_the_dlq(
    settings: StreamSettings,
    workers: list[Worker],
    outputs: Outputs,
    producer: KafkaProducer,
    tmp_path: Path,
) -> None:
    lfsets = settings.topic("lfsets")
    events = settings.topic("events")
    produce(producer, lfsets, [(b"tx", contract_json(SPEC))])
    produce(producer, lfsets, [(b"other", contract_json({**SPEC, "name": "other"}))])
    worker = Worker(settings, tmp_path / "worker.log")
    workers.append(worker)
    worker.wait_log(r"streamlabel worker ready .*version '1' from topic " + re.escape(lfsets))

    txs = make_transactions(350, seed=4)
    items = [(tx["entity"].encode(), event_json(tx)) for tx in txs]
    first = produce(producer, events, items[:150])
    outputs.poll_until(lambda: len(outputs.labels) >= 150)

    produce(producer, lfsets, [(b"tx", contract_json(spec_v2()))])
    worker.wait_log(r"LF set 'tx' version '2' received", timeout=WAIT_TIMEOUT)
    second = produce(producer, events, items[150:300])
    outputs.poll_until(lambda: len(outputs.labels) >= 300)

    invalid = json.loads(contract_json(spec_v2()))
    invalid["version"] = "3"
    invalid["lfs"][0]["label"] = 7
    (where,) = produce(producer, lfsets, [(b"tx", json.dumps(invalid).encode())])
    outputs.poll_until(lambda: len(outputs.dlq) >= 1)
    third = produce(producer, events, items[300:])
    outputs.poll_until(lambda: len(outputs.labels) >= 350)

    labels = outputs.labels
    version = {tx["id"]: labels[tx["id"]]["lfset_version"] for tx in txs}
    assert {version[tx["id"]] for tx in txs[:150]} == {"1"}
    assert {version[tx["id"]] for tx in txs[150:]} == {"2"}, "v2 was received before"
    assert all(
        "big_amount@2" in labels[tx["id"]]["votes"] or not labels[tx["id"]]["votes"].keys()
        for tx in txs[150:]
        if tx["amount"] > 1000
    )
    # Monotone per partition: once v2 appears, no later offset carries v1.
    by_partition: dict[int, list[tuple[int, str]]] = {}
    for tx, (p, o) in zip(txs, first + second + third, strict=True):
        by_partition.setdefault(p, []).append((o, version[tx["id"]]))
    for seq in by_partition.values():
        versions = [v for _, v in sorted(seq)]
        assert versions == sorted(versions), "a v1 label after a v2 label"

    ((key, dlq),) = outputs.dlq
    assert key == f"{lfsets}:{where[0]}:{where[1]}".encode()
    assert dlq["reason"] == "invalid_lfset" and dlq["lfset"] == "tx"
    assert (dlq["lf"], dlq["field"]) == ("risky", "label")
    assert dlq["source"] == {"topic": lfsets, "partition": where[0], "offset": where[1]}

    assert worker.stop() == 0, worker.text()[-3000:]
    assert "Traceback" not in worker.text(), worker.text()[-3000:]


def test_run_refuses_to_start_without_an_lf_set(
    settings: StreamSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--brokers", settings.brokers[0], "--prefix", settings.topic_prefix]
    assert cli_main([*argv, "--lfset", "tx"]) == 2
    err = capsys.readouterr().err
    assert "no version of LF set 'tx'" in err and "lf push" in err and "--lfset-file" in err


def _revision(label: dict[str, Any]) -> int:
    """The revision part of ``labelmodel_version`` (``"<fits>.<revision>"``)."""
    return int(label["labelmodel_version"].split(".")[1])


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_label_model_state_survives_a_restart(
    stop: str,
    settings: StreamSettings,
    workers: list[Worker],
    outputs: Outputs,
    producer: KafkaProducer,
    tmp_path: Path,
) -> None:
    from streamlabel.stream import read_snapshot

    # SIGTERM: fewer batches than snapshot_every, so only the snapshot taken at the clean
    # stop can carry the state. SIGKILL: a snapshot after every batch.
    settings = settings.model_copy(update={"snapshot_every": 20 if stop == "sigterm" else 1})
    events = settings.topic("events")
    produce(producer, settings.topic("lfsets"), [(b"tx", contract_json(SPEC))])
    txs = make_transactions(800, seed=5)
    items = [(tx["entity"].encode(), event_json(tx)) for tx in txs]
    first_ids = {tx["id"] for tx in txs[:600]}

    first = Worker(settings, tmp_path / "first.log")
    workers.append(first)
    first.wait_log(r"streamlabel worker ready .*fresh label model")
    produce(producer, events, items[:600])
    outputs.poll_until(lambda: len(outputs.labels) >= 600)
    if stop == "sigterm":
        assert first.stop(timeout=STOP_TIMEOUT) == 0, first.text()[-3000:]
        assert "snapshot published at exit" in first.text(), first.text()[-3000:]
    else:
        time.sleep(1.0)  # the last batch's snapshot is sent with its labels
        first.kill()
    before = max(_revision(v) for _, v in outputs.records["labels"])
    snap = read_snapshot(settings)
    assert snap is not None and snap.model.n_events_ > 0
    saved = int(snap.model.version_.split(".")[1])
    assert saved >= before

    second = Worker(settings, tmp_path / "second.log")
    workers.append(second)
    ready = second.wait_log(r"streamlabel worker ready .*label model ([0-9.]+) from a snapshot")
    assert ready.group(1) == snap.model.version_
    produce(producer, events, items[600:])
    outputs.poll_until(lambda: {tx["id"] for tx in txs} <= set(outputs.labels))
    later = [v for _, v in outputs.records["labels"] if v["event_id"] not in first_ids]
    assert len({v["event_id"] for v in later}) == 200
    # The second worker continues the first one's model instead of starting from scratch.
    assert min(_revision(v) for v in later) >= saved >= before > 0
    assert second.stop(timeout=STOP_TIMEOUT) == 0, second.text()[-3000:]
    assert "Traceback" not in first.text() + second.text(), second.text()[-3000:]


def _new_producer(settings: StreamSettings) -> KafkaProducer:
    """A producer of its own, for a test whose broker is not the session's."""
    return KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5)


def test_worker_reconnects_after_the_broker_restarts(tmp_path: Path) -> None:
    """Stop the broker under a running worker, start it again: the worker goes on.

    The test has a broker of its own (the session's is shared by the other tests): started
    on free ports, stopped while the worker runs, started again on the same ports and data.
    """
    broker = start_on_free_ports(tmp_path / "kafka")
    worker: Worker | None = None
    try:
        lfset_file = tmp_path / "tx.json"
        lfset_file.write_text(json.dumps(SPEC), encoding="utf-8")
        settings = StreamSettings(
            brokers=[str(broker.bootstrap)],
            topic_prefix="restart.",
            partitions=2,
            batch_size=100,
            batch_max_wait=0.1,
            datadir=tmp_path / "faust",
            lfset="tx",
            lfset_file=lfset_file,
        )
        ensure_topics(settings)
        txs = make_transactions(200, seed=11)
        items = [(tx["entity"].encode(), event_json(tx)) for tx in txs]
        topic = settings.topic("events")

        worker = Worker(settings, tmp_path / "worker.log")
        worker.wait_log(r"streamlabel worker ready")
        producer = _new_producer(settings)
        produce(producer, topic, items[:100])
        producer.close()
        outputs = Outputs(settings)
        outputs.poll_until(lambda: len(outputs.labels) >= 100)
        outputs.close()

        assert broker.down()
        time.sleep(3.0)  # the worker's clients see the connection refused meanwhile
        broker.up(timeout=90.0)
        assert worker.proc.poll() is None, worker.text()[-3000:]

        producer = _new_producer(settings)
        produce(producer, topic, items[100:])
        producer.close()
        outputs = Outputs(settings)
        outputs.poll_until(lambda: len(outputs.labels) >= 200, timeout=90.0)
        outputs.close()
        assert set(outputs.labels) == {tx["id"] for tx in txs}
        assert worker.stop() == 0, worker.text()[-3000:]
    finally:
        if worker is not None:
            worker.kill()
        broker.down()


def _params_records(settings: StreamSettings) -> list[Any]:
    """Every ``labelmodel-params`` record so far, parsed, in log order per partition."""
    from streamlabel.stream import parse_snapshot

    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    try:
        topic = settings.topic("labelmodel-params")
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < end[tp] for tp in tps):
            assert time.monotonic() < deadline, "labelmodel-params not read to its end"
            for batch in consumer.poll(timeout_ms=200).values():
                for rec in batch:
                    out.append((json.loads(rec.value), parse_snapshot(rec.value)))
        return out
    finally:
        consumer.close()


def _wait_params(
    settings: StreamSettings, n_events: int, gold: int = 0, timeout: float = 60.0
) -> Any:
    """The first params record merging both workers, ``n_events`` events and ``gold`` labels.

    The gold mass is the class counts' sum beyond one per event (no forgetting here). A
    worker learns a gold label when it reads it from feedback, which may come after it
    has labeled the last events, so early records of ``n_events`` may hold part of it;
    a label counted twice or lost never gives a record with exactly ``gold``.
    """
    deadline = time.monotonic() + timeout
    seen: set[float] = set()
    while True:
        for value, snap in _params_records(settings):
            if value["workers"] == ["w1", "w2"] and snap.model.n_events_ == n_events:
                mass = float(snap.model.sufficient_statistics()["C"].sum()) - n_events
                seen.add(round(mass, 3))
                if abs(mass - gold) < 1.0:
                    return value, snap
        assert time.monotonic() < deadline, (
            f"no params of both workers, {n_events} events and {gold} gold labels; "
            f"gold masses seen: {sorted(seen)}"
        )
        time.sleep(0.3)


def test_two_workers_share_one_label_model_through_the_aggregator(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, producer: KafkaProducer
) -> None:
    import threading

    import numpy as np

    from streamlabel.labelmodel import OnlineLabelModel
    from streamlabel.stream._aggregator import run_aggregator

    lfset_file = tmp_path / "tx.json"
    lfset_file.write_text(json.dumps(SPEC), encoding="utf-8")
    base = StreamSettings(
        brokers=[kafka_bootstrap],
        topic_prefix=topic_prefix,
        partitions=2,
        batch_size=100,
        batch_max_wait=0.1,
        lfset="tx",
        lfset_file=lfset_file,
        snapshot_every=1,
        half_life=1e12,  # no forgetting: the merged moments must equal one model's exactly
        params_interval=0.3,
        review_max_per_1000=0,
    )
    ensure_topics(base)
    stop = threading.Event()
    aggregator = threading.Thread(
        target=run_aggregator, args=(base,), kwargs={"should_stop": stop.is_set}, daemon=True
    )
    aggregator.start()
    workers = [
        Worker(
            base.model_copy(update={"worker_id": w, "datadir": tmp_path / w}),
            tmp_path / f"{w}.log",
        )
        for w in ("w1", "w2")
    ]
    outputs = Outputs(base)
    try:
        for w in workers:
            w.wait_log(r"streamlabel worker ready")
        deadline = time.monotonic() + 60
        while [w.assigned() for w in workers] != [1, 1]:  # one partition each
            assert time.monotonic() < deadline, [w.text()[-2000:] for w in workers]
            time.sleep(0.2)

        txs = make_transactions(1400, seed=21)
        items = [(tx["entity"].encode(), event_json(tx)) for tx in txs]
        where = produce(producer, base.topic("events"), items[:1000])
        assert {p for p, _ in where} == {0, 1}  # both workers get a share
        outputs.poll_until(lambda: len(outputs.labels) >= 1000, timeout=90)
        value, first = _wait_params(base, 1000)
        for w in workers:  # every worker takes the merged parameters
            w.wait_log(
                r"label-model params in use: version " + re.escape(value["labelmodel_version"])
            )

        # Late gold for 300 events labeled by either worker (here: the labels they got):
        # every worker reads all of feedback and learns the gold of the events it
        # labeled, so each gold label counts once.
        gold_y = [outputs.labels[tx["id"]]["label"] for tx in txs[:300]]
        gold = [
            (
                tx["id"].encode(),
                json.dumps(
                    {"event_id": tx["id"], "label": y, "source": "chargeback", "at": 1.0}
                ).encode(),
            )
            for tx, y in zip(txs[:300], gold_y, strict=True)
        ]
        assert {outputs.labels[tx["id"]]["source"]["partition"] for tx in txs[:300]} == {0, 1}
        produce(producer, base.topic("feedback"), gold)

        produce(producer, base.topic("events"), items[1000:])
        outputs.poll_until(lambda: len(outputs.labels) >= 1400, timeout=90)
        published = {v["labelmodel_version"] for v, _ in _params_records(base)}
        second = [outputs.labels[tx["id"]] for tx in txs[1000:]]
        assert {lab["source"]["partition"] for lab in second} == {0, 1}
        assert {lab["labelmodel_version"] for lab in second} <= published

        for w in workers:  # a clean stop publishes each worker's final statistics
            assert w.stop() == 0, w.text()[-3000:]
        _, final = _wait_params(base, 1400, gold=300)
    finally:
        stop.set()
        outputs.close()
        for w in workers:
            w.kill()
        aggregator.join(timeout=30)

    # One model over the whole stream, fed the same votes in produce order and batches.
    ids = [f"{lf['name']}@1" for lf in SPEC["lfs"]]
    L = np.array(
        [[outputs.labels[tx["id"]]["votes"].get(i, -1) for i in ids] for tx in txs],
        dtype=np.int64,
    )
    one = OnlineLabelModel(2, half_life=1e12)
    for start in range(0, len(L), 100):
        one.learn_many(L[start : start + 100], ids)
    no_gold_mass = one.sufficient_statistics()["C"].sum()
    one.learn_gold(L[:300], gold_y, ids)
    merged = final.model
    assert merged.n_events_ == one.n_events_ == 1400
    order = [merged.lf_ids_.index(i) for i in one.lf_ids_]
    got, want = merged.sufficient_statistics(), one.sufficient_statistics()
    # The moments are sums over events: the same to rounding, whatever the split.
    np.testing.assert_allclose(got["t"], want["t"], rtol=1e-6)
    np.testing.assert_allclose(got["T"][order], want["T"], rtol=1e-6)
    np.testing.assert_allclose(got["Fv"][order], want["Fv"], rtol=1e-6)
    np.testing.assert_allclose(got["TT"][np.ix_(order, order)], want["TT"], rtol=1e-6)
    # The expected counts come from each side's own fits along the way: close, not equal,
    # for the LFs with evidence (big_amount votes on ~10 of 1,400 events: its estimate is
    # mostly the prior, and moves by ~0.1 with the posteriors of those few events).
    acc_got, acc_want = merged.lf_accuracies(), one.lf_accuracies()
    votes = (L >= 0).sum(axis=0)
    assert (votes >= 50).sum() >= 4
    for i, n in zip(ids, votes, strict=True):
        if n >= 50:
            assert abs(acc_got[i] - acc_want[i]) < 0.03, (i, acc_got[i], acc_want[i])
    np.testing.assert_allclose(merged.class_balance_, one.class_balance_, atol=0.03)
    assert first.model.n_events_ == 1000
    # The 300 gold labels are in the merged expected counts exactly once (weight 1 each).
    assert abs(want["C"].sum() - no_gold_mass - 300) < 1e-6
    assert abs(got["C"].sum() - want["C"].sum()) < 1.0, (got["C"].sum(), want["C"].sum())
