"""Benchmarks: the peer is really run and timed, and each ratio has its operands the right way.

Timings are never asserted as such; where a ratio must be checked, either it is recomputed
from the report's own figures, or a fake clock makes the times known.
"""

from __future__ import annotations

import itertools
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from streamlabel.bench import _driftcost
from streamlabel.bench._apply import bench_apply
from streamlabel.bench._driftcost import bench_driftcost
from streamlabel.bench._labelmodel import bench_labelmodel
from streamlabel.bench._speed import bench_lmspeed
from streamlabel.datasets import save_wrench
from streamlabel.pipeline import DriftWatch, Labeler


def _wrench(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    n, m, k = 340, 6, 2
    y = rng.integers(0, k, n)
    wrong = (y[:, None] + rng.integers(1, k, (n, m))) % k
    votes = np.where(rng.random((n, m)) < 0.8, y[:, None], wrong)
    L = np.where(rng.random((n, m)) < 0.5, votes, -1)
    return save_wrench(folder, L, y, k, n_train=200, n_valid=20)


class _FakeLabelModel:
    """Stands in for Snorkel's ``LabelModel``: the bench's wiring and ratios are under test
    here, not Snorkel (whose real runs are in ``test_labelmodel_bench.py``)."""

    calls: ClassVar[list[tuple[str, int]]] = []

    def __init__(self, cardinality: int, verbose: bool = False) -> None:
        self.k = cardinality

    def fit(self, L: np.ndarray, **_: Any) -> None:
        type(self).calls.append(("fit", len(L)))
        time.sleep(0.02)  # a known-positive time, unlike ours

    def predict_proba(self, L: np.ndarray) -> np.ndarray:
        type(self).calls.append(("predict_proba", len(L)))
        return np.full((len(L), self.k), 1.0 / self.k)

    def predict(self, L: np.ndarray, **_: Any) -> np.ndarray:
        type(self).calls.append(("predict", len(L)))
        return np.zeros(len(L), dtype=np.int64)


class _FakeVoter(_FakeLabelModel):
    pass


@pytest.fixture
def fake_snorkel(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Put stand-ins for ``snorkel`` and ``torch`` (the peers extra) in ``sys.modules``."""
    _FakeLabelModel.calls = []
    torch = types.ModuleType("torch")
    threads = [4]
    torch.get_num_threads = lambda: threads[0]  # type: ignore[attr-defined]
    torch.set_num_threads = lambda n: threads.__setitem__(0, n)  # type: ignore[attr-defined]
    snorkel = types.ModuleType("snorkel")
    snorkel.__version__ = "fake"  # type: ignore[attr-defined]
    labeling = types.ModuleType("snorkel.labeling")
    model = types.ModuleType("snorkel.labeling.model")
    model.LabelModel = _FakeLabelModel  # type: ignore[attr-defined]
    model.MajorityLabelVoter = _FakeVoter  # type: ignore[attr-defined]
    for name, mod in [
        ("torch", torch),
        ("snorkel", snorkel),
        ("snorkel.labeling", labeling),
        ("snorkel.labeling.model", model),
    ]:
        monkeypatch.setitem(sys.modules, name, mod)
    yield _FakeLabelModel.calls
    assert threads == [4]  # the caller's torch threads are restored


# Guards bench/_labelmodel.py: the peer is fitted on the train rows and timed, and
# learn_time_vs_snorkel_labelmodel is ours / Snorkel's (< 1: streaming learned faster),
# not the inverse.
def test_labelmodel_learn_time_ratio_is_ours_over_snorkels(
    tmp_path: Path, fake_snorkel: list[tuple[str, int]]
) -> None:
    result = bench_labelmodel(_wrench(tmp_path / "syn"), peers=True)
    assert ("fit", 200) in fake_snorkel
    ours = result["models"]["OnlineLabelModel"]["learn_seconds"]
    ref = result["models"]["snorkel LabelModel"]["learn_seconds"]
    assert ours > 0 and ref >= 0.02
    assert result["ratio"]["learn_time_vs_snorkel_labelmodel"] == pytest.approx(
        ours / ref, rel=1e-4
    )


# Guards bench/_speed.py: with peers on, Snorkel's LabelModel is really fitted and timed,
# and both ratios are ours / Snorkel's.
def test_lmspeed_runs_snorkel_and_the_ratios_are_ours_over_snorkels(
    fake_snorkel: list[tuple[str, int]],
) -> None:
    report = bench_lmspeed(2_000, 5, n_one=100, repeats=1, peers=True)
    assert ("fit", 2_000) in fake_snorkel and ("predict_proba", 2_000) in fake_snorkel
    snk = report["peers"]["snorkel LabelModel"]
    assert 0 < snk["fit_rows_per_s"] <= 2_000 / 0.02
    ours = report["models"]["OnlineLabelModel"]
    ratio = report["ratio"]
    assert ratio["learn_rows_per_s_vs_snorkel_fit"] == pytest.approx(
        ours["learn_many_rows_per_s"] / snk["fit_rows_per_s"]
    )
    assert ratio["predict_rows_per_s_vs_snorkel"] == pytest.approx(
        ours["predict_proba_many_rows_per_s"] / snk["predict_proba_rows_per_s"]
    )


# Guards bench/_apply.py: every ratio is the first method's rate over the second's
# (code_vs_plain, and *_vs_snorkel when Snorkel is installed).
def test_apply_ratios_have_their_operands_the_right_way() -> None:
    out = bench_apply(n_events=300, seed=1, repeats=1)
    for report in (out, out["keywords"]):
        rates, ratios = report["rows_per_s"], report["ratios"]
        assert ratios["code_vs_plain"] == pytest.approx(
            rates["applier_code"] / rates["plain_loop"], rel=2e-2
        )
        if "snorkel_pandas" in rates:
            for k in ("plain_loop", "applier_code", "applier_declarative"):
                assert ratios[f"{k}_vs_snorkel"] == pytest.approx(
                    rates[k] / rates["snorkel_pandas"], rel=2e-2
                ), k


# Guards bench/_driftcost.py with a fake clock (labeling costs 3 units a batch, watching
# 1): the watch's time is measured, total_over_none is watched / none, watch_over_labeler
# is watch / labeler, and the per_value variant really builds its watch with chunk=1.
def test_driftcost_times_the_watch_and_its_ratios_with_a_fake_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [0.0]
    chunks: list[Any] = []

    class SlowLabeler(Labeler):
        def process_many(self, raws: Any) -> Any:
            out = super().process_many(raws)
            now[0] += 3.0
            return out

    class SlowWatch(DriftWatch):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            chunks.append(kwargs.get("chunk"))
            super().__init__(*args, **kwargs)

        def observe(self, *args: Any, **kwargs: Any) -> Any:
            out = super().observe(*args, **kwargs)
            now[0] += 1.0
            return out

    monkeypatch.setattr(_driftcost, "Labeler", SlowLabeler)
    monkeypatch.setattr(_driftcost, "DriftWatch", SlowWatch)
    monkeypatch.setattr(_driftcost, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    report = bench_driftcost(600, batch_size=200, repeats=1)
    batches, n = 3, 600
    v = report["variants"]
    assert v["none"]["labeler_us_per_event"] == pytest.approx(1e6 * 3 * batches / n)
    assert v["none"]["watch_us_per_event"] == 0.0
    for name in ("per_value", "chunked"):
        assert v[name]["watch_us_per_event"] == pytest.approx(1e6 * 1 * batches / n), name
        assert report["ratios"][name]["total_over_none"] == pytest.approx(4 / 3), name
        assert report["ratios"][name]["watch_over_labeler"] == pytest.approx(1 / 3), name
    # Warm-up (default chunk), then per_value (chunk=1) and chunked (default) per repeat.
    assert list(itertools.islice(chunks, 1, 3)) == [1, None]
