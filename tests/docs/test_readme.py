"""The README's LF-set example must load and run as printed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from streamlabel.datasets import make_transactions

README = Path(__file__).resolve().parents[2] / "README.md"


def _block(lang: str, contains: str) -> str:
    blocks = re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)
    matches = [b for b in blocks if contains in b]
    assert matches, f"no ```{lang} block containing {contains!r} in README.md"
    return matches[0]


def test_readme_setup_commands_come_first() -> None:
    first = re.search(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    assert first is not None
    lines = [ln for ln in first.group(1).splitlines() if ln.strip()]
    assert len(lines) == 2
    assert lines[0].endswith("streamlabel demo")
    assert "pytest" in lines[1]


def test_readme_lf_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lfs.yaml").write_text(_block("yaml", "name: card-fraud"))
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"events": make_transactions(2_000, seed=3)}
    exec(_block("python", "load_lfset"), namespace)  # the README's own code, nothing else
    proba = namespace["proba"]
    assert isinstance(proba, np.ndarray)
    assert proba.shape == (2_000, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    L = namespace["L"]
    assert isinstance(L, np.ndarray)
    assert (L >= 0).any(), "the README's LFs never fire on generated transactions"
