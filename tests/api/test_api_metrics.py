"""The control API's ``/metrics``: requests by route template, replay jobs."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from streamlabel.api import ApiSettings, InMemoryBackend, create_api
from streamlabel.metrics import CONTENT_TYPE, Metrics

from .test_api_replay import AS_ALICE, AS_BOB, TOKENS, Host, body, spec, wait_done


def test_requests_are_counted_by_route_template_method_and_status() -> None:
    metrics = Metrics()
    client = TestClient(create_api(ApiSettings(tokens=TOKENS), InMemoryBackend(), metrics))
    get = metrics.registry.get_sample_value
    assert client.get("/healthz").status_code == 200
    assert client.get("/lfsets").status_code == 401
    r = client.post("/lfsets", json={"spec": spec(1), "reason": "v1"}, headers=AS_ALICE)
    assert r.status_code == 200
    for _ in range(2):
        assert client.get("/lfsets/fraud-stream", headers=AS_BOB).status_code == 200
    assert client.get("/lfsets/nope", headers=AS_BOB).status_code == 404
    assert client.get("/no/such/path").status_code == 404
    count = "streamlabel_api_requests_total"
    assert get(count, {"route": "/healthz", "method": "GET", "status": "200"}) == 1
    assert get(count, {"route": "/lfsets", "method": "GET", "status": "401"}) == 1
    assert get(count, {"route": "/lfsets", "method": "POST", "status": "200"}) == 1
    # One series per template, whatever the set's name: bounded labels.
    assert get(count, {"route": "/lfsets/{name}", "method": "GET", "status": "200"}) == 2
    assert get(count, {"route": "/lfsets/{name}", "method": "GET", "status": "404"}) == 1
    assert get(count, {"route": "unmatched", "method": "GET", "status": "404"}) == 1
    seconds = "streamlabel_api_request_duration_seconds_count"
    assert get(seconds, {"route": "/lfsets/{name}"}) == 3
    # The exposition itself needs no token (counts only, like /healthz).
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"] == CONTENT_TYPE
    assert (
        'streamlabel_api_requests_total{method="GET",route="/lfsets/{name}",status="200"} 2.0'
        in (r.text)
    )


def test_no_metrics_route_without_a_bundle() -> None:
    client = TestClient(create_api(ApiSettings(tokens=TOKENS), InMemoryBackend()))
    assert client.get("/metrics").status_code == 404


def test_replay_jobs_count_their_outcome_and_revisions() -> None:
    host = Host()
    metrics = Metrics()
    backend = InMemoryBackend(replayer=host.replayer())
    client = TestClient(create_api(ApiSettings(tokens=TOKENS), backend, metrics))
    for v in (1, 2):
        r = client.post("/lfsets", json={"spec": spec(v), "reason": f"v{v}"}, headers=AS_ALICE)
        assert r.status_code == 200
    get = metrics.registry.get_sample_value
    r = client.post("/replays", json=body(host), headers=AS_ALICE)
    assert r.status_code == 202
    done = wait_done(client, r.json()["job_id"])
    assert done["state"] == "done"
    assert get("streamlabel_replay_jobs_total", {"outcome": "done"}) == 1
    assert get("streamlabel_replay_revisions_total") == len(host.revisions) > 0
    assert get("streamlabel_replay_jobs_running") == 0


def test_a_failed_replay_job_is_counted() -> None:
    def broken(request: Any, lfset: Any, progress: Any) -> dict[str, Any]:
        raise RuntimeError("broker gone")

    host = Host()
    metrics = Metrics()
    backend = InMemoryBackend(replayer=broken)
    client = TestClient(create_api(ApiSettings(tokens=TOKENS), backend, metrics))
    for v in (1, 2):
        client.post("/lfsets", json={"spec": spec(v), "reason": f"v{v}"}, headers=AS_ALICE)
    job = client.post("/replays", json=body(host), headers=AS_ALICE).json()
    assert wait_done(client, job["job_id"])["state"] == "failed"
    get = metrics.registry.get_sample_value
    assert get("streamlabel_replay_jobs_total", {"outcome": "failed"}) == 1
    assert get("streamlabel_replay_jobs_total", {"outcome": "done"}) is None
    assert get("streamlabel_replay_revisions_total") == 0
