"""``GET /trace/{event_id}`` of the control API, on the in-memory backend (and a dead broker)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from streamlabel.api import ApiSettings, BackendUnavailableError, InMemoryBackend, create_api
from streamlabel.api._kafka import KafkaBackend
from streamlabel.pipeline import Trace, TraceRecord, build_trace
from streamlabel.stream import StreamSettings

WRITE = "w" * 8 + "trace01234"
READ = "r" * 8 + "trace01234"
TOKENS = f"alice:{WRITE}:write,bob:{READ}:read"
AS_BOB = {"Authorization": f"Bearer {READ}"}

LABEL = {
    "event_id": "tx/1 a",
    "label": 1,
    "posterior": [0.2, 0.8],
    "lfset": "card-fraud",
    "lfset_version": "2",
    "labelmodel_version": "3.1",
    "votes": {"big@1": 1, "night@1": -1},
    "source": {"topic": "events", "partition": 1, "offset": 41},
}
RECORDS = [
    TraceRecord("events", 1, 41, 1.0, {"id": "tx/1 a", "payload": {"amount": 900}}),
    TraceRecord("labels", 0, 7, 2.0, LABEL),
    TraceRecord(
        "labels",
        0,
        9,
        4.0,
        {**LABEL, "label": 0, "revision": {"event_id": "tx/1 a", "label": 0, "replay_id": "r1"}},
    ),
    TraceRecord("predictions", 0, 3, 3.0, {"event_id": "tx/1 a", "version": "v7", "score": 0.9}),
    TraceRecord("feedback", 0, 5, 5.0, {"event_id": "tx/1 a", "label": 0, "source": "chargeback"}),
    TraceRecord("labels", 0, 8, 2.5, {**LABEL, "event_id": "other"}),
]


class Tracer:
    """Traces over a fixed list of records; counts its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, event_id: str) -> Trace:
        self.calls.append(event_id)
        return build_trace(event_id, RECORDS)


def client_for(backend: InMemoryBackend | KafkaBackend, **settings: Any) -> TestClient:
    return TestClient(create_api(ApiSettings(tokens=TOKENS, **settings), backend))


def test_trace_answers_the_chain_to_a_read_token() -> None:
    tracer = Tracer()
    client = client_for(InMemoryBackend(tracer=tracer))
    r = client.get("/trace/tx%2F1%20a", headers=AS_BOB)
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body == build_trace("tx/1 a", RECORDS).to_dict()
    assert tracer.calls == ["tx/1 a"]
    assert body["found"] is True
    assert body["event"]["offset"] == 41
    assert [x["offset"] for x in body["labels"]] == [7]
    assert body["labels"][0]["value"]["votes"] == {"big@1": 1, "night@1": -1}
    assert [x["value"]["replay_id"] for x in body["revisions"]] == ["r1"]
    assert body["predictions"][0]["value"]["version"] == "v7"
    assert body["feedback"][0]["value"]["source"] == "chargeback"
    assert body["current_label"]["label"] == 0 and body["current_label"]["source"] == "revision"
    # An unencoded slash reaches the same id.
    assert client.get("/trace/tx/1 a", headers=AS_BOB).json() == body


def test_trace_needs_a_token() -> None:
    tracer = Tracer()
    client = client_for(InMemoryBackend(tracer=tracer))
    r = client.get("/trace/tx1")
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert r.headers["WWW-Authenticate"] == "Bearer"
    bad = client.get("/trace/tx1", headers={"Authorization": "Bearer " + "x" * 20})
    assert bad.status_code == 401
    assert tracer.calls == []  # refused before the backend is asked
    # A write token reads too; with public reads no token is needed.
    writer = {"Authorization": f"Bearer {WRITE}"}
    assert client.get("/trace/tx%2F1%20a", headers=writer).status_code == 200
    public = client_for(InMemoryBackend(tracer=tracer), public_reads=True)
    assert public.get("/trace/tx%2F1%20a").status_code == 200


def test_an_event_with_nothing_retained_is_404() -> None:
    client = client_for(InMemoryBackend(tracer=Tracer()))
    r = client.get("/trace/never-seen", headers=AS_BOB)
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "not_found"
    assert "never-seen" in body["reason"] and "retention" in body["reason"]


def test_a_backend_without_a_tracer_answers_501() -> None:
    r = client_for(InMemoryBackend()).get("/trace/tx1", headers=AS_BOB)
    assert r.status_code == 501 and r.json()["error"] == "unsupported"


def test_an_unavailable_backend_is_503() -> None:
    def down(event_id: str) -> Trace:
        raise BackendUnavailableError("no Kafka broker answers at 127.0.0.1:1")

    r = client_for(InMemoryBackend(tracer=down)).get("/trace/tx1", headers=AS_BOB)
    assert r.status_code == 503
    assert r.json()["error"] == "unavailable" and "127.0.0.1:1" in r.json()["reason"]


def test_the_kafka_backend_maps_a_dead_broker_to_503() -> None:
    backend = KafkaBackend(StreamSettings(brokers=["127.0.0.1:1"], topic_prefix="t."), timeout=1)
    t0 = time.monotonic()
    r = client_for(backend).get("/trace/tx1", headers=AS_BOB)
    assert r.status_code == 503, r.json()
    assert r.json()["error"] == "unavailable" and "127.0.0.1:1" in r.json()["reason"]
    assert time.monotonic() - t0 < 20


def test_the_kafka_backend_maps_a_read_timeout_to_503(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlabel.stream._trace as stream_trace

    def slow(settings: StreamSettings, event_id: str, *, timeout: float = 30.0) -> Trace:
        assert timeout == 2.5  # the API's per-request broker timeout
        raise TimeoutError(f"trace of {event_id!r}: partitions not read to their end")

    monkeypatch.setattr(stream_trace, "read_trace", slow)
    backend = KafkaBackend(StreamSettings(brokers=["127.0.0.1:1"]), timeout=2.5)
    r = client_for(backend).get("/trace/tx1", headers=AS_BOB)
    assert r.status_code == 503
    assert "not read to their end" in r.json()["reason"]


def test_the_route_is_in_the_openapi_schema() -> None:
    schema = client_for(InMemoryBackend()).get("/openapi.json").json()
    (path,) = [p for p in schema["paths"] if p.startswith("/trace/")]
    assert "get" in schema["paths"][path]
    assert schema["paths"][path]["get"]["tags"] == ["audit"]
