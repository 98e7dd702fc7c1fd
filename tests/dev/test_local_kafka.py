"""LocalKafka without a broker: settings, error paths, pid-file hygiene."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamlabel.dev import KafkaDevError, LocalKafka, find_deploy_dir, kafka_version
from streamlabel.dev._kafka import parse_java_version

FAKE_JAVA = """#!/bin/sh
if [ "$1" = "-version" ]; then
  echo 'openjdk version "{version}" 2025-04-15' >&2
  exit 0
fi
echo "fake java cannot run $*" >&2
exit 1
"""


def _fake_java(bin_dir: Path, version: str) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    java = bin_dir / "java"
    java.write_text(FAKE_JAVA.format(version=version))
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return java


@pytest.fixture
def only_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty PATH folder (no java, no mvn); JAVA_HOME unset."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    return bin_dir


@pytest.fixture
def listener() -> Iterator[int]:
    """A port on 127.0.0.1 that something else listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def _broker(tmp_path: Path, port: int | None = None) -> LocalKafka:
    if port is None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    return LocalKafka(data_dir=tmp_path / "kafka", port=port, controller_port=port + 1)


def _cache_classpath(broker: LocalKafka) -> None:
    """Pretend Maven already ran: a valid cached classpath of existing files."""
    broker.data_dir.mkdir(parents=True, exist_ok=True)
    jar = broker.data_dir / "fake.jar"
    jar.write_bytes(b"")
    (broker.data_dir / "classpath.txt").write_text(str(jar))
    key = hashlib.sha256((broker.deploy_dir / "pom.xml").read_bytes()).hexdigest()
    (broker.data_dir / "classpath.sha256").write_text(key)


def test_version_is_pinned_in_the_pom() -> None:
    version = kafka_version()
    assert version.split(".")[0] == "4" and version.count(".") == 2
    assert (
        f"<kafka.version>{version}</kafka.version>" in (find_deploy_dir() / "pom.xml").read_text()
    )


def test_settings_only_in_init(tmp_path: Path) -> None:
    broker = LocalKafka(data_dir=tmp_path / "k")
    assert (broker.port, broker.controller_port, broker.host) == (9092, 9093, "127.0.0.1")
    assert broker.bootstrap == "127.0.0.1:9092"
    assert not (tmp_path / "k").exists()
    default = LocalKafka()
    assert default.data_dir == find_deploy_dir().parent.parent / "var" / "kafka"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.2", "::1", "localhost", ""])
def test_refuses_non_loopback_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        LocalKafka(host=host)


def test_refuses_bad_ports() -> None:
    with pytest.raises(ValueError, match="differ"):
        LocalKafka(port=9092, controller_port=9092)
    with pytest.raises(ValueError, match="65535"):
        LocalKafka(port=70000)


def test_single_node_settings(tmp_path: Path) -> None:
    broker = _broker(tmp_path)
    settings = broker._settings()
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
        "num.partitions",
    ):
        assert settings[key] == "1", key
    assert settings["group.initial.rebalance.delay.ms"] == "0"
    assert settings["auto.create.topics.enable"] == "true"
    assert settings["log.dirs"] == str(broker.data_dir / "data")
    for listener in settings["listeners"].split(","):
        assert listener.split("://")[1].startswith("127.0.0.1:"), listener


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_402"', 8),
        ('openjdk version "11.0.2" 2019-01-15', 11),
        ("bash: java: not found", None),
    ],
)
def test_parse_java_version(text: str, major: int | None) -> None:
    assert parse_java_version(text) == major


def test_up_without_java(tmp_path: Path, only_path: Path) -> None:
    with pytest.raises(KafkaDevError, match=r"Java 17 or newer is required.*`java` is not on PATH"):
        _broker(tmp_path).up(timeout=5)


def test_up_with_old_java(tmp_path: Path, only_path: Path) -> None:
    _fake_java(only_path, "11.0.2")
    with pytest.raises(KafkaDevError, match=r"Java 17 or newer.*is Java 11"):
        _broker(tmp_path).up(timeout=5)


def test_up_without_maven(tmp_path: Path, only_path: Path) -> None:
    _fake_java(only_path, "17.0.15")
    with pytest.raises(KafkaDevError, match=r"Maven is required.*`mvn` is not on PATH"):
        _broker(tmp_path).up(timeout=5)


def test_up_refuses_a_taken_port(tmp_path: Path, listener: int) -> None:
    broker = LocalKafka(data_dir=tmp_path / "k", port=listener, controller_port=listener + 1)
    with pytest.raises(KafkaDevError, match=rf"port {listener} on 127.0.0.1 is already in use"):
        broker.up(timeout=5)
    assert not broker.pid_file.exists()


def test_up_refuses_a_taken_controller_port(tmp_path: Path, listener: int) -> None:
    port = listener + 1 if listener < 65535 else listener - 2
    broker = LocalKafka(data_dir=tmp_path / "k", port=port, controller_port=listener)
    with pytest.raises(KafkaDevError, match=rf"controller port {listener} .* already in use"):
        broker.up(timeout=5)


def test_failed_format_reports_the_output(tmp_path: Path, only_path: Path) -> None:
    _fake_java(only_path, "17.0.15")
    broker = _broker(tmp_path)
    _cache_classpath(broker)  # no Maven needed with a valid cached classpath
    with pytest.raises(KafkaDevError, match=r"formatting the Kafka storage failed:\n.*fake java"):
        broker.up(timeout=10)


def test_broker_that_exits_is_reported_with_its_log(tmp_path: Path, only_path: Path) -> None:
    _fake_java(only_path, "17.0.15")
    broker = _broker(tmp_path)
    _cache_classpath(broker)
    (broker.data_dir / "data").mkdir()
    (broker.data_dir / "data" / "meta.properties").write_text("already formatted\n")
    with pytest.raises(KafkaDevError, match=r"exited during start-up(.|\n)*fake java"):
        broker.up(timeout=10)
    assert not broker.pid_file.exists()
    assert broker.status()["running"] is False


def test_stale_pid_file_is_not_a_broker(tmp_path: Path) -> None:
    broker = _broker(tmp_path)
    broker.data_dir.mkdir(parents=True)
    broker.pid_file.write_text(f"{os.getpid()}\n")  # alive, but not kafka.Kafka
    assert broker.status()["running"] is False
    assert broker.down(timeout=1) is False
    assert not broker.pid_file.exists()


def test_status_and_logs_before_any_start(tmp_path: Path) -> None:
    broker = _broker(tmp_path)
    status = broker.status()
    assert status["running"] is False and status["pid"] is None
    assert status["version"] == kafka_version()
    assert status["bootstrap"] == broker.bootstrap
    assert broker.logs() == ""
    assert broker.down() is False
