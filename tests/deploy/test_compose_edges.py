"""docker-compose.yml and the pinned Kafka version, checked statically (no Docker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from streamlabel.dev import find_deploy_dir, kafka_version

# The checkout whose code is imported (deploy/kafka sits in it).
ROOT = find_deploy_dir().parent.parent
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _listeners(text: str) -> dict[str, tuple[str, int]]:
    out = {}
    for item in text.split(","):
        name, _, address = item.partition("://")
        host, _, port = address.rpartition(":")
        out[name] = (host, int(port))
    return out


# Guards docker-compose.yml: every service that waits for `service_healthy` waits on a
# service that has a healthcheck (compose cannot start it otherwise).
def test_services_wait_only_on_services_with_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, dict):
            for dep, cond in depends.items():
                if cond.get("condition") == "service_healthy":
                    assert "healthcheck" in services[dep], f"{name} waits on {dep}"


# Guards docker-compose.yml: the Kafka listeners agree with each other: the controller
# listens where the quorum voters say, containers are told the kafka:<port> they use as
# STREAMLABEL_BROKERS, the host listener is advertised on the published port, and every
# listener has a security protocol.
def test_kafka_listeners_are_consistent(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    env = {k: str(v) for k, v in kafka["environment"].items()}
    listeners = _listeners(env["KAFKA_LISTENERS"])
    advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    voter_host, _, voter_port = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split("@")[1].rpartition(":")
    assert voter_host == kafka["hostname"]
    assert listeners[controller][1] == int(voter_port)
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) <= set(protocols)
    inter = env["KAFKA_INTER_BROKER_LISTENER_NAME"]
    assert advertised[inter] == (kafka["hostname"], listeners[inter][1])
    for name in ("labeler", "aggregator", "predictor", "trainer", "api"):
        brokers = compose["services"][name]["environment"]["STREAMLABEL_BROKERS"]
        assert brokers == f"{kafka['hostname']}:{listeners[inter][1]}", name
    (mapping,) = kafka["ports"]
    _, host_port, container_port = mapping.split(":")
    (host_name,) = [n for n in advertised if n not in (inter, controller)]
    assert advertised[host_name] == ("127.0.0.1", int(host_port))
    assert listeners[host_name][1] == int(container_port)
    # The healthcheck asks the listener the containers use.
    assert f"--bootstrap-server {kafka['hostname']}:{listeners[inter][1]}" in " ".join(
        kafka["healthcheck"]["test"]
    )


# Guards dev/_kafka.py kafka_version: the version is read from the pom it is given (what
# the compose check compares the image tag with), not a constant.
def test_kafka_version_reads_the_pom(tmp_path: Path) -> None:
    pom = (find_deploy_dir() / "pom.xml").read_text(encoding="utf-8")
    pinned = kafka_version()
    (tmp_path / "pom.xml").write_text(
        pom.replace(
            f"<kafka.version>{pinned}</kafka.version>", "<kafka.version>9.8.7</kafka.version>"
        )
    )
    assert kafka_version(tmp_path) == "9.8.7"
