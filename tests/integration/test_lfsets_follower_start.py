"""The ``lfsets`` follower starts where the start-up read ended: nothing is replayed.

docs/architecture.md, labeler start-up: the newest valid record wins, "invalid later ones
are logged, not re-sent to the DLQ: the worker that read them live did that", and "the
follower task then starts at the end offsets of that read, so no version published in
between is missed and none is replayed". A follower that re-read ``lfsets`` (or any
other followed topic) from its beginning would DLQ every old invalid record again at
each restart.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from kafka import KafkaProducer

from streamlabel.datasets import make_transactions
from streamlabel.stream import StreamSettings

from .test_labeler_service import (  # noqa: F401 (fixtures)
    SPEC,
    Outputs,
    Worker,
    contract_json,
    event_json,
    outputs,
    produce,
    producer,
    settings,
    spec_v2,
    workers,
)


def test_an_invalid_lfsets_record_read_at_start_up_is_not_dlqd_again(
    settings: StreamSettings,  # noqa: F811
    workers: list[Worker],  # noqa: F811
    outputs: Outputs,  # noqa: F811
    producer: KafkaProducer,  # noqa: F811
    tmp_path: Path,
) -> None:
    lfsets, events = settings.topic("lfsets"), settings.topic("events")
    produce(producer, lfsets, [(b"tx", contract_json(SPEC))])
    invalid = json.loads(contract_json(spec_v2()))
    invalid["lfs"][0]["label"] = 7  # refused: a label outside the classes
    produce(producer, lfsets, [(b"tx", json.dumps(invalid).encode())])

    worker = Worker(settings, tmp_path / "worker.log")
    workers.append(worker)
    worker.wait_log(r"streamlabel worker ready .*version '1' from topic")
    txs = make_transactions(200, seed=8)
    items = [(tx["entity"].encode(), event_json(tx)) for tx in txs]
    produce(producer, events, items[:100])
    outputs.poll_until(lambda: len(outputs.labels) >= 100)

    # A valid v2 published now is taken: the follower has read past the old records.
    produce(producer, lfsets, [(b"tx", contract_json(spec_v2()))])
    worker.wait_log(r"LF set 'tx' version '2' received")
    produce(producer, events, items[100:])
    outputs.poll_until(lambda: len(outputs.labels) >= 200)
    assert {outputs.labels[tx["id"]]["lfset_version"] for tx in txs[100:]} == {"2"}
    settle = time.monotonic() + 1.0
    outputs.poll_until(lambda: time.monotonic() > settle)

    assert outputs.dlq == [], "an lfsets record read at start-up was DLQ'd again"
    assert worker.text().count("version '2' received") == 1
    assert worker.stop() == 0, worker.text()[-3000:]
