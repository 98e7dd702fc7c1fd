"""``streamlabel lf ... --api`` and ``streamlabel models ...`` against a live API (in memory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamlabel.api import InMemoryBackend

from .api_server import READ, SPEC, WRITE, free_port, run, served

__all__ = ["served"]  # the fixture, imported for pytest


def test_lf_commands_through_the_api(
    served: tuple[str, InMemoryBackend],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, backend = served
    v1 = tmp_path / "v1.json"
    v1.write_text(json.dumps(SPEC))
    v2 = tmp_path / "v2.json"
    spec2 = json.loads(json.dumps(SPEC))
    spec2["version"] = "2"
    spec2["lfs"][0]["version"] = "2"
    spec2["lfs"][0]["when"]["value"] = 500
    v2.write_text(json.dumps(spec2))

    code, _, err = run(capsys, "lf", "push", str(v1), "--reason", "first", "--api", url)
    assert (
        code == 2 and err == "streamlabel: error: a bearer token with the write role is required\n"
    )
    monkeypatch.setenv("STREAMLABEL_API_TOKEN", READ)
    code, _, err = run(capsys, "lf", "push", str(v1), "--reason", "first", "--api", url)
    assert code == 2 and "'viewer' has a read-only token" in err
    code, out, _ = run(capsys, "lf", "list", "--api", url, "--json")
    assert code == 0 and json.loads(out)["sets"] == []

    monkeypatch.setenv("STREAMLABEL_API_TOKEN", WRITE)
    code, out, err = run(capsys, "lf", "push", str(v1), "--reason", "first", "--api", url)
    assert code == 0, err
    assert out.startswith("published LF set 'card-fraud' version '1'")
    code, out, err = run(capsys, "lf", "push", str(v2), "--reason", "lower", "--api", url, "--json")
    assert code == 0, err
    assert json.loads(out)["diff"]["changed"] == [{"from": "big@1", "to": "big@2"}]
    code, out, _ = run(capsys, "lf", "diff", "card-fraud", "1", "--api", url)
    assert code == 0 and out.splitlines() == [
        "LF set 'card-fraud': version '1' -> '2'",
        "  changed: big@1 -> big@2",
    ]
    code, out, err = run(
        capsys, "lf", "rollback", "card-fraud", "1", "--reason", "too many alerts", "--api", url
    )
    assert code == 0, err
    assert "version '3'" in out and "(a rollback to version '1')" in out
    code, out, _ = run(capsys, "lf", "versions", "card-fraud", "--api", url, "--json")
    versions = json.loads(out)["versions"]
    assert [
        (v["version"], v["action"], v["actor"], v["reason"], v["active"]) for v in versions
    ] == [
        ("1", "push", "ops", "first", False),
        ("2", "push", "ops", "lower", False),
        ("3", "rollback", "ops", "too many alerts", True),
    ]
    code, out, _ = run(capsys, "lf", "versions", "card-fraud", "--api", url)
    lines = out.splitlines()
    assert lines[0].split() == ["version", "active", "action", "by", "at", "LFs", "reason"]
    assert lines[3].split()[:4] == ["3", "*", "rollback", "of"]
    assert lines[3].endswith("too many alerts")
    code, out, _ = run(capsys, "lf", "show", "card-fraud", "--api", url, "--json")
    shown = json.loads(out)
    assert (shown["version"], shown["rollback_of"], shown["active"]) == ("3", "1", True)
    code, _, err = run(capsys, "lf", "rollback", "card-fraud", "7", "--reason", "x", "--api", url)
    assert code == 2
    assert err == (
        "streamlabel: error: LF set 'card-fraud' has no version '7' (versions: 1, 2, 3)\n"
    )
    assert [e.action for e in backend.audit()] == ["lfset.push", "lfset.push", "lfset.rollback"]


def test_models_commands_through_the_api(
    served: tuple[str, InMemoryBackend],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, backend = served
    monkeypatch.setenv("STREAMLABEL_API_TOKEN", WRITE)
    backend.set_model(
        "fraud",
        {"version": {"version": "v2"}, "entry": {"action": "promote", "actor": "trainer",
                                                 "reason": "beat v1"}},
        {"champion": "v2", "versions": [{"version": "v1"}, {"version": "v2"}],
         "history": [{"action": "promote", "version": "v1"},
                     {"action": "promote", "version": "v2"}]},
    )  # fmt: skip
    code, out, _ = run(capsys, "models", "list", "--api", url)
    assert out.strip() == "fraud: champion v2 (promote by trainer: beat v1); versions v1, v2"
    code, out, err = run(
        capsys, "models", "rollback", "fraud", "--reason", "v2 drifts", "--api", url
    )
    assert code == 0, err
    assert out.startswith("accepted: command ") and "for model 'fraud'" in out
    code, _, err = run(capsys, "models", "promote", "fraud", "v9", "--reason", "x", "--api", url)
    assert code == 2 and "model 'fraud' has no version 'v9' (versions: v1, v2)" in err
    (cmd,) = backend.model_commands_
    assert (cmd.action, cmd.actor, cmd.reason) == ("rollback", "ops", "v2 drifts")


def test_an_unreachable_api_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = run(capsys, "lf", "list", "--api", url)
    assert code == 2 and f"no control API answers at {url}" in err
