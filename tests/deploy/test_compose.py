"""docker-compose.yml checked statically (no Docker engine runs in CI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from streamlabel.dev import LocalKafka, kafka_version

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
# Host ports, all on 127.0.0.1; deploy/README.md documents the same table.
DOCUMENTED_PORTS: dict[str, set[int]] = {
    "kafka": {9092},
    "labeler": set(),
    "aggregator": set(),
    "predictor": {8080},
    "trainer": set(),
    "api": {8090},
    "prometheus": {9090},
    "grafana": {3000},
}
STREAMLABEL_SERVICES = ("labeler", "aggregator", "predictor", "trainer", "api")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_only_services_that_exist(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == set(DOCUMENTED_PORTS)


def test_kafka_image_is_the_pinned_version(compose: dict[str, Any]) -> None:
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{kafka_version()}"


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image} uses latest"
        assert any(ch.isdigit() for ch in tag), f"{name}: {image} is not a version tag"


def test_bind_mounts_exist_and_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            assert isinstance(volume, str), f"{name}: use the short volume syntax"
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert not source.startswith("/"), f"{name}: absolute host path {source}"
                assert (ROOT / source).exists(), f"{name}: {source} does not exist in the repo"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"


def test_ports_only_on_loopback_and_as_documented(compose: dict[str, Any]) -> None:
    readme = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    for name, service in compose["services"].items():
        host_ports = set()
        for mapping in service.get("ports", []):
            assert isinstance(mapping, str), f"{name}: use the short port syntax"
            ip, host, container = mapping.split(":")
            assert ip == "127.0.0.1", f"{name}: {mapping} is not bound to 127.0.0.1"
            assert host.isdigit() and container.isdigit(), mapping
            host_ports.add(int(host))
            assert f"127.0.0.1:{host}" in readme, f"{name}: port {host} not in deploy/README.md"
        assert host_ports == DOCUMENTED_PORTS[name], name


def test_kafka_has_the_single_node_settings_of_local_kafka(compose: dict[str, Any]) -> None:
    env = compose["services"]["kafka"]["environment"]
    properties = {
        k.removeprefix("KAFKA_").lower().replace("_", "."): str(v) for k, v in env.items()
    }
    local = LocalKafka(data_dir=ROOT / "var" / "never-used")._settings()
    shared = [
        "process.roles",
        "node.id",
        "controller.listener.names",
        "inter.broker.listener.name",
        "num.partitions",
        "auto.create.topics.enable",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
        "group.initial.rebalance.delay.ms",
    ]
    for key in shared:
        assert properties.get(key) == local[key], key
    assert properties["controller.quorum.voters"] == "1@kafka:9093"
    assert "HOST://127.0.0.1:9092" in properties["advertised.listeners"]


def test_prometheus_and_grafana_configs_parse() -> None:
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert isinstance(prometheus["global"], dict)
    # Targets and rules are checked against the services in tests/deploy/test_monitoring.py.
    assert prometheus["scrape_configs"] and prometheus["rule_files"]
    provisioning = ROOT / "deploy/grafana/provisioning"
    files = sorted(provisioning.rglob("*.y*ml"))
    assert files, "no Grafana provisioning file"
    for path in files:
        doc = yaml.safe_load(path.read_text())
        assert doc["apiVersion"] == 1, path
    datasources = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"


def test_streamlabel_services_run_real_commands_of_the_built_image(
    compose: dict[str, Any],
) -> None:
    from streamlabel import __version__
    from streamlabel.cli import build_parser
    from streamlabel.lf import load_lfset
    from streamlabel.stream import StreamSettings

    dockerfile = ROOT / "services" / "Dockerfile"
    lines = dockerfile.read_text(encoding="utf-8").splitlines()
    base = next(line.split()[1] for line in lines if line.startswith("FROM "))
    assert base.count(".") >= 2, f"base image {base} is not pinned to a patch version"
    assert 'ENTRYPOINT ["streamlabel"]' in lines
    services = compose["services"]
    build = services["labeler"]["build"]
    assert (ROOT / build["context"] / build["dockerfile"]).resolve() == dockerfile
    ids = []
    for name in STREAMLABEL_SERVICES:
        service = services[name]
        assert service["image"] == f"streamlabel:{__version__}", name
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy", name
        env = {k: str(v) for k, v in service["environment"].items()}
        # Containers reach Kafka on its compose-network listener, not the host one.
        assert env["STREAMLABEL_BROKERS"] == "kafka:19092", name
        settings = StreamSettings.from_env(environ=env)  # every variable is a setting
        build_parser().parse_args(service["command"])  # a real subcommand
        if service["command"] == ["run"]:
            ids.append(settings.worker_id)
            mounted = {v.split(":")[1]: ROOT / v.split(":")[0] for v in service.get("volumes", [])}
            file = Path(env["STREAMLABEL_LFSET_FILE"])
            lfset = load_lfset(mounted[str(file.parent)] / file.name)
            assert lfset.name == settings.lfset
    assert ids and len(set(ids)) == len(ids)  # each labeler worker has its own stable id


def test_predictor_serves_a_named_model_on_the_published_port(compose: dict[str, Any]) -> None:
    from streamlabel.cli import build_parser
    from streamlabel.stream import StreamSettings

    service = compose["services"]["predictor"]
    args = build_parser().parse_args(service["command"])
    assert args.command == "predict"
    settings = StreamSettings.from_env(
        environ={k: str(v) for k, v in service["environment"].items()}
    )
    assert settings.predictor_model  # it would refuse to start without one
    # Inside the container it listens on every interface, on the port compose publishes
    # (on the host's loopback only, checked above); its health check asks that port.
    assert settings.predictor_host == "0.0.0.0"
    (mapping,) = service["ports"]
    assert int(mapping.split(":")[2]) == settings.predictor_port
    assert f"127.0.0.1:{settings.predictor_port}/healthz" in " ".join(
        service["healthcheck"]["test"]
    )


def test_trainer_builds_from_its_settings_and_keeps_its_registry_on_a_volume(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    from streamlabel.lf import load_lfset
    from streamlabel.stream import StreamSettings
    from streamlabel.stream._trainer import build_trainer

    trainer = compose["services"]["trainer"]
    env = {k: str(v) for k, v in trainer["environment"].items()}
    settings = StreamSettings.from_env(environ=env)
    mounts = {v.split(":")[1]: v.split(":")[0] for v in trainer["volumes"]}
    assert mounts[str(settings.registry_dir)] in compose["volumes"]  # survives a re-create
    dockerfile = (ROOT / "services" / "Dockerfile").read_text(encoding="utf-8")
    assert "chown -R streamlabel /var/lib/streamlabel" in dockerfile
    assert str(settings.registry_dir).startswith("/var/lib/streamlabel/")
    # It trains on the labels of the set the labeler serves, with fields its events have.
    labeler = StreamSettings.from_env(
        environ={k: str(v) for k, v in compose["services"]["labeler"]["environment"].items()}
    )
    assert settings.lfset == labeler.lfset
    built = build_trainer(settings.model_copy(update={"registry_dir": tmp_path}))
    assert built.name == settings.model_name == "card-fraud"
    lfset = load_lfset(ROOT / "deploy" / "lfsets" / "card-fraud.yaml")
    header = (ROOT / "deploy" / "lfsets" / "card-fraud.yaml").read_text(encoding="utf-8")
    fields = [*settings.feature_text, *settings.feature_numeric, *settings.feature_categorical]
    for field in fields:
        assert field in header.split("payload: {")[1].split("}")[0], field
    assert lfset.name == settings.lfset


def test_api_serves_on_the_published_port_with_tokens_from_the_host(
    compose: dict[str, Any],
) -> None:
    from streamlabel.api import ApiSettings
    from streamlabel.cli import build_parser

    service = compose["services"]["api"]
    assert build_parser().parse_args(service["command"]).command == "api"
    env = {k: str(v) for k, v in service["environment"].items()}
    # No token is written in the file: compose takes it from the host and refuses without.
    tokens = env.pop("STREAMLABEL_API_TOKENS")
    assert tokens.startswith("${STREAMLABEL_API_TOKENS:?"), tokens
    settings = ApiSettings.from_env(environ=env)
    assert settings.host == "0.0.0.0"
    (mapping,) = service["ports"]
    assert int(mapping.split(":")[2]) == settings.port
    assert f"127.0.0.1:{settings.port}/readyz" in " ".join(service["healthcheck"]["test"])
