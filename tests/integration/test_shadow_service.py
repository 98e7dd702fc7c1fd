"""Shadow LF sets on the session's Kafka broker: a labeler worker, the API and the CLI.

The labeler worker labels the fraud stream with ``fraud-stream`` v1 while late gold
labels arrive on ``feedback``. A candidate deployed through the API is scored beside v1
(reported on ``shadow-reports``, read back through the API) without changing a label:

- a worse one (v1 with ``card_present`` inverted) is reported worse; promoting it
  without confirmation is refused (409), with ``--confirm`` (CLI, straight to Kafka) it
  is published and labels carry it;
- a better one (v2, in the ``tactic_change`` phase) promoted while events keep flowing
  takes effect at the worker's next batch: per partition the labels switch version once,
  and every event sent after the worker received the promotion carries the new version.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer
from tests.api.test_candidate_api import spec_of, worse_v1

from streamlabel.cli import main as cli_main
from streamlabel.datasets import LabeledStream, make_fraud_stream
from streamlabel.stream import StreamSettings

from .test_api_service import READ, WRITE, Api
from .test_labeler_service import Outputs, Worker, produce
from .worker_setup import worker_settings

pytestmark = pytest.mark.kafka

NAME = "fraud-stream"
WAIT = 60.0


@pytest.fixture(scope="module")
def stream() -> LabeledStream:
    return make_fraud_stream(20_000, seed=4)


@pytest.fixture
def settings(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> StreamSettings:
    return worker_settings(
        kafka_bootstrap,
        topic_prefix,
        tmp_path,
        lfset=NAME,
        shadow_report_interval=0.5,
        metrics_enabled=False,
        drift_enabled=False,
    )


class Rig:
    """The API, one labeler worker, a producer and a reader of the outputs."""

    def __init__(self, settings: StreamSettings, tmp_path: Path, stream: LabeledStream) -> None:
        self.settings = settings
        self.stream = stream
        self.api = Api(settings, tmp_path / "api.log")
        status, body = self.call("POST", "/lfsets", {"spec": spec_of(0), "reason": "starter"})
        assert status == 200, body
        self.worker = Worker(settings, tmp_path / "worker.log")
        self.worker.wait_log(r"streamlabel worker ready .*version '1' from topic")
        self.producer = KafkaProducer(
            bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5
        )
        self.outputs = Outputs(settings)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return self.api.call(method, path, body, WRITE if method == "POST" else READ)

    def events(self, lo: int, hi: int) -> list[tuple[bytes, bytes]]:
        return [(e["entity"].encode(), json.dumps(e).encode()) for e in self.stream.events[lo:hi]]

    def feed(self, lo: int, hi: int, gold_every: int = 3) -> None:
        """Send events ``lo:hi``, wait for their labels, then send gold for every third."""
        produce(self.producer, self.settings.topic("events"), self.events(lo, hi))
        ids = [e["id"] for e in self.stream.events[lo:hi]]
        self.wait_labels(ids)
        gold = [
            (
                self.stream.events[i]["id"].encode(),
                json.dumps(
                    {
                        "event_id": self.stream.events[i]["id"],
                        "label": int(self.stream.y[i]),
                        "source": "chargeback",
                        "at": 1.7e9,
                    }
                ).encode(),
            )
            for i in range(lo, hi)
            if i % gold_every == 0
        ]
        produce(self.producer, self.settings.topic("feedback"), gold)

    def wait_labels(self, ids: list[str]) -> None:
        """Read the outputs until every event of ``ids`` has its label (bounded)."""

        def done() -> bool:
            labels = self.outputs.labels  # built per call: once, not per id
            return all(i in labels for i in ids)

        self.outputs.poll_until(done, WAIT)

    def wait_report(self, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Poll ``GET /lfsets/NAME/candidate`` until ``done(view)`` (bounded)."""
        deadline = time.monotonic() + WAIT
        view: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status, view = self.call("GET", f"/lfsets/{NAME}/candidate")
            assert status == 200, view
            if view.get("report") and done(view):
                return view
            time.sleep(0.3)
        raise AssertionError(f"report not as expected within {WAIT} s: {view}")

    def versions_of(self, lo: int, hi: int) -> list[str]:
        labels = self.outputs.labels
        return [labels[e["id"]]["lfset_version"] for e in self.stream.events[lo:hi]]

    def close(self) -> None:
        self.producer.close()
        self.outputs.close()
        try:
            assert self.worker.stop() == 0, self.worker.text()[-3000:]
            assert "Traceback" not in self.worker.text()
        finally:
            self.worker.kill()
            self.api.stop()


@pytest.fixture
def rig(settings: StreamSettings, tmp_path: Path, stream: LabeledStream) -> Iterator[Rig]:
    r = Rig(settings, tmp_path, stream)
    try:
        yield r
    finally:
        r.close()


def test_a_worse_candidate_is_reported_worse_and_needs_confirmation(
    rig: Rig, settings: StreamSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    rig.feed(0, 3000)
    status, body = rig.call(
        "POST", f"/lfsets/{NAME}/candidate", {"spec": worse_v1(), "reason": "try it"}
    )
    assert status == 200 and body["version"] == "1-broken", body
    rig.worker.wait_log(r"candidate version '1-broken' received", timeout=WAIT)
    rig.feed(3000, 9000)
    view = rig.wait_report(lambda v: v["verdict"] == "worse" and v["report"]["gold"]["n"] >= 1000)
    gold = view["report"]["gold"]
    assert gold["candidate_accuracy"] < gold["active_accuracy"]
    assert view["active_version"] == "1" and view["workers"][0]["n"] > 0
    assert sum(view["report"]["flips"].values()) > 0
    # nothing emitted changed: every label so far is v1's
    assert set(rig.versions_of(0, 9000)) == {"1"}
    status, page = rig.api.call("GET", "/status.json", token=READ)
    assert page["candidate"]["verdict"] == "worse"

    status, err = rig.call("POST", f"/lfsets/{NAME}/candidate/promote", {"reason": "ship"})
    assert status == 409 and err["error"] == "candidate_worse" and "confirm" in err["reason"]
    status, shown = rig.call("GET", f"/lfsets/{NAME}")
    assert shown["version"] == "1"

    # with --confirm, from the CLI straight to Kafka
    capsys.readouterr()
    code = cli_main(
        ["lf", "candidate", "promote", NAME, "--reason", "on purpose", "--confirm",
         "--brokers", settings.brokers[0], "--prefix", settings.topic_prefix]
    )  # fmt: skip
    out, err_text = capsys.readouterr()
    assert code == 0, err_text
    assert "verdict: worse, confirmed" in out
    rig.worker.wait_log(r"LF set 'fraud-stream' version '1-broken' received", timeout=WAIT)
    rig.feed(9000, 9500, gold_every=10**9)
    assert set(rig.versions_of(9000, 9500)) == {"1-broken"}
    status, _ = rig.call("GET", f"/lfsets/{NAME}/candidate")
    assert status == 404
    status, audit = rig.call("GET", "/audit")
    actions = [(e["action"], e["reason"]) for e in audit]
    assert actions[-2:] == [("lfset.candidate.deploy", "try it"), ("lfset.promote", "on purpose")]
    assert audit[-1]["details"]["candidate"]["confirmed"] is True


def test_a_better_candidate_promoted_mid_stream_takes_effect_at_the_next_batch(
    rig: Rig, stream: LabeledStream
) -> None:
    tactic = stream.phase("tactic_change").start
    rig.feed(0, tactic)
    status, body = rig.call(
        "POST", f"/lfsets/{NAME}/candidate", {"spec": spec_of(1), "reason": "gift cards moved"}
    )
    assert status == 200, body
    rig.worker.wait_log(r"candidate version '2' received", timeout=WAIT)
    rig.feed(tactic, tactic + 3000)
    view = rig.wait_report(
        lambda v: (
            v["report"]["gold"]["n"] >= 900
            and v["report"]["gold"]["candidate_accuracy"] > v["report"]["gold"]["active_accuracy"]
        )
    )
    assert view["verdict"] in ("better", "undecided")
    req = urllib.request.Request(
        rig.api.url + "/status", headers={"Authorization": f"Bearer {READ}"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        page = resp.read().decode()
    assert "Candidate LF set v2 beside v1" in page and "gift_card_cashout@2 *" in page

    # events keep flowing while the promotion happens; the last 1,000 wait for the worker
    # to have the new version, so some always come after it (on a loaded box the promotion
    # once took longer than sending all 3,000)
    lo, hi = tactic + 3000, tactic + 6000
    sent = {"n": lo}
    stop, promoted = threading.Event(), threading.Event()
    topic = rig.settings.topic("events")

    def keep_sending() -> None:
        for a in range(lo, hi, 50):
            if a == hi - 1000:
                promoted.wait(timeout=WAIT)
            if stop.is_set():
                return
            produce(rig.producer, topic, rig.events(a, a + 50))
            sent["n"] = a + 50
            time.sleep(0.02)

    sender = threading.Thread(target=keep_sending, daemon=True)
    sender.start()
    try:
        while sent["n"] < lo + 600:
            time.sleep(0.01)
        status, body = rig.call("POST", f"/lfsets/{NAME}/candidate/promote", {"reason": "better"})
        assert status == 200 and body["version"] == "2" and not body["confirmed"], body
        rig.worker.wait_log(r"LF set 'fraud-stream' version '2' received", timeout=WAIT)
        after = sent["n"]  # everything sent from here on comes in a later batch
        promoted.set()
    finally:
        promoted.set()
        sender.join(timeout=WAIT)
        stop.set()
    assert not sender.is_alive() and sent["n"] == hi and after <= hi - 1000
    ids = [e["id"] for e in stream.events[lo:hi]]
    rig.wait_labels(ids)

    versions = rig.versions_of(lo, hi)
    assert versions[0] == "1" and set(versions[after - lo :]) == {"2"}
    # per partition, in offset order: version 1 then version 2, one switch
    labels = rig.outputs.labels
    for p in range(rig.settings.partitions):
        seq = sorted(
            (r["source"]["offset"], r["lfset_version"])
            for r in (labels[i] for i in ids)
            if r["source"]["partition"] == p
        )
        vs = [v for _, v in seq]
        switch = vs.index("2")
        assert set(vs[:switch]) <= {"1"} and set(vs[switch:]) == {"2"}, p
    status, _ = rig.call("GET", f"/lfsets/{NAME}/candidate")
    assert status == 404
