"""What the CLI tests against a live control API share: tokens, a spec, the server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from streamlabel.api import ApiSettings, InMemoryBackend, create_api
from streamlabel.cli import main

WRITE = "cli-writer-0123456789"
READ = "cli-reader-0123456789"
SPEC: dict[str, Any] = {
    "name": "card-fraud",
    "version": "1",
    "cardinality": 2,
    "lfs": [
        {
            "name": "big",
            "label": 1,
            "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 900},
        },
        {
            "name": "night",
            "label": 1,
            "when": {"kind": "range", "field": "hour", "min": 0, "max": 4},
        },
    ],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served() -> Iterator[tuple[str, InMemoryBackend]]:
    """An API on an in-memory backend, served on 127.0.0.1 in a thread: (URL, backend)."""
    backend = InMemoryBackend()
    app = create_api(ApiSettings(tokens=f"ops:{WRITE}:write,viewer:{READ}:read"), backend)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", backend
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
