"""``streamlabel dev kafka``: parsing, errors without tracebacks, lazy imports."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from streamlabel.cli import main


def test_help_lists_dev_kafka(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dev", "kafka", "--help"]) == 0
    out = capsys.readouterr().out
    for verb in ("up", "down", "status", "logs"):
        assert verb in out
    assert main(["dev", "kafka", "up", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--data-dir" in out


def test_help_imports_no_kafka_client() -> None:
    code = (
        "import sys\n"
        "from streamlabel.cli import main\n"
        "assert main(['--help']) == 0\n"
        "assert main(['dev', 'kafka', 'up', '--help']) == 0\n"
        "heavy = [m for m in ('kafka', 'streamlabel.dev', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_status_logs_down_when_not_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "kafka")
    assert main(["dev", "kafka", "status", "--data-dir", data]) == 0
    assert "not running" in capsys.readouterr().out
    assert main(["dev", "kafka", "status", "--data-dir", data, "--json"]) == 0
    assert '"running": false' in capsys.readouterr().out
    assert main(["dev", "kafka", "logs", "--data-dir", data]) == 0
    assert "no broker log yet" in capsys.readouterr().out
    assert main(["dev", "kafka", "down", "--data-dir", data]) == 0
    assert "was not running" in capsys.readouterr().out


def test_up_on_a_taken_port_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        code = main(["dev", "kafka", "up", "--port", str(port), "--data-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"streamlabel: error: port {port} on 127.0.0.1 is already in use" in err
    assert "Traceback" not in err


def test_bad_port_is_a_usage_error() -> None:
    assert main(["dev", "kafka", "up", "--port", "0"]) == 2
    assert main(["dev", "kafka", "up", "--port", "x"]) == 2
    assert main(["dev", "kafka"]) == 2


@pytest.mark.kafka
def test_up_status_logs_down_with_a_real_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole CLI cycle on its own data folder and free ports (one more broker start)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(2)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    port, controller = (sock.getsockname()[1] for sock in socks)
    for sock in socks:
        sock.close()
    data = str(tmp_path / "kafka")
    up = ["dev", "kafka", "up", "--data-dir", data, "--port", str(port)]
    try:
        assert main([*up, "--controller-port", str(controller), "--timeout", "90"]) == 0, (
            capsys.readouterr().err
        )
        out = capsys.readouterr().out
        assert f"listening on 127.0.0.1:{port}" in out
        assert main(["dev", "kafka", "status", "--data-dir", data]) == 0
        assert f"listening on 127.0.0.1:{port}" in capsys.readouterr().out
        assert main(["dev", "kafka", "logs", "-n", "200", "--data-dir", data]) == 0
        assert "Kafka Server started" in capsys.readouterr().out
    finally:
        assert main(["dev", "kafka", "down", "--data-dir", data]) == 0
    assert "Kafka stopped" in capsys.readouterr().out
    assert not (tmp_path / "kafka" / "kafka.pid").exists()
