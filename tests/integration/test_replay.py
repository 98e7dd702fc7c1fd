"""Replay on the session's Kafka broker, after a real labeler worker (issue 6's acceptance).

The fraud stream (10,000 events, 2 partitions) is labeled by a labeler subprocess with
LF set v1; its ``tactic_change`` phase (gift cards stop meaning fraud) is produced in its
own time window. v2 (which fixes ``gift_card_cashout``) is pushed on ``lfsets`` and the
rest of the stream is labeled with it; the worker stops cleanly (its label-model
snapshot goes to ``labelmodel-stats``). Then the drifted window is replayed with v2:

- interrupted after two batches and resumed, it emits revisions for exactly the events
  whose top class under v2 and the snapshot differs from the label they had, once each;
- no consumer group is created or moved;
- the trainer's window (fed by its service handler) takes the revisions, and the model
  trained on it is better on the drifted range's ground truth than without them;
- resumed after a simulated crash that lost its state and index after sending, it
  sends nothing again;
- a second replay (new replay id, through ``streamlabel replay``) finds nothing to
  revise; the finished id does nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from streamlabel.cli import main as cli_main
from streamlabel.datasets import fraud_lfsets, make_fraud_stream
from streamlabel.lf import LFApplier, load_lfset_spec
from streamlabel.models import ModelRegistry, PayloadFeaturizer, loads_model_artifact
from streamlabel.pipeline import Trainer, TrainingWindow, parse_label_value
from streamlabel.stream import RawEvent, StreamSettings, read_snapshot
from streamlabel.stream._process import WorkerProcess
from streamlabel.stream._replay import ReplayRequest, _state_paths, start_replay
from streamlabel.stream._trainer import TrainerHandler

from .test_labeler_service import produce as send
from .worker_setup import worker_settings

pytestmark = pytest.mark.kafka

N_EVENTS = 10_000
SEED = 0
READY_TIMEOUT = 60.0
WAIT_TIMEOUT = 90.0


@pytest.fixture
def procs() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    try:
        yield started
    finally:
        for p in started:
            p.kill()


def read_all(settings: StreamSettings, logical: str, timeout: float = 20.0) -> list[Any]:
    """Every record of ``logical`` now, in (partition, offset) order."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        topic = settings.topic(logical)
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(tps)
        end = consumer.end_offsets(tps)
        consumer.seek_to_beginning(*tps)
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in tps):
            assert time.monotonic() < deadline, f"{topic} not read to its end"
            for batch in consumer.poll(timeout_ms=200).values():
                out.extend(r for r in batch if r.offset < end[TopicPartition(topic, r.partition)])
        out.sort(key=lambda r: (r.partition, r.offset))
        return out
    finally:
        consumer.close()


def wait_labeled(settings: StreamSettings, ids: set[str], timeout: float = WAIT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        seen = {json.loads(r.value)["event_id"] for r in read_all(settings, "labels")}
        if ids <= seen:
            return
        assert time.monotonic() < deadline, f"{len(ids - seen)} events not labeled"
        time.sleep(0.5)


def groups(settings: StreamSettings) -> tuple[list[str], dict[Any, Any]]:
    """Consumer groups of this test's prefix, and the labeler group's committed offsets."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        names = []
        for g in admin.list_groups():
            name = g["group_id"] if isinstance(g, dict) else g[0]
            if str(name).startswith(settings.topic_prefix):
                names.append(str(name))
        committed = admin.list_group_offsets(settings.group_id)[settings.group_id]
        return sorted(names), {tp: o.offset for tp, o in committed.items()}
    finally:
        admin.close()


def test_replay_revises_exactly_the_flipped_labels_and_the_trainer_learns_them(
    kafka_bootstrap: str,
    topic_prefix: str,
    tmp_path: Path,
    procs: list[WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    v1_file = resources.files("streamlabel.datasets") / "lfsets" / "fraud_v1.yaml"
    v2_file = resources.files("streamlabel.datasets") / "lfsets" / "fraud_v2.yaml"
    settings = worker_settings(
        kafka_bootstrap,
        topic_prefix,
        tmp_path,
        lfset="fraud-stream",
        lfset_file=Path(str(v1_file)),
        worker_id="w1",
        drift_enabled=False,
    )
    stream = make_fraud_stream(N_EVENTS, seed=SEED)
    drift = stream.phase("tactic_change")
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5)

    def produce(events: list[dict[str, Any]]) -> None:
        send(
            producer,
            settings.topic("events"),
            [(e["entity"].encode(), json.dumps(e).encode()) for e in events],
        )

    labeler = WorkerProcess(settings, tmp_path / "labeler.log")
    procs.append(labeler)
    labeler.wait_log(r"streamlabel worker ready", READY_TIMEOUT)
    # Three waves in three time windows: before, during and after the drift.
    produce(stream.events[: drift.start])
    time.sleep(1.2)
    t_from = time.time()
    produce(stream.events[drift.start : drift.stop])
    time.sleep(1.2)
    t_to = time.time()
    drifted = stream.events[drift.start : drift.stop]
    wait_labeled(settings, {e["id"] for e in drifted})
    v2_spec = load_lfset_spec(str(v2_file)).model_dump(mode="json")
    producer.send(
        settings.topic("lfsets"), key=b"fraud-stream", value=json.dumps(v2_spec).encode()
    ).get(timeout=10)
    time.sleep(1.0)  # the worker follows lfsets; the next batch is labeled with v2
    produce(stream.events[drift.stop :])
    wait_labeled(settings, {e["id"] for e in stream.events})
    assert labeler.stop(timeout=30) == 0  # a clean stop publishes the label-model snapshot
    producer.close()

    originals = {}
    for r in read_all(settings, "labels"):
        label, revision = parse_label_value(json.loads(r.value))
        assert revision is None
        originals[label.event_id] = label
    assert {originals[e["id"]].lfset_version for e in drifted} == {"1"}
    assert {originals[e["id"]].lfset_version for e in stream.events[-500:]} == {"2"}

    # What a revision must be: v2's top class under the snapshot differs from the label.
    snap = read_snapshot(settings)
    assert snap is not None
    v2 = fraud_lfsets()[1]
    assert set(v2.ids) <= set(snap.model.lf_ids_)
    P = snap.model.predict_proba_many(
        LFApplier(v2).apply_many([e["payload"] for e in drifted]), v2.ids
    )
    expected = {
        e["id"]: int(y)
        for e, y in zip(drifted, P.argmax(axis=1), strict=True)
        if int(y) != originals[e["id"]].label
    }
    assert len(expected) >= 10, len(expected)

    groups_before = groups(settings)
    assert settings.group_id in groups_before[0] and groups_before[1]
    state = tmp_path / "replay"
    request = ReplayRequest("fraud-stream", "2", t_from, t_to, replay_id="r1", reason="gift cards")
    seen: list[int] = []
    part = start_replay(
        settings,
        request,
        state_dir=state,
        model_source="stats",
        batch_size=300,
        max_batches=2,
        on_batch=lambda r: seen.append(sum(p - a for a, _, p in r.ranges.values())),
    )
    # Two recorded batches of at most 300 events, reported as they were recorded.
    assert not part.done and len(seen) == 2 and 0 < seen[0] < seen[1] <= 600
    assert seen[1] == part.events_read
    full = start_replay(settings, request, state_dir=state, model_source="stats", batch_size=300)
    assert full.done and full.resumed
    assert part.events_read + full.events_read == len(drifted)
    assert groups(settings) == groups_before  # no group joined, none committed

    revisions = {}
    for r in read_all(settings, "labels"):
        label, revision = parse_label_value(json.loads(r.value))
        if revision is not None:
            assert label.event_id not in revisions, "a revision was sent twice"
            assert r.key == label.event_id.encode()
            revisions[label.event_id] = revision
    assert {k: v.label for k, v in revisions.items()} == expected
    for eid, rev in revisions.items():
        before = originals[eid]
        assert (rev.previous_label, rev.previous_lfset_version) == (before.label, "1")
        assert rev.previous_labelmodel_version == before.labelmodel_version
        assert (rev.lfset_version, rev.replay_id, rev.reason) == ("2", "r1", "gift cards")
        assert rev.labelmodel_version == snap.model.version_
    summary = full.summary
    assert summary.events == len(drifted) and summary.revised == len(expected)
    assert summary.unchanged == len(drifted) - len(expected)
    assert sum(summary.flips.values()) == len(expected)
    assert summary.lf_changes["gift_card_cashout"] > 0
    truth = {
        e["id"]: int(y) for e, y in zip(drifted, stream.y[drift.start : drift.stop], strict=True)
    }
    fixed = sum(truth[k] == v for k, v in expected.items())
    assert fixed > 0.8 * len(expected), (fixed, len(expected))

    # Idempotent: the finished id does nothing; a new replay finds no flip left.
    again = start_replay(settings, request, state_dir=state, model_source="stats")
    assert again.already_done and again.events_read == 0
    # A crash after the revisions were sent but before anything was recorded: the state
    # back at the start, the label index gone. The resumed run re-reads them from labels.
    state_file, _, index_file = _state_paths(state, "r1")
    saved = json.loads(state_file.read_text(encoding="utf-8"))
    crashed = dict(saved, done=False, summary={})
    crashed["ranges"] = {p: [a, b, a] for p, (a, b, _) in saved["ranges"].items()}
    state_file.write_text(json.dumps(crashed), encoding="utf-8")
    index_file.unlink()
    redo = start_replay(settings, request, state_dir=state, model_source="stats")
    assert redo.resumed and redo.done and redo.events_read == len(drifted)
    assert redo.revisions_sent == 0 and redo.summary.unchanged == len(drifted)
    # The second replay through the command line (ISO-8601 --from, progress bar on stderr).
    monkeypatch.setenv("STREAMLABEL_WORKER_ID", "w1")  # the snapshot's key
    capsys.readouterr()
    iso_from = dt.datetime.fromtimestamp(t_from, dt.UTC).isoformat()
    argv = ["replay", "--set", "fraud-stream", "--version", "2", "--from", iso_from,
            "--to", repr(t_to), "--replay-id", "r2", "--model-source", "stats",
            "--state-dir", str(state), "--brokers", kafka_bootstrap, "--prefix", topic_prefix,
            "--json"]  # fmt: skip
    assert cli_main(argv) == 0
    out = capsys.readouterr()
    second = json.loads(out.out)
    assert "replay fraud-stream v2" in out.err and "ev/s" in out.err
    assert second["done"] and second["events_read"] == len(drifted)
    assert second["summary"]["revised"] == 0
    assert second["summary"]["unchanged"] == len(drifted)
    assert sum(1 for r in read_all(settings, "labels") if b'"revision"' in r.value) == len(
        revisions
    )

    # The trainer's next model: its service handler reads events and labels (revisions
    # included, in log order); the same round without the revisions is the baseline.
    records = read_all(settings, "events"), read_all(settings, "labels")

    def train(with_revisions: bool, root: Path) -> tuple[float, float]:
        window_trainer = Trainer(
            TrainingWindow(max_events=N_EVENTS, holdout_fraction=0.2),
            ModelRegistry(root),
            PayloadFeaturizer(
                text_fields=["descriptor"],
                numeric_fields=["amount", "hour", "tx_last_hour", "tx_last_day"],
                categorical_fields=["merchant_category", "country", "device"],
                log_fields=["amount", "tx_last_hour", "tx_last_day"],
                n_features=2**12,
            ),
            name="fraud",
            min_train=100,
            min_holdout=50,
        )
        handler = TrainerHandler(window_trainer, settings.group_id)
        for logical, recs in zip(("events", "labels"), records, strict=True):
            for r in recs:
                if logical == "labels" and not with_revisions and b'"revision"' in r.value:
                    continue
                raw = RawEvent(r.key, r.value, r.topic, r.partition, r.offset, r.timestamp / 1e3)
                handler.offer(logical, raw)
        result = window_trainer.train()
        assert result.record is not None
        model = loads_model_artifact(result.record.artifact)
        proba = model.predict_proba_many([e["payload"] for e in drifted])
        y = stream.y[drift.start : drift.stop]
        accuracy = float((proba.argmax(axis=1) == y).mean())
        log_loss = float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, 1.0))))
        return accuracy, log_loss

    acc_without, loss_without = train(False, tmp_path / "reg-without")
    acc_with, loss_with = train(True, tmp_path / "reg-with")
    print(
        f"replay: {len(expected)} of {len(drifted)} labels revised; drifted-range accuracy "
        f"{acc_without:.4f} -> {acc_with:.4f}, log loss {loss_without:.4f} -> {loss_with:.4f}; "
        f"replay {full.events_per_second:.0f} events/s"
    )
    assert loss_with < loss_without
    assert acc_with >= acc_without
