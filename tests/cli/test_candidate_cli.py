"""``streamlabel lf candidate ...`` against a live API (in-memory backend)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from streamlabel.api import ApiSettings, InMemoryBackend, create_api
from streamlabel.cli import main

WRITE = "cand-writer-0123456789"
READ = "cand-reader-0123456789"
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
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def worker_report(candidate_id: str, active: str, worse: bool) -> dict[str, Any]:
    """A labeler's ``shadow-reports`` value: 300 gold labels, 40 discordant."""
    right, wrong = (250, 290) if worse else (290, 250)
    return {
        "format": "streamlabel.shadow-report",
        "format_version": 1,
        "key": "card-fraud/g/w1",
        "lfset": "card-fraud",
        "worker": "g/w1",
        "candidate_id": candidate_id,
        "candidate_version": "2",
        "active_version": active,
        "at": 1.0,
        "batches": 9,
        "report": {
            "lfset": "card-fraud",
            "candidate_version": "2",
            "active_version": active,
            "diff": {"added": [], "removed": [], "changed": [["big@1", "big@2"]]},
            "n": 900,
            "agree": 860,
            "flips": {"0->1": 40, "1->0": 0},
            "gold": {
                "n": 300,
                "active_right": wrong,
                "candidate_right": right,
                "only_active_right": 40 if worse else 0,
                "only_candidate_right": 0 if worse else 40,
            },
            "alpha": 0.05,
        },
    }


def test_candidate_commands_through_the_api(
    served: tuple[str, InMemoryBackend],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, backend = served
    v1 = tmp_path / "v1.json"
    v1.write_text(json.dumps(SPEC))
    spec2 = json.loads(json.dumps(SPEC))
    spec2["version"] = "2"
    spec2["lfs"][0]["version"] = "2"
    spec2["lfs"][0]["when"]["value"] = 500
    v2 = tmp_path / "v2.json"
    v2.write_text(json.dumps(spec2))
    monkeypatch.setenv("STREAMLABEL_API_TOKEN", WRITE)
    assert run(capsys, "lf", "push", str(v1), "--reason", "first", "--api", url)[0] == 0

    code, _, err = run(capsys, "lf", "candidate", "show", "card-fraud", "--api", url)
    assert (
        code == 2 and err == "streamlabel: error: LF set 'card-fraud' has no candidate deployed\n"
    )
    code, _, err = run(
        capsys, "lf", "candidate", "deploy", "card-fraud", "--reason", "x", "--api", url
    )
    assert code == 2 and "either FILE" in err
    code, _, err = run(capsys, "lf", "candidate", "deploy", "card-fraud", str(v2), "--api", url)
    assert code == 2 and "required: --reason" in err  # every change says why
    monkeypatch.setenv("STREAMLABEL_API_TOKEN", READ)
    code, _, err = run(
        capsys, "lf", "candidate", "deploy", "card-fraud", str(v2), "--reason", "x", "--api", url
    )
    assert code == 2 and "read-only token" in err
    monkeypatch.setenv("STREAMLABEL_API_TOKEN", WRITE)

    code, out, err = run(
        capsys, "lf", "candidate", "deploy", "card-fraud", str(v2), "--reason", "lower big",
        "--api", url,
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[:2] == [
        "deployed LF set 'card-fraud' version '2' as the candidate beside version '1'",
        "  changed: big@1 -> big@2",
    ]
    code, out, _ = run(capsys, "lf", "candidate", "show", "card-fraud", "--api", url)
    assert code == 0 and "no report yet" in out

    cid = backend.candidates()["card-fraud"].id
    backend.add_shadow_report(worker_report(cid, "1", worse=True))
    code, out, _ = run(capsys, "lf", "candidate", "show", "card-fraud", "--api", url)
    assert code == 0
    assert "gold (300 labels): active 96.67%, candidate 83.33%" in out
    assert "verdict: worse (promoting it needs --confirm)" in out
    code, out, _ = run(capsys, "lf", "candidate", "show", "card-fraud", "--api", url, "--json")
    assert json.loads(out)["report"]["agreement"] == pytest.approx(860 / 900)

    code, _, err = run(
        capsys, "lf", "candidate", "promote", "card-fraud", "--reason", "go", "--api", url
    )
    assert code == 2 and "is worse than the active version '1' on 300 gold labels" in err
    assert "--confirm" in err
    assert backend.active_lfsets()["card-fraud"].version.version == "1"  # type: ignore[union-attr]
    code, out, err = run(
        capsys, "lf", "candidate", "promote", "card-fraud", "--reason", "go", "--confirm",
        "--api", url,
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith(
        "promoted candidate '2' of LF set 'card-fraud' (verdict: worse, confirmed)"
    )
    assert backend.active_lfsets()["card-fraud"].version.version == "2"  # type: ignore[union-attr]

    code, _, err = run(
        capsys, "lf", "candidate", "discard", "card-fraud", "--reason", "x", "--api", url
    )
    assert code == 2 and "no candidate deployed" in err
    code, out, err = run(
        capsys, "lf", "candidate", "deploy", "card-fraud", "--version", "1", "--reason", "back?",
        "--api", url, "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["version"] == "1"
    code, out, err = run(
        capsys, "lf", "candidate", "discard", "card-fraud", "--reason", "no", "--api", url
    )
    assert (
        code == 0 and out == "discarded candidate '1' of LF set 'card-fraud' (verdict: undecided)\n"
    )
    assert [e.action for e in backend.audit()] == [
        "lfset.push",
        "lfset.candidate.deploy",
        "lfset.promote",
        "lfset.candidate.deploy",
        "lfset.candidate.discard",
    ]
