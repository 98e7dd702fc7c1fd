"""A replay that dies after recording a batch has delivered that batch's revisions.

docs/architecture.md, replay: each batch's revisions are produced (acks=all) and
**flushed**, then written into the label index, then the position is recorded; a resumed
replay trusts the index ("nothing is sent twice"). So a revision that is in the index
must be on ``labels``: were it still in the producer's buffer when the process died, the
resumed replay would find the event already revised and never send it.

The crash is simulated in-process: the replay's producer never sends on its own (a long
linger, large batches) and is closed without waiting (unsent records are dropped, as in
a killed process), and ``on_batch`` raises once the first batch is recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from streamlabel.datasets import fraud_lfsets, make_fraud_stream
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.pipeline import Labeler, Relabeler, Source, parse_label_value
from streamlabel.stream import ReplayRequest
from streamlabel.stream._replay import ReplayReport, run_replay

from .test_replay import read_all
from .worker_setup import worker_settings

pytestmark = pytest.mark.kafka

N_EVENTS = 3000


class _CrashError(Exception):
    """The process dies here."""


class _CrashProneProducer(KafkaProducer):  # type: ignore[misc]
    """Sends only when flushed; closing it drops what was not sent (a killed process)."""

    def __init__(self, **configs: Any) -> None:
        configs.update(
            linger_ms=600_000,
            delivery_timeout_ms=1_200_000,
            batch_size=4_000_000,
            max_request_size=8_000_000,
        )
        super().__init__(**configs)

    def close(self, timeout: float | None = None, null_logger: bool = False) -> None:
        super().close(timeout=0)


def test_revisions_of_a_recorded_batch_survive_a_crash_and_the_resume_sends_the_rest(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = worker_settings(kafka_bootstrap, topic_prefix, tmp_path, lfset="fraud-stream")
    stream = make_fraud_stream(N_EVENTS, seed=7)
    v1, v2 = fraud_lfsets()[:2]
    events_topic = settings.topic("events")

    # The events, then their v1 labels as the labeler would have published them.
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    try:
        values = [json.dumps(e).encode() for e in stream.events]
        futures = [
            producer.send(events_topic, key=e["entity"].encode(), value=v)
            for e, v in zip(stream.events, values, strict=True)
        ]
        producer.flush(timeout=30)
        where = [(m.partition, m.offset) for m in (f.get(timeout=30) for f in futures)]
        labeler = Labeler(v1, OnlineLabelModel(2))
        previous = {}
        for i in range(0, N_EVENTS, 250):
            chunk = [(values[j], Source(events_topic, *where[j])) for j in range(i, i + 250)]
            for rec in labeler.process_many(chunk).labels:
                previous[rec.event_id] = rec
                producer.send(
                    settings.topic("labels"),
                    key=rec.event_id.encode(),
                    value=json.dumps(rec.to_dict()).encode(),
                )
        producer.flush(timeout=30)
    finally:
        producer.close()
    model = labeler.model
    inputs = [(v, Source(events_topic, *w)) for v, w in zip(values, where, strict=True)]
    expected = {
        r.event_id: r.label
        for r in Relabeler(v2, model, replay_id="ref").relabel_many(inputs, previous).revisions
    }
    assert len(expected) >= 10, len(expected)

    monkeypatch.setattr("kafka.KafkaProducer", _CrashProneProducer)
    request = ReplayRequest("fraud-stream", "2", 1000.0, None, replay_id="crash", reason="test")
    state = tmp_path / "replay"
    first: list[int] = []

    def die_after_the_first_batch(report: ReplayReport) -> None:
        first.append(report.revisions_sent)
        raise _CrashError

    with pytest.raises(_CrashError):
        run_replay(
            settings,
            request,
            v2,
            model,
            state_dir=state,
            batch_size=1500,
            timeout=20,
            on_batch=die_after_the_first_batch,
        )
    assert first and first[0] > 0, "the first batch must carry revisions"

    resumed = run_replay(settings, request, v2, None, state_dir=state, batch_size=1500, timeout=20)
    assert resumed.resumed and resumed.done

    revised: dict[str, int] = {}
    for r in read_all(settings, "labels"):
        label, revision = parse_label_value(json.loads(r.value))
        if revision is not None:
            assert label.event_id not in revised, "a revision was sent twice"
            revised[label.event_id] = label.label
    assert revised == expected, (
        f"{len(set(expected) - set(revised))} revisions lost across the crash, "
        f"{len(set(revised) - set(expected))} unexpected"
    )
