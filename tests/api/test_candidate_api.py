"""Candidate LF sets through the control API (in-memory backend), with a real labeler.

The labeler side runs in-process: a :class:`LabelerHandler` is handed the records the
control plane writes (``lfsets``, ``lfset-candidates``) and its ``shadow-reports``
outputs go back into the backend, as the topics would carry them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from streamlabel.api import ApiSettings, InMemoryBackend, create_api
from streamlabel.datasets import fraud_lfsets, make_fraud_stream
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import load_lfset
from streamlabel.pipeline import Labeler
from streamlabel.stream import LabelerHandler, RawEvent

WRITE = "w" * 8 + "0123456789"
READ = "r" * 8 + "0123456789"
TOKENS = f"alice:{WRITE}:write,bob:{READ}:read"
AS_ALICE = {"Authorization": f"Bearer {WRITE}"}
AS_BOB = {"Authorization": f"Bearer {READ}"}
NAME = "fraud-stream"


def spec_of(i: int) -> dict[str, Any]:
    """The shipped fraud LF set version ``i + 1`` as the ``lfsets`` contract's JSON."""
    return fraud_lfsets()[i].to_spec().model_dump(mode="json")


def worse_v1() -> dict[str, Any]:
    """v1 with card_present inverted: a broken push (card-present payments voted fraud)."""
    spec = spec_of(0)
    spec["version"] = "1-broken"
    for lf in spec["lfs"]:
        if lf["name"] == "card_present":
            lf["label"], lf["version"] = 1, "2"
    return spec


class Labelers:
    """One labeler worker in-process, fed what the control plane publishes."""

    def __init__(self, backend: InMemoryBackend) -> None:
        self.backend = backend
        active = backend.active_lfsets()[NAME].version
        assert active is not None
        labeler = Labeler(load_lfset(active.spec), OnlineLabelModel(2), clock=lambda: 0.0)
        self.handler = LabelerHandler(labeler, report_interval=1e-9, report_key="g/w1")
        self.seen: tuple[Any, ...] = (active.version, None)
        self.stream = make_fraud_stream(20_000, seed=4)
        self.offset = 0
        self.labels: list[dict[str, Any]] = []

    def _sync(self) -> None:
        active = self.backend.active_lfsets()[NAME].version
        cand = self.backend.candidates().get(NAME)
        assert active is not None
        if active.version != self.seen[0]:
            raw = RawEvent(NAME.encode(), json.dumps(active.spec).encode(), "lfsets", 0, 0)
            assert self.handler.offer_lfset(raw) == []
        if cand is not None and cand.id != self.seen[1]:
            raw = RawEvent(NAME.encode(), json.dumps(cand.to_dict()).encode(), "c", 0, 0)
            assert self.handler.offer_candidate(raw) == []
        self.seen = (active.version, None if cand is None else cand.id)

    def _collect(self, outputs: list[Any]) -> None:
        for o in outputs:
            if o.topic == "shadow-reports":
                self.backend.add_shadow_report(o.value)
            elif o.topic == "labels":
                self.labels.append(dict(o.value))

    def run(self, n: int, batch: int = 500, gold_every: int = 3) -> None:
        """Label the next ``n`` events; late gold for every ``gold_every``-th."""
        s = self.stream
        for a in range(self.offset, self.offset + n, batch):
            self._sync()
            b = min(self.offset + n, a + batch)
            raws = [
                RawEvent(b"e", json.dumps(e).encode(), "events", 0, i)
                for i, e in zip(range(a, b), s.events[a:b], strict=True)
            ]
            self._collect(self.handler(raws))
            gold = [
                RawEvent(
                    None,
                    json.dumps(
                        {
                            "event_id": s.events[i]["id"],
                            "label": int(s.y[i]),
                            "source": "cb",
                            "at": 1,
                        }
                    ).encode(),
                    "feedback",
                    0,
                    i,
                )
                for i in range(a, b)
                if i % gold_every == 0
            ]
            self._collect(self.handler.on_feedback(gold))
        self.offset += n


@pytest.fixture
def backend() -> InMemoryBackend:
    return InMemoryBackend()


@pytest.fixture
def client(backend: InMemoryBackend) -> TestClient:
    c = TestClient(create_api(ApiSettings(tokens=TOKENS), backend))
    r = c.post("/lfsets", json={"spec": spec_of(0), "reason": "starter"}, headers=AS_ALICE)
    assert r.status_code == 200, r.json()
    return c


def deploy(client: TestClient, **body: Any) -> Any:
    return client.post(f"/lfsets/{NAME}/candidate", json=body, headers=AS_ALICE)


def test_deploy_is_checked_before_anything_is_written(
    client: TestClient, backend: InMemoryBackend
) -> None:
    assert client.get(f"/lfsets/{NAME}/candidate", headers=AS_BOB).status_code == 404
    assert client.get("/lfsets/nope/candidate", headers=AS_BOB).json()["error"] == "not_found"
    r = client.post(f"/lfsets/{NAME}/candidate", json={"version": "1", "reason": "x"})
    assert r.status_code == 401
    r = client.post(
        f"/lfsets/{NAME}/candidate", json={"spec": spec_of(1), "reason": "x"}, headers=AS_BOB
    )
    assert r.status_code == 403
    assert deploy(client, spec=spec_of(1)).status_code == 422  # no reason
    r = deploy(client, reason="x")
    assert (r.status_code, r.json()["field"]) == (422, "version")  # neither version nor spec
    r = deploy(client, reason="x", version="1", spec=spec_of(1))
    assert r.status_code == 422  # both
    r = deploy(client, reason="x", version="9")
    assert r.status_code == 404 and "no version '9'" in r.json()["reason"]
    r = deploy(client, reason="x", version="1")
    assert (r.status_code, r.json()["error"]) == (409, "unchanged")  # the active version
    bad = spec_of(1)
    bad["lfs"][0]["label"] = 5
    r = deploy(client, reason="x", spec=bad)
    assert r.status_code == 422 and (r.json()["lf"], r.json()["field"]) == (
        bad["lfs"][0]["name"],
        "label",
    )
    other = spec_of(1)  # scam_words@1 is published (in v1) with other logic
    (lf,) = [lf for lf in other["lfs"] if lf["name"] == "scam_words"]
    lf["when"] = {"kind": "threshold", "field": "amount", "op": "gt", "value": 1}
    r = deploy(client, reason="x", spec={**other, "version": "3"})
    assert r.status_code == 409 and r.json()["error"] == "version_conflict"  # logic, same id
    r = deploy(client, reason="x", spec={**spec_of(1), "name": "other"})
    assert (r.status_code, r.json()["field"]) == (422, "name")
    assert backend.candidates() == {} and [e.action for e in backend.audit()] == ["lfset.push"]

    r = deploy(client, reason="gift-card cashouts moved", spec=spec_of(1))
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["status"], body["version"], body["active_version"]) == ("deployed", "2", "1")
    assert body["diff"]["changed"] == [{"from": "gift_card_cashout@1", "to": "gift_card_cashout@2"}]
    shown = client.get(f"/lfsets/{NAME}/candidate", headers=AS_BOB).json()
    assert (shown["version"], shown["report"], shown["verdict"]) == ("2", None, "undecided")
    assert shown["deployed"]["actor"] == "alice"
    audit = backend.audit()[-1]
    assert (audit.action, audit.reason) == ("lfset.candidate.deploy", "gift-card cashouts moved")
    assert client.get(f"/lfsets/{NAME}", headers=AS_BOB).json()["version"] == "1"  # unchanged


def test_a_worse_candidate_is_shown_worse_and_promotion_needs_confirmation(
    client: TestClient, backend: InMemoryBackend
) -> None:
    labelers = Labelers(backend)
    labelers.run(3000)
    assert deploy(client, reason="try it", spec=worse_v1()).status_code == 200
    labelers.run(6000)
    shown = client.get(f"/lfsets/{NAME}/candidate", headers=AS_BOB).json()
    report = shown["report"]
    assert shown["verdict"] == report["verdict"] == "worse"
    assert report["gold"]["candidate_accuracy"] < report["gold"]["active_accuracy"]
    assert report["n"] == 6000 and report["gold"]["n"] == 2000 and shown["workers"][0]["n"] == 6000
    assert sum(report["flips"].values()) > 0 and report["agreement"] < 1
    assert {row["lf"] for row in report["lfs"]} == set(load_lfset(worse_v1()).ids)

    # the status page shows it beside the active version
    snap = client.get("/status.json", headers=AS_BOB).json()
    cand = snap["candidate"]
    assert (cand["version"], cand["active_version"], cand["verdict"]) == ("1-broken", "1", "worse")
    assert cand["gold"]["candidate_accuracy"] == report["gold"]["candidate_accuracy"]
    page = client.get("/status", headers=AS_BOB).text
    assert "Candidate LF set v1-broken beside v1" in page and ">worse</b>" in page
    assert "card_present@2 *" in page

    r = client.post(
        f"/lfsets/{NAME}/candidate/promote", json={"reason": "ship it"}, headers=AS_ALICE
    )
    assert r.status_code == 409
    err = r.json()
    assert (err["error"], err["field"]) == ("candidate_worse", "confirm")
    assert "worse" in err["reason"] and "confirm" in err["reason"]
    assert client.get(f"/lfsets/{NAME}", headers=AS_BOB).json()["version"] == "1"
    assert client.get(f"/lfsets/{NAME}/candidate", headers=AS_BOB).status_code == 200

    r = client.post(
        f"/lfsets/{NAME}/candidate/promote",
        json={"reason": "on purpose", "confirm": True},
        headers=AS_ALICE,
    )
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["status"], body["version"], body["verdict"], body["confirmed"]) == (
        "promoted",
        "1-broken",
        "worse",
        True,
    )
    assert client.get(f"/lfsets/{NAME}", headers=AS_BOB).json()["version"] == "1-broken"
    assert client.get(f"/lfsets/{NAME}/candidate", headers=AS_BOB).status_code == 404
    promote = backend.audit()[-1]
    assert promote.action == "lfset.promote" and promote.details["candidate"]["confirmed"]
    versions = client.get(f"/lfsets/{NAME}/versions", headers=AS_BOB).json()
    assert [(v["version"], v["action"]) for v in versions] == [
        ("1", "push"),
        ("1-broken", "promote"),
    ]
    labelers.run(500)
    assert {r["lfset_version"] for r in labelers.labels[-500:]} == {"1-broken"}
    assert labelers.handler.labeler.candidate is None


def test_a_better_candidate_promoted_mid_stream_labels_the_next_batch(
    client: TestClient, backend: InMemoryBackend
) -> None:
    labelers = Labelers(backend)
    labelers.run(labelers.stream.phase("tactic_change").start)
    assert deploy(client, reason="answer the tactic change", spec=spec_of(1)).status_code == 200
    labelers.run(3000)
    report = client.get(f"/lfsets/{NAME}/candidate", headers=AS_BOB).json()["report"]
    assert report["gold"]["candidate_accuracy"] > report["gold"]["active_accuracy"]
    assert report["verdict"] in ("better", "undecided")
    before = len(labelers.labels)
    r = client.post(
        f"/lfsets/{NAME}/candidate/promote", json={"reason": "better"}, headers=AS_ALICE
    )
    assert r.status_code == 200 and r.json()["version"] == "2" and not r.json()["confirmed"]
    labelers.run(500)
    assert {r["lfset_version"] for r in labelers.labels[:before]} == {"1"}
    assert {r["lfset_version"] for r in labelers.labels[before:]} == {"2"}


def test_discard_and_a_published_version_as_candidate(
    client: TestClient, backend: InMemoryBackend
) -> None:
    r = client.post("/lfsets", json={"spec": spec_of(1), "reason": "v2"}, headers=AS_ALICE)
    assert r.status_code == 200
    assert deploy(client, reason="was v1 better?", version="1").status_code == 200
    r = client.post(f"/lfsets/{NAME}/candidate/discard", json={"reason": "no"}, headers=AS_BOB)
    assert r.status_code == 403
    r = client.post(f"/lfsets/{NAME}/candidate/discard", json={"reason": "no"}, headers=AS_ALICE)
    assert r.status_code == 200 and r.json()["status"] == "discarded"
    assert client.get(f"/lfsets/{NAME}/candidate", headers=AS_BOB).status_code == 404
    assert backend.audit()[-1].action == "lfset.candidate.discard"
    r = client.post(f"/lfsets/{NAME}/candidate/discard", json={"reason": "no"}, headers=AS_ALICE)
    assert r.status_code == 404

    # a published version promoted again is republished as a new version with its content
    assert deploy(client, reason="try v1 again", version="1").status_code == 200
    r = client.post(f"/lfsets/{NAME}/candidate/promote", json={"reason": "yes"}, headers=AS_ALICE)
    assert r.status_code == 200
    assert (r.json()["version"], r.json()["rollback_of"]) == ("3", "1")
    shown = client.get(f"/lfsets/{NAME}", headers=AS_BOB).json()
    assert shown["version"] == "3" and shown["content_hash"] == fraud_lfsets()[0].content_hash
