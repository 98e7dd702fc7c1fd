"""The control API over the in-memory backend: auth, validation, diff, rollback, audit."""

from __future__ import annotations

import copy
import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient

from streamlabel.api import (
    ApiSettings,
    ControlPlane,
    InMemoryBackend,
    Principal,
    TokenError,
    Tokens,
    create_api,
)
from streamlabel.lf import LFSet
from streamlabel.models import ModelCommand

WRITE = "w" * 8 + "0123456789"
READ = "r" * 8 + "0123456789"
TOKENS = f"alice:{WRITE}:write,bob:{READ}:read"
AS_ALICE = {"Authorization": f"Bearer {WRITE}"}
AS_BOB = {"Authorization": f"Bearer {READ}"}

SPEC: dict[str, Any] = {
    "name": "tx",
    "version": "1",
    "cardinality": 2,
    "label_names": ["legit", "fraud"],
    "resources": {"risky": ["gambling", "crypto"]},
    "lfs": [
        {
            "name": "risky",
            "label": 1,
            "when": {"kind": "lookup", "field": "merchant_category", "resource": "risky"},
        },
        {
            "name": "big_amount",
            "label": 1,
            "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 1500},
        },
        {
            "name": "refund",
            "label": 0,
            "when": {"kind": "regex", "field": "descriptor", "pattern": r"\brefund\b"},
        },
    ],
}


def spec_v2() -> dict[str, Any]:
    data = copy.deepcopy(SPEC)
    data["version"] = "2"
    data["lfs"][1]["version"] = "2"
    data["lfs"][1]["when"]["value"] = 1000
    del data["lfs"][2]
    data["lfs"].append(
        {
            "name": "night",
            "label": 1,
            "when": {"kind": "range", "field": "hour", "min": 0, "max": 4},
        }
    )
    return data


@pytest.fixture
def backend() -> InMemoryBackend:
    return InMemoryBackend()


@pytest.fixture
def client(backend: InMemoryBackend) -> TestClient:
    return TestClient(create_api(ApiSettings(tokens=TOKENS), backend))


def push(client: TestClient, spec: dict[str, Any], reason: str = "because") -> Any:
    return client.post("/lfsets", json={"spec": spec, "reason": reason}, headers=AS_ALICE)


def test_import_loads_no_web_framework_or_kafka_client() -> None:
    import subprocess

    code = (
        "import sys, streamlabel.api; "
        "print(sorted(m for m in ('fastapi','uvicorn','kafka','faust') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------- auth


def test_writes_need_a_write_token(client: TestClient, backend: InMemoryBackend) -> None:
    body = {"spec": SPEC, "reason": "first"}
    r = client.post("/lfsets", json=body)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == "unauthorized"
    r = client.post("/lfsets", json=body, headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.json()["reason"] == "unknown bearer token"
    r = client.post("/lfsets", json=body, headers=AS_BOB)
    assert r.status_code == 403 and "'bob' has a read-only token" in r.json()["reason"]
    # auth is checked before the body: an invalid body without a token is still 401
    assert client.post("/lfsets", json={"spec": 1}).status_code == 401
    assert client.post("/lfsets", json={"spec": 1}, headers=AS_BOB).status_code == 403
    for path, payload in (
        ("/lfsets/tx/rollback", {"to": "1", "reason": "x"}),
        ("/models/fraud/promote", {"version": "v1", "reason": "x"}),
        ("/models/fraud/rollback", {"reason": "x"}),
    ):
        assert client.post(path, json=payload).status_code == 401
        assert client.post(path, json=payload, headers=AS_BOB).status_code == 403
    assert backend.lfset_versions() == [] and backend.audit() == []
    assert backend.model_commands_ == []
    r = client.post("/lfsets", json=body, headers=AS_ALICE)
    assert r.status_code == 200 and r.json()["status"] == "published"


def test_reads_need_a_token_unless_public(backend: InMemoryBackend) -> None:
    closed = TestClient(create_api(ApiSettings(tokens=TOKENS), backend))
    for path in ("/lfsets", "/audit", "/analysis", "/labelmodel", "/drift", "/models"):
        assert closed.get(path).status_code == 401, path
        assert closed.get(path, headers=AS_BOB).status_code == 200, path
    assert closed.get("/healthz").status_code == 200
    assert closed.get("/readyz").status_code == 200
    open_ = TestClient(create_api(ApiSettings(tokens=TOKENS, public_reads=True), backend))
    assert open_.get("/lfsets").status_code == 200
    assert open_.post("/lfsets", json={"spec": SPEC, "reason": "x"}).status_code == 401


def test_tokens_are_parsed_strictly_and_never_shown() -> None:
    t = Tokens.parse(TOKENS)
    assert t.authenticate(WRITE) == Principal("alice", "write")
    assert t.authenticate(READ) == Principal("bob", "read")
    assert t.authenticate(WRITE[:-1]) is None and t.authenticate("") is None
    assert WRITE not in repr(t) and WRITE not in repr(ApiSettings(tokens=TOKENS))
    for bad in (
        "alice:short:write",
        "alice:0123456789abcdef:admin",
        "alice:0123456789abcdef",
        f"a:{WRITE}:write,a:{READ}:read",
        f"a:{WRITE}:write,b:{WRITE}:read",
    ):
        with pytest.raises(TokenError) as info:
            Tokens.parse(bad)
        assert WRITE not in str(info.value) and "0123456789abcdef" not in str(info.value)


# ---------------------------------------------------------------------- validation


def test_invalid_spec_is_422_with_lf_and_field_and_nothing_applied(
    client: TestClient, backend: InMemoryBackend
) -> None:
    assert push(client, SPEC).status_code == 200
    bad = spec_v2()
    bad["lfs"][0]["label"] = 7
    r = push(client, bad)
    assert r.status_code == 422
    body = r.json()
    assert (body["lf"], body["field"]) == ("risky", "label")
    assert "outside 0..1" in body["reason"]

    bad = spec_v2()
    bad["lfs"][2]["when"]["kind"] = "regex"
    bad["lfs"][2]["when"] = {"kind": "regex", "field": "descriptor", "pattern": "(a+)+$"}
    r = push(client, bad)
    assert r.status_code == 422 and (r.json()["lf"], r.json()["field"]) == (
        "night",
        "when.pattern",
    )

    bad = spec_v2()
    bad["lfs"][1]["when"]["op"] = "bigger"
    r = push(client, bad)
    assert r.status_code == 422 and r.json()["lf"] == "big_amount"
    assert r.json()["field"] == "when.op"

    r = push(client, {**spec_v2(), "cardinality": 3, "label_names": None})
    assert r.status_code == 422 and r.json()["field"] == "cardinality"

    r = client.post("/lfsets", json={"spec": spec_v2()}, headers=AS_ALICE)
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = client.post("/lfsets", json={"spec": spec_v2(), "reason": ""}, headers=AS_ALICE)
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = client.post("/lfsets", json={"spec": "name: tx", "reason": "x"}, headers=AS_ALICE)
    assert r.status_code == 422 and r.json()["field"] == "spec"

    huge = spec_v2()
    huge["resources"]["risky"] = [f"category-{i:07d}" for i in range(60_000)]
    r = push(client, huge)
    assert r.status_code == 422 and r.json()["field"] == "spec" and "at most" in r.json()["reason"]

    # nothing half-applied: still one version, one audit entry, v1 active
    assert [v.version for v in backend.lfset_versions()] == ["1"]
    assert len(backend.audit()) == 1
    assert client.get("/lfsets/tx", headers=AS_BOB).json()["version"] == "1"


def test_version_conflicts_are_409(client: TestClient, backend: InMemoryBackend) -> None:
    assert push(client, SPEC).status_code == 200
    changed = copy.deepcopy(SPEC)
    changed["lfs"][1]["when"]["value"] = 10
    r = push(client, changed)  # same set version, other content
    assert r.status_code == 409
    assert "version '1' is already published with different content" in r.json()["reason"]
    changed["version"] = "2"  # new set version, but big_amount@1 changed logic
    r = push(client, changed)
    assert r.status_code == 409 and r.json()["lf"] == "big_amount"
    assert "'big_amount@1' changed logic but kept its version" in r.json()["reason"]
    r = push(client, SPEC)  # the active version again: no-op
    assert r.status_code == 200 and r.json()["status"] == "unchanged"
    assert push(client, spec_v2()).json()["status"] == "published"
    r = push(client, SPEC)  # an older version again: that is a rollback
    assert r.status_code == 409 and "roll back to it" in r.json()["reason"]
    assert [v.version for v in backend.lfset_versions()] == ["1", "2"]


# ---------------------------------------------------------------------- diff, versions


def test_list_show_versions_and_diff(client: TestClient) -> None:
    push(client, SPEC, "starter rules")
    r = push(client, spec_v2(), "big amounts start lower")
    assert r.json()["diff"] == {
        "added": ["night@1"],
        "removed": ["refund@1"],
        "changed": [{"from": "big_amount@1", "to": "big_amount@2"}],
    }
    (row,) = client.get("/lfsets", headers=AS_BOB).json()
    assert (row["name"], row["version"], row["n_lfs"], row["n_versions"]) == ("tx", "2", 3, 2)
    versions = client.get("/lfsets/tx/versions", headers=AS_BOB).json()
    assert [(v["version"], v["active"], v["actor"], v["reason"]) for v in versions] == [
        ("1", False, "alice", "starter rules"),
        ("2", True, "alice", "big amounts start lower"),
    ]
    shown = client.get("/lfsets/tx/versions/1", headers=AS_BOB).json()
    assert shown["spec"]["lfs"][2]["name"] == "refund" and shown["active"] is False
    d = client.get("/lfsets/tx/diff", params={"from": "1"}, headers=AS_BOB).json()
    assert (d["from"], d["to"], d["same_content"]) == ("1", "2", False)
    assert d["added"] == ["night@1"] and d["removed"] == ["refund@1"]
    (ch,) = d["changed"]
    assert (ch["from"], ch["to"]) == ("big_amount@1", "big_amount@2")
    assert (ch["old"]["when"]["value"], ch["new"]["when"]["value"]) == (1500, 1000)
    back = client.get("/lfsets/tx/diff", params={"from": "2", "to": "1"}, headers=AS_BOB).json()
    assert back["added"] == ["refund@1"] and back["removed"] == ["night@1"]
    r = client.get("/lfsets/tx/diff", params={"from": "9"}, headers=AS_BOB)
    assert r.status_code == 404 and "has no version '9' (versions: 1, 2)" in r.json()["reason"]
    r = client.get("/lfsets/nope", headers=AS_BOB)
    assert r.status_code == 404 and "no LF set named 'nope' (sets: tx)" in r.json()["reason"]


# ---------------------------------------------------------------------- rollback


def test_rollback_republishes_the_old_content_as_a_new_version(
    client: TestClient, backend: InMemoryBackend
) -> None:
    push(client, SPEC)
    push(client, spec_v2())
    r = client.post("/lfsets/tx/rollback", json={"to": "1"}, headers=AS_ALICE)
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = client.post(
        "/lfsets/tx/rollback", json={"to": "1", "reason": "v2 floods review"}, headers=AS_ALICE
    )
    assert r.status_code == 200, r.json()
    out = r.json()
    assert (out["status"], out["version"], out["rollback_of"]) == ("published", "3", "1")
    assert out["diff"]["added"] == ["refund@1"]
    active = client.get("/lfsets/tx", headers=AS_BOB).json()
    assert (active["version"], active["action"], active["rollback_of"]) == ("3", "rollback", "1")
    # the content (and so the labels' LF ids) is exactly version 1's
    v1 = LFSet.from_spec(SPEC)
    assert LFSet.from_spec(active["spec"]).content_hash == v1.content_hash
    assert LFSet.from_spec(active["spec"]).ids == v1.ids
    d = client.get("/lfsets/tx/diff", params={"from": "1", "to": "3"}, headers=AS_BOB).json()
    assert d["same_content"] is True and not (d["added"] or d["removed"] or d["changed"])
    # rolling back to what is active is refused, as is an unknown target or a used version
    r = client.post("/lfsets/tx/rollback", json={"to": "1", "reason": "again"}, headers=AS_ALICE)
    assert r.status_code == 409 and "already has the content of '1'" in r.json()["reason"]
    r = client.post("/lfsets/tx/rollback", json={"to": "7", "reason": "x"}, headers=AS_ALICE)
    assert r.status_code == 404
    r = client.post(
        "/lfsets/tx/rollback", json={"to": "2", "reason": "x", "version": "1"}, headers=AS_ALICE
    )
    assert r.status_code == 409 and "'1' of 'tx' is already used" in r.json()["reason"]
    r = client.post(
        "/lfsets/tx/rollback",
        json={"to": "2", "reason": "v2 after all", "version": "2b"},
        headers=AS_ALICE,
    )
    assert r.status_code == 200 and r.json()["version"] == "2b"
    assert [v.version for v in backend.lfset_versions()] == ["1", "2", "3", "2b"]


def test_rollback_version_names_for_non_numeric_versions() -> None:
    cp = ControlPlane(InMemoryBackend())
    alice = Principal("alice", "write")
    cp.push({**SPEC, "version": "a"}, alice, "r")
    cp.push({**spec_v2(), "version": "b"}, alice, "r")
    assert cp.rollback("tx", "a", alice, "r")["version"] == "a-rollback3"


# ---------------------------------------------------------------------- audit


def test_every_change_is_audited_with_who_when_what_why(client: TestClient) -> None:
    push(client, SPEC, "starter rules")
    push(client, spec_v2(), "tighten big_amount")
    client.post("/lfsets/tx/rollback", json={"to": "1", "reason": "v2 misfires"}, headers=AS_ALICE)
    client.post(
        "/models/fraud/promote", json={"version": "v2", "reason": "better AUC"}, headers=AS_ALICE
    )
    entries = client.get("/audit", headers=AS_BOB).json()
    assert [(e["actor"], e["action"], e["target"], e["reason"]) for e in entries] == [
        ("alice", "lfset.push", "lfset:tx", "starter rules"),
        ("alice", "lfset.push", "lfset:tx", "tighten big_amount"),
        ("alice", "lfset.rollback", "lfset:tx", "v2 misfires"),
        ("alice", "model.promote", "model:fraud", "better AUC"),
    ]
    assert entries[1]["details"]["version"] == "2" and entries[1]["details"]["previous"] == "1"
    assert entries[2]["details"]["rollback_of"] == "1"
    assert entries[0]["at"] <= entries[1]["at"] <= entries[3]["at"]
    assert len({e["id"] for e in entries}) == 4
    assert client.get("/audit", params={"limit": 1}, headers=AS_BOB).json() == entries[-1:]


# ---------------------------------------------------------------------- models


def test_model_commands_go_to_the_trainer_and_are_checked_against_its_registry(
    client: TestClient, backend: InMemoryBackend
) -> None:
    r = client.post(
        "/models/fraud/promote", json={"version": "v2", "reason": "ops"}, headers=AS_ALICE
    )
    assert r.status_code == 202 and r.json()["status"] == "accepted"
    (cmd,) = backend.model_commands_
    assert cmd == ModelCommand(
        r.json()["command_id"], "fraud", "promote", "v2", "alice", "ops", cmd.at
    )
    view = {
        "champion": "v2",
        "versions": [{"version": "v1"}, {"version": "v2"}],
        "history": [
            {"action": "promote", "version": "v1"},
            {"action": "promote", "version": "v2"},
        ],
    }
    backend.set_model("fraud", {"version": {"version": "v2"}}, view)
    r = client.post(
        "/models/fraud/promote", json={"version": "v9", "reason": "x"}, headers=AS_ALICE
    )
    assert r.status_code == 404 and "no version 'v9' (versions: v1, v2)" in r.json()["reason"]
    r = client.post(
        "/models/fraud/promote", json={"version": "v2", "reason": "x"}, headers=AS_ALICE
    )
    assert r.status_code == 409
    r = client.post("/models/fraud/rollback", json={"reason": "v2 drifts"}, headers=AS_ALICE)
    assert r.status_code == 202 and backend.model_commands_[-1].action == "rollback"
    backend.set_model("fraud", None, {**view, "history": view["history"][:1]})
    r = client.post("/models/fraud/rollback", json={"reason": "x"}, headers=AS_ALICE)
    assert r.status_code == 409 and "no previous champion" in r.json()["reason"]
    models = client.get("/models", headers=AS_BOB).json()
    assert models["fraud"]["registry"]["champion"] == "v2"


# ---------------------------------------------------------------------- read models


def test_analysis_labelmodel_and_drift_read_models(
    client: TestClient, backend: InMemoryBackend
) -> None:
    from streamlabel.api import describe_label_model
    from streamlabel.labelmodel import OnlineLabelModel

    push(client, SPEC)
    rows = [
        {"event_id": "e1", "lfset": "tx", "lfset_version": "1", "votes": {"risky@1": 1},
         "posterior": [0.1, 0.9]},
        {"event_id": "e2", "lfset": "tx", "lfset_version": "1",
         "votes": {"risky@1": 1, "refund@1": 0}, "posterior": [0.5, 0.5]},
        {"event_id": "e3", "lfset": "tx", "lfset_version": "1", "votes": {},
         "posterior": [0.6, 0.4]},
    ]  # fmt: skip
    backend.add_labels(rows)
    backend.add_gold("e1", 1)
    backend.add_gold("e2", 0)
    model = OnlineLabelModel(cardinality=2)
    model.learn_one({"risky@1": 1, "big_amount@1": 1})
    backend.set_labelmodel_params(
        "g", describe_label_model(model, group="g", lfset="tx", lfset_version="1")
    )
    a = client.get("/analysis", headers=AS_BOB).json()
    assert (a["lfset"], a["n_labels"], a["n_gold"], a["cardinality"]) == ("tx", 3, 2, 2)
    lfs = {x["lf"]: x for x in a["all_time"]["lfs"]}
    assert set(lfs) == {"risky@1", "big_amount@1", "refund@1"}
    assert lfs["risky@1"]["coverage"] == pytest.approx(2 / 3)
    assert lfs["risky@1"]["conflicts"] == pytest.approx(1 / 3)
    assert (lfs["risky@1"]["correct"], lfs["risky@1"]["incorrect"]) == (1, 1)
    assert lfs["refund@1"]["emp_acc"] == 1.0 and lfs["big_amount@1"]["coverage"] == 0.0
    assert lfs["risky@1"]["est_acc"] is not None and lfs["refund@1"]["est_acc"] is None
    assert a["recent"]["overall"]["n_rows"] == 3
    (params,) = client.get("/labelmodel", headers=AS_BOB).json()
    assert params["group"] == "g" and len(params["class_balance"]) == 2
    backend.add_drift({"kind": "drift", "event": {"monitor": "coverage:risky@1"}})
    (ev,) = client.get("/drift", headers=AS_BOB).json()
    assert ev["event"]["monitor"] == "coverage:risky@1"


def test_openapi_schema_lists_the_routes(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/lfsets",
        "/lfsets/{name}",
        "/lfsets/{name}/versions",
        "/lfsets/{name}/diff",
        "/lfsets/{name}/rollback",
        "/analysis",
        "/labelmodel",
        "/drift",
        "/models",
        "/models/{name}/promote",
        "/models/{name}/rollback",
        "/audit",
        "/healthz",
        "/readyz",
    } <= paths
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_readyz_is_503_when_the_backend_is_down(backend: InMemoryBackend) -> None:
    backend.ready = False
    client = TestClient(create_api(ApiSettings(tokens=TOKENS), backend))
    assert client.get("/readyz").status_code == 503


def test_status_page_shows_lfs_with_history_drift_and_models(
    backend: InMemoryBackend, client: TestClient
) -> None:
    assert push(client, SPEC).status_code == 200
    assert client.get("/status").status_code == 401  # reads need a token here
    rows = [
        {
            "event_id": f"e{i}",
            "lfset": "tx",
            "lfset_version": "1",
            "votes": {"risky@1": 1} if i % 3 == 0 else {"refund@1": 0},
            "posterior": [0.3, 0.7] if i % 3 == 0 else [0.9, 0.1],
        }
        for i in range(60)
    ]
    backend.add_labels(rows)
    backend.set_labelmodel_params(
        "g",
        {"lfset": "tx", "class_balance": [0.8, 0.2], "lf_accuracies": {"risky@1": 0.91}},
    )
    backend.add_drift({"kind": "drift", "monitor": "coverage:risky@1", "index": 40})
    backend.set_model(
        "fraud",
        registry={
            "champion": "v2",
            "versions": [
                {"version": "v1", "number": 1, "metrics": {"accuracy": 0.9}},
                {"version": "v2", "number": 2, "metrics": {"accuracy": 0.95, "auc": 0.97}},
            ],
        },
    )
    snap = client.get("/status.json", headers=AS_BOB).json()
    lfs = {lf["id"]: lf for lf in snap["lfs"]}
    assert lfs["risky@1"]["estimated_accuracy"] == 0.91
    assert lfs["risky@1"]["coverage"] == pytest.approx(20 / 60)
    assert len(lfs["risky@1"]["history"]) == 1
    assert snap["serving"] == {"model": "fraud", "version": "v2"}
    assert [m["served"] for m in snap["models"]] == [False, True]
    assert [d["monitor"] for d in snap["drift"]] == ["coverage:risky@1"]
    page = client.get("/status", headers=AS_BOB)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "risky@1" in html and "coverage:risky@1" in html and html.count("<svg") >= 3
    assert "v2" in html and "LF set tx" in html
