"""The control API on the session's Kafka broker, with a running labeler.

``streamlabel api`` runs as a subprocess over the real topics; a labeler worker subprocess
follows ``lfsets``. An LF set pushed through the API is what the labeler applies next; a
rollback through the API (driven by ``streamlabel lf rollback --api``) makes the labeler
apply the old content under a new version; auth, validation and audit hold on the wire;
the CLI refuses with the same words through the API and straight against Kafka.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from streamlabel.cli import main as cli_main
from streamlabel.datasets import make_transactions
from streamlabel.lf import LFSet
from streamlabel.stream import StreamSettings, ensure_topics
from streamlabel.stream._process import worker_env

from .test_labeler_service import (
    SPEC,
    Outputs,
    Worker,
    event_json,
    produce,
    spec_v2,
)

pytestmark = pytest.mark.kafka

WRITE = "writer-token-0123456789"
READ = "reader-token-0123456789"
TOKENS = f"ops:{WRITE}:write,viewer:{READ}:read"
WAIT = 45.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Api:
    """``streamlabel api`` as a subprocess, and a tiny HTTP client for it."""

    def __init__(self, settings: StreamSettings, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {**worker_env(settings), "STREAMLABEL_API_TOKENS": TOKENS}
        code = "import sys; from streamlabel.cli import main; sys.exit(main(sys.argv[1:]))"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, "api", "--port", str(self.port)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + WAIT
        while True:
            assert self.proc.poll() is None, log.read_text()
            try:
                if self.call("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        req = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=20)


@pytest.fixture
def settings(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> StreamSettings:
    s = StreamSettings(
        brokers=[kafka_bootstrap],
        topic_prefix=topic_prefix,
        partitions=2,
        batch_size=100,
        batch_max_wait=0.1,
        datadir=tmp_path / "faust",
        lfset="tx",
    )
    ensure_topics(s)
    return s


@pytest.fixture
def api(settings: StreamSettings, tmp_path: Path) -> Iterator[Api]:
    server = Api(settings, tmp_path / "api.log")
    try:
        yield server
    finally:
        server.stop()


def cli(
    capsys: pytest.CaptureFixture[str], settings: StreamSettings, *argv: str, via: str | None
) -> tuple[int, str, str]:
    flags = (
        ["--api", via]
        if via
        else ["--brokers", settings.brokers[0], "--prefix", settings.topic_prefix]
    )
    capsys.readouterr()
    code = cli_main([*argv, *flags])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_lf_set_pushed_through_the_api_is_what_the_labeler_applies_next(
    settings: StreamSettings,
    api: Api,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # auth on the wire: no token 401, read-only 403; a validation error is 422 with the field
    status, body = api.call("POST", "/lfsets", {"spec": SPEC, "reason": "first"})
    assert status == 401 and body["error"] == "unauthorized"
    status, body = api.call("POST", "/lfsets", {"spec": SPEC, "reason": "first"}, READ)
    assert status == 403
    bad = json.loads(json.dumps(SPEC))
    bad["lfs"][3]["when"]["pattern"] = "(a*)*"
    status, body = api.call("POST", "/lfsets", {"spec": bad, "reason": "first"}, WRITE)
    assert status == 422 and (body["lf"], body["field"]) == ("refund", "when.pattern")
    status, body = api.call("GET", "/lfsets", token=READ)
    assert status == 200 and body == []  # nothing half-applied

    status, body = api.call("POST", "/lfsets", {"spec": SPEC, "reason": "starter rules"}, WRITE)
    assert status == 200 and body["status"] == "published", body
    worker = Worker(settings, tmp_path / "worker.log")
    try:
        worker.wait_log(r"streamlabel worker ready .*version '1' from topic")
        producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
        outputs = Outputs(settings)
        txs = make_transactions(300, seed=7)
        items = [(tx["entity"].encode(), event_json(tx)) for tx in txs]
        events = settings.topic("events")

        produce(producer, events, items[:100])
        outputs.poll_until(lambda: len(outputs.labels) >= 100)

        status, body = api.call(
            "POST", "/lfsets", {"spec": spec_v2(), "reason": "lower big_amount"}, WRITE
        )
        assert status == 200 and body["version"] == "2"
        assert body["diff"]["changed"] == [{"from": "big_amount@1", "to": "big_amount@2"}]
        worker.wait_log(r"LF set 'tx' version '2' received", timeout=WAIT)
        produce(producer, events, items[100:200])
        outputs.poll_until(lambda: len(outputs.labels) >= 200)

        # the rollback goes through the CLI, through the API
        monkeypatch.setenv("STREAMLABEL_API_TOKEN", WRITE)
        code, out, err = cli(
            capsys, settings, "lf", "rollback", "tx", "1", "--reason", "v2 floods review",
            "--json", via=api.url,
        )  # fmt: skip
        assert code == 0, err
        rolled = json.loads(out)
        assert (rolled["version"], rolled["rollback_of"]) == ("3", "1")
        worker.wait_log(r"LF set 'tx' version '3' received", timeout=WAIT)
        produce(producer, events, items[200:])
        outputs.poll_until(lambda: len(outputs.labels) >= 300)

        labels = outputs.labels
        version = [labels[tx["id"]]["lfset_version"] for tx in txs]
        assert set(version[:100]) == {"1"}
        assert set(version[100:200]) == {"2"}
        assert set(version[200:]) == {"3"}
        v1_ids, v2_ids = set(LFSet.from_spec(SPEC).ids), set(LFSet.from_spec(spec_v2()).ids)
        voted = [set(labels[tx["id"]]["votes"]) for tx in txs]
        assert set().union(*voted[100:200]) <= v2_ids
        assert set().union(*voted[200:]) <= v1_ids
        assert "big_amount@1" in set().union(*voted[200:]) or not any(
            tx["amount"] > 1500 for tx in txs[200:]
        )
        producer.close()
        outputs.close()
    finally:
        assert worker.stop() == 0, worker.text()[-3000:]
    assert "Traceback" not in worker.text()

    # versions, diff and audit, read back from the topics
    status, versions = api.call("GET", "/lfsets/tx/versions", token=READ)
    assert [(v["version"], v["action"], v["actor"], v["active"]) for v in versions] == [
        ("1", "push", "ops", False),
        ("2", "push", "ops", False),
        ("3", "rollback", "ops", True),
    ]
    status, d = api.call("GET", "/lfsets/tx/diff?from=1&to=3", token=READ)
    assert status == 200 and d["same_content"] is True
    status, audit = api.call("GET", "/audit", token=READ)
    assert [(e["action"], e["actor"], e["reason"]) for e in audit] == [
        ("lfset.push", "ops", "starter rules"),
        ("lfset.push", "ops", "lower big_amount"),
        ("lfset.rollback", "ops", "v2 floods review"),
    ]
    # LF analysis over the labels just written
    status, analysis = api.call("GET", "/analysis?lfset=tx", token=READ)
    assert status == 200 and analysis["n_labels"] == 300
    assert analysis["versions"] == ["1", "2", "3"]
    lfs = {x["lf"]: x for x in analysis["all_time"]["lfs"]}
    assert {"risky@1", "big_amount@1", "big_amount@2"} <= set(lfs)
    assert all(0.0 <= x["coverage"] <= 1.0 for x in lfs.values())

    # the same refusal through the API and straight against Kafka
    for via in (api.url, None):
        code, _, err = cli(capsys, settings, "lf", "rollback", "tx", "9", "--reason", "x", via=via)
        assert code == 2
        assert "streamlabel: error: LF set 'tx' has no version '9' (versions: 1, 2, 3)" in err
        code, _, err = cli(capsys, settings, "lf", "rollback", "tx", "1", "--reason", "x", via=via)
        assert code == 2 and "already has the content of '1'" in err
    # and a direct push lands in the same history, as cli:<user>
    monkeypatch.delenv("STREAMLABEL_API_TOKEN")
    spec_file = tmp_path / "v4.json"
    spec_file.write_text(json.dumps({**spec_v2(), "version": "4"}))
    code, out, err = cli(
        capsys, settings, "lf", "push", str(spec_file), "--reason", "direct", "--json", via=None
    )
    assert code == 0, err
    status, versions = api.call("GET", "/lfsets/tx/versions", token=READ)
    assert versions[-1]["version"] == "4" and versions[-1]["actor"].startswith("cli:")
    code, _, err = cli(capsys, settings, "lf", "push", str(spec_file), "--reason", "r", via=api.url)
    assert code == 2 and "has a read-only token" not in err and "bearer token" in err
    assert os.environ.get("STREAMLABEL_API_TOKEN") is None
    assert api.stop() == 0
    assert WRITE not in (tmp_path / "api.log").read_text()


def test_model_rollback_and_promote_through_the_api_reach_the_trainer(
    settings: StreamSettings, tmp_path: Path
) -> None:
    import threading

    import numpy as np
    from fastapi.testclient import TestClient

    from streamlabel.api import ApiSettings, KafkaBackend, create_api
    from streamlabel.models import (
        EndModel,
        Lineage,
        ModelRegistry,
        PayloadFeaturizer,
        decode_model_record,
    )
    from streamlabel.stream._topics import read_to_end
    from streamlabel.stream._trainer import run_trainer

    s = settings.model_copy(
        update={"registry_dir": tmp_path / "reg", "feature_numeric": ["amount"], "train_every": 0}
    )
    registry = ModelRegistry(s.registry_dir)
    payloads = [{"amount": float(i)} for i in range(40)]
    for seed in (1, 2):
        model = EndModel(PayloadFeaturizer(numeric_fields=["amount"], n_features=4))
        model.fit(payloads, (np.arange(40) + seed) % 2)
        v = registry.register(model, {"accuracy": 0.5}, Lineage("tx", "1", "0", 40))
        registry.promote(v.version, "scheduled round", actor="trainer")

    stop = threading.Event()
    thread = threading.Thread(
        target=run_trainer, args=(s,), kwargs={"should_stop": stop.is_set}, daemon=True
    )
    thread.start()
    backend = KafkaBackend(s, timeout=10)
    client = TestClient(create_api(ApiSettings(tokens=TOKENS), backend))
    auth = {"Authorization": f"Bearer {WRITE}"}

    def champion() -> tuple[str, str] | None:
        found = read_to_end(s, "models", timeout=10, client_id="t", keep=lambda k: k == b"default")
        if not found or not found[0]:
            return None
        rec = decode_model_record(found[0][-1].value)
        return rec.version.version, rec.entry.action

    def wait(cond: Any) -> None:
        deadline = time.monotonic() + WAIT
        while not cond():
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.3)

    try:
        # the trainer publishes its champion and its registry view at start-up
        wait(
            lambda: (client.get("/models", headers=auth).json().get("default") or {}).get(
                "registry"
            )
        )
        view = client.get("/models", headers=auth).json()["default"]
        assert view["registry"]["champion"] == "v2" and champion() == ("v2", "promote")
        r = client.post(
            "/models/default/promote", json={"version": "v7", "reason": "x"}, headers=auth
        )
        assert r.status_code == 404  # checked against the registry view before anything is sent
        r = client.post("/models/default/rollback", json={"reason": "v2 misfires"}, headers=auth)
        assert r.status_code == 202, r.json()
        command_id = r.json()["command_id"]
        wait(lambda: champion() == ("v1", "rollback"))
        models = client.get("/models", headers=auth).json()["default"]
        assert models["champion"]["version"]["version"] == "v1"
        assert (models["champion"]["entry"]["actor"], models["champion"]["entry"]["reason"]) == (
            "ops",
            "v2 misfires",
        )
        wait(lambda: client.get("/models", headers=auth).json()["default"]["registry"]["commands"])
        (outcome,) = client.get("/models", headers=auth).json()["default"]["registry"]["commands"]
        assert (outcome["id"], outcome["ok"]) == (command_id, True)
        r = client.post(
            "/models/default/promote", json={"version": "v2", "reason": "fixed"}, headers=auth
        )
        assert r.status_code == 202
        wait(lambda: champion() == ("v2", "promote"))
        audit = client.get("/audit", headers=auth).json()
        assert [(e["action"], e["target"], e["reason"]) for e in audit] == [
            ("model.rollback", "model:default", "v2 misfires"),
            ("model.promote", "model:default", "fixed"),
        ]
    finally:
        stop.set()
        thread.join(timeout=30)
        backend.close()
    assert ModelRegistry(s.registry_dir).champion.version == "v2"  # type: ignore[union-attr]


def test_label_model_parameters_drift_and_estimated_accuracy_from_the_topics(
    settings: StreamSettings,
) -> None:
    from fastapi.testclient import TestClient

    from streamlabel.api import ApiSettings, KafkaBackend, create_api
    from streamlabel.drift import DriftEvent
    from streamlabel.labelmodel import OnlineLabelModel
    from streamlabel.pipeline import drift_record
    from streamlabel.stream._service import snapshot_value

    model = OnlineLabelModel(cardinality=2)
    for _ in range(50):
        model.learn_one({"risky@1": 1, "big_amount@1": 1})
        model.learn_one({"refund@1": 0})
    group = settings.group_id
    params = snapshot_value(model, key=group, lfset=("tx", "1"), batches=3, at=123.0)
    label = {
        "event_id": "e1", "entity": "c", "lfset": "tx", "lfset_version": "1",
        "votes": {"risky@1": 1}, "posterior": [0.2, 0.8], "label": 1, "confidence": 0.8,
        "labelmodel_version": "1", "processed_at": 1.0, "processing_seconds": 0.0,
        "source": None,
    }  # fmt: skip
    events = [DriftEvent("coverage:risky@1", "coverage", "drift", 900 + i, 900) for i in range(3)]
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    produce(
        producer,
        settings.topic("labelmodel-params"),
        [(group.encode(), json.dumps(params).encode())],
    )
    produce(producer, settings.topic("labels"), [(b"e1", json.dumps(label).encode())])
    produce(
        producer,
        settings.topic("drift"),
        [
            (b"coverage:risky@1", json.dumps(drift_record(e, {"group": group})).encode())
            for e in events
        ],
    )
    producer.close()

    backend = KafkaBackend(settings, timeout=10)
    client = TestClient(create_api(ApiSettings(tokens=TOKENS), backend))
    auth = {"Authorization": f"Bearer {READ}"}
    (got,) = client.get("/labelmodel", headers=auth).json()
    assert (got["group"], got["lfset"], got["lfset_version"], got["at"]) == (
        group,
        "tx",
        "1",
        123.0,
    )
    assert got["lf_accuracies"] == pytest.approx(model.lf_accuracies())
    assert got["class_balance"] == pytest.approx(list(model.class_balance_))
    drift = client.get("/drift", params={"limit": 2}, headers=auth).json()
    assert [d["event"]["index"] for d in drift] == [901, 902] and drift[0]["group"] == group
    analysis = client.get("/analysis", headers=auth).json()
    (risky,) = [x for x in analysis["all_time"]["lfs"] if x["lf"] == "risky@1"]
    assert risky["est_acc"] == pytest.approx(model.lf_accuracies()["risky@1"])
    assert client.get("/readyz").status_code == 200
    backend.close()
    down = KafkaBackend(
        settings.model_copy(update={"brokers": [f"127.0.0.1:{free_port()}"]}), timeout=1
    )
    client = TestClient(create_api(ApiSettings(tokens=TOKENS), down))
    assert client.get("/readyz").status_code == 503
    r = client.get("/lfsets", headers=auth)
    assert r.status_code == 503 and "no Kafka broker answers" in r.json()["reason"]
