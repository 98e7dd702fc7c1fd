"""Replay through the control API on the session's Kafka broker (issue 6).

``streamlabel api`` (subprocess) over the real topics; a labeler worker (subprocess)
labels the fraud stream with LF set v1, pushed through the API; the ``tactic_change``
phase is produced in its own time window. v2 is pushed through the API, the worker stops
cleanly (its label-model snapshot is what the replay predicts with), and the drifted
window is replayed by ``POST /replays``: the job is polled to completion, its revisions
are on ``labels`` (one per flipped event of the window, mostly right against the truth),
the start is audited, and a second run (same request: already done; a new replay id:
nothing left to flip) adds no revision.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from kafka import KafkaProducer

from streamlabel.datasets import make_fraud_stream
from streamlabel.pipeline import parse_label_value
from streamlabel.stream import StreamSettings
from streamlabel.stream._process import WorkerProcess

from .test_api_service import READ, WRITE, Api
from .test_labeler_service import produce as send
from .test_replay import read_all, wait_labeled
from .worker_setup import worker_settings

pytestmark = pytest.mark.kafka

N_EVENTS = 4_000
JOB_TIMEOUT = 120.0


def spec(version: int) -> dict[str, Any]:
    path = resources.files("streamlabel.datasets") / "lfsets" / f"fraud_v{version}.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture
def running(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[StreamSettings, Api, list[WorkerProcess]]]:
    settings = worker_settings(
        kafka_bootstrap,
        topic_prefix,
        tmp_path,
        lfset="fraud-stream",
        worker_id="w1",
        drift_enabled=False,
        metrics_enabled=False,
    )
    # The API's replay checkpoints go to the test's folder (read by ApiSettings.from_env).
    monkeypatch.setenv("STREAMLABEL_API_REPLAY_DIR", str(tmp_path / "replays"))
    api = Api(settings, tmp_path / "api.log")
    workers: list[WorkerProcess] = []
    try:
        yield settings, api, workers
    finally:
        for w in workers:
            w.kill()
        api.stop()


def poll(api: Api, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        status, job = api.call("GET", f"/replays/{job_id}", token=READ)
        assert status == 200, job
        if job["state"] != "running":
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.3)


def revisions_on_labels(settings: StreamSettings) -> list[Any]:
    out = []
    for r in read_all(settings, "labels"):
        _, revision = parse_label_value(json.loads(r.value))
        if revision is not None:
            out.append(revision)
    return out


def test_replay_through_the_api_revises_the_drifted_window_once(
    running: tuple[StreamSettings, Api, list[WorkerProcess]], tmp_path: Path
) -> None:
    settings, api, workers = running
    status, pushed = api.call(
        "POST", "/lfsets", {"spec": spec(1), "reason": "starter rules"}, token=WRITE
    )
    assert status == 200 and pushed["status"] == "published", pushed
    labeler = WorkerProcess(settings, tmp_path / "labeler.log")
    workers.append(labeler)
    labeler.wait_log(r"streamlabel worker ready", 60)

    stream = make_fraud_stream(N_EVENTS, seed=0)
    drift = stream.phase("tactic_change")
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5)

    def produce(events: list[dict[str, Any]]) -> None:
        send(
            producer,
            settings.topic("events"),
            [(e["entity"].encode(), json.dumps(e).encode()) for e in events],
        )

    produce(stream.events[: drift.start])
    time.sleep(1.2)
    t_from = time.time()
    produce(stream.events[drift.start : drift.stop])
    time.sleep(1.2)
    t_to = time.time()
    produce(stream.events[drift.stop :])
    producer.close()
    wait_labeled(settings, {e["id"] for e in stream.events})
    status, pushed = api.call(
        "POST", "/lfsets", {"spec": spec(2), "reason": "gift cards moved"}, token=WRITE
    )
    assert status == 200 and pushed["version"] == "2", pushed
    assert labeler.stop(timeout=30) == 0  # a clean stop publishes the label-model snapshot

    body = {
        "set": "fraud-stream",
        "version": "2",
        "from": t_from,
        "to": t_to,
        "reason": "replay the gift-card weeks",
    }
    status, refused = api.call("POST", "/replays", body, token=READ)
    assert status == 403, refused
    status, job = api.call("POST", "/replays", body, token=WRITE)
    assert status == 202 and job["state"] == "running", job
    done = poll(api, job["job_id"])
    assert done["state"] == "done", done.get("error")
    result = done["result"]
    summary = result["summary"]
    width = drift.stop - drift.start
    assert done["progress"]["events_done"] == done["progress"]["events_total"] == width
    assert summary["events"] == width and summary["unlabeled"] == 0
    assert summary["revised"] > 0 and summary["lf_changes"].get("gift_card_cashout", 0) > 0
    assert {"from": "fraud", "to": "legit", "count": summary["flips"]["1->0"]} in done["flips"]

    # The revisions are on labels: one per flipped event of the window, with the reason.
    revisions = revisions_on_labels(settings)
    drifted = {e["id"]: i for i, e in enumerate(stream.events) if drift.start <= i < drift.stop}
    assert len(revisions) == summary["revised"] == result["revisions_sent"]
    assert len({r.event_id for r in revisions}) == len(revisions)
    assert {r.event_id for r in revisions} <= set(drifted)
    assert {(r.replay_id, r.reason, r.lfset_version) for r in revisions} == {
        (done["replay_id"], "replay the gift-card weeks", "2")
    }
    y = np.asarray(stream.y)
    right = sum(int(y[drifted[r.event_id]]) == r.label for r in revisions)
    assert right > 0.8 * len(revisions), (right, len(revisions))

    status, audit = api.call("GET", "/audit?limit=10", token=READ)
    assert status == 200
    starts = [a for a in audit if a["action"] == "replay.start"]
    assert [a["details"]["job_id"] for a in starts] == [job["job_id"]]
    assert starts[0]["actor"] == "ops" and starts[0]["reason"] == "replay the gift-card weeks"

    # Idempotent: the same request is already done; a new replay id finds nothing to flip.
    status, same = api.call("POST", "/replays", body, token=WRITE)
    assert status == 202, same
    again = poll(api, same["job_id"])
    assert again["state"] == "done" and again["result"]["already_done"] is True
    status, new = api.call("POST", "/replays", {**body, "replay_id": "second"}, token=WRITE)
    assert status == 202, new
    redo = poll(api, new["job_id"])
    assert redo["state"] == "done", redo.get("error")
    assert redo["result"]["summary"]["events"] == width
    assert redo["result"]["summary"]["revised"] == 0
    assert len(revisions_on_labels(settings)) == len(revisions)
    status, jobs = api.call("GET", "/replays", token=READ)
    assert [j["job_id"] for j in jobs] == [job["job_id"], same["job_id"], new["job_id"]]
