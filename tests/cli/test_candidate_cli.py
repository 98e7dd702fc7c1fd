"""``streamlabel lf candidate ...`` against a live API (in-memory backend)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streamlabel.api import InMemoryBackend

from .api_server import READ, SPEC, WRITE, run, served

__all__ = ["served"]  # the fixture, imported for pytest


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
