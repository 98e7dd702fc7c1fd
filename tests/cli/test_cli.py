from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import streamlabel
from streamlabel.cli import main
from streamlabel.datasets import save_wrench

MODEL_KEYS = {
    "accuracy",
    "f1_class1",
    "macro_f1",
    "coverage",
    "learn_seconds",
    "learn_rows_per_s",
    "predict_rows_per_s",
}


def write_wrench(folder: Path, k: int = 2, m: int = 5, seed: int = 0) -> Path:
    """A tiny WRENCH folder (LFs ~80% accurate, ~50% coverage): 200 train, 80 test rows."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, 280)
    wrong = (y[:, None] + rng.integers(1, k, (280, m))) % k
    votes = np.where(rng.random((280, m)) < 0.8, y[:, None], wrong)
    L = np.where(rng.random((280, m)) < 0.5, votes, -1)
    return save_wrench(folder, L, y, k, n_train=200)


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: streamlabel" in out and "bench" in out
    assert main(["bench", "labelmodel", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--wrench" in out and "--no-peers" in out and "--json" in out
    assert main(["bench", "apply", "--help"]) == 0
    assert "--events" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"streamlabel {streamlabel.__version__}"


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["bench"]) == 2
    assert main(["bench", "labelmodel"]) == 2  # --wrench is required
    assert main(["bench", "apply", "--events", "0"]) == 2
    assert "usage:" in capsys.readouterr().err


def test_import_is_light() -> None:
    # `streamlabel --help` must not pay for numpy, the models or snorkel/torch.
    code = (
        "import sys, streamlabel.cli; "
        "print(sorted(m for m in ('numpy', 'torch', 'snorkel', 'streamlabel.bench', "
        "'streamlabel.labelmodel') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_console_script_version() -> None:
    script = Path(sys.executable).with_name("streamlabel")
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"streamlabel {streamlabel.__version__}"


def test_bench_labelmodel_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_wrench(tmp_path / "tiny")
    assert main(["bench", "labelmodel", "--wrench", str(folder), "--no-peers", "--json"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)  # exactly one JSON document on stdout
    assert doc["bench"] == "labelmodel" and doc["dataset"] == "tiny"
    assert (doc["n_train"], doc["n_test"], doc["n_lfs"], doc["cardinality"]) == (200, 80, 5, 2)
    assert "skipped" in doc["peers"]
    assert {"OnlineLabelModel", "MajorityVote", "MajorityVote (WRENCH tie-break)"} <= set(
        doc["models"]
    )
    for row in doc["models"].values():
        assert set(row) >= MODEL_KEYS
        for key in ("accuracy", "f1_class1", "macro_f1", "coverage"):
            assert 0.0 <= row[key] <= 1.0
    assert doc["models"]["OnlineLabelModel"]["learn_rows_per_s"] > 0


def test_bench_labelmodel_multiclass_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_wrench(tmp_path / "three", k=3)
    assert main(["bench", "labelmodel", "--wrench", str(folder), "--no-peers"]) == 0
    out = capsys.readouterr().out
    assert "OnlineLabelModel" in out and "WRENCH tie-break" in out and "macro-F1" in out
    assert "3 classes" in out and "peers: skipped" in out
    assert "strict majority (" in out and "no votes (" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


def test_missing_folder_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "absent"
    assert main(["bench", "labelmodel", "--wrench", str(missing), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("streamlabel: error:") and str(missing) in captured.err
    assert "Traceback" not in captured.err


def test_bench_apply_passes_options(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_bench_apply(n_events: int = 1, seed: int = 0, repeats: int = 1) -> dict[str, Any]:
        calls.append({"n_events": n_events, "seed": seed, "repeats": repeats})
        print("chatter")  # must not reach stdout next to the JSON document
        return {
            "bench": "apply",
            "rows_per_s": {"a": 1.0, "b": 2.0},
            "seconds": {"a": 0.5, "b": float("nan")},
        }

    monkeypatch.setattr("streamlabel.bench._apply.bench_apply", fake_bench_apply)
    argv = ["bench", "apply", "--events", "500", "--seed", "3", "--repeats", "2", "--json"]
    assert main(argv) == 0
    assert calls == [{"n_events": 500, "seed": 3, "repeats": 2}]
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["seconds"] == {"a": 0.5, "b": None}  # NaN is not JSON
    assert "chatter" in captured.err

    assert main(["bench", "apply"]) == 0
    assert calls[-1] == {"n_events": 100_000, "seed": 0, "repeats": 3}
    out = capsys.readouterr().out
    assert "rows_per_s" in out and "seconds" in out
