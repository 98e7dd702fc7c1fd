"""Benchmarks: the peer is really run and timed, and each ratio has its operands the right way.

Timings are never asserted as such; where a ratio must be checked, either it is recomputed
from the report's own figures, or a fake clock makes the times known.
"""

from __future__ import annotations

import importlib.util
import itertools
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamlabel.bench import _driftcost
from streamlabel.bench._apply import bench_apply
from streamlabel.bench._driftcost import bench_driftcost
from streamlabel.bench._labelmodel import bench_labelmodel
from streamlabel.bench._speed import bench_lmspeed
from streamlabel.datasets import save_wrench
from streamlabel.pipeline import DriftWatch, Labeler

HAS_SNORKEL = importlib.util.find_spec("snorkel") is not None


def _wrench(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    n, m, k = 340, 6, 2
    y = rng.integers(0, k, n)
    wrong = (y[:, None] + rng.integers(1, k, (n, m))) % k
    votes = np.where(rng.random((n, m)) < 0.8, y[:, None], wrong)
    L = np.where(rng.random((n, m)) < 0.5, votes, -1)
    return save_wrench(folder, L, y, k, n_train=200, n_valid=20)


# Guards bench/_labelmodel.py: learn_time_vs_snorkel_labelmodel is ours / Snorkel's
# (< 1: streaming learned faster), not the inverse.
@pytest.mark.skipif(not HAS_SNORKEL, reason="snorkel (the peers extra) not installed")
def test_labelmodel_learn_time_ratio_is_ours_over_snorkels(tmp_path: Path) -> None:
    result = bench_labelmodel(_wrench(tmp_path / "syn"), peers=True)
    ours = result["models"]["OnlineLabelModel"]["learn_seconds"]
    ref = result["models"]["snorkel LabelModel"]["learn_seconds"]
    assert ours > 0 and ref > 0 and ours != ref
    assert result["ratio"]["learn_time_vs_snorkel_labelmodel"] == pytest.approx(
        ours / ref, rel=1e-4
    )


# Guards bench/_speed.py: with peers on, Snorkel's LabelModel is really fitted and timed,
# and both ratios are ours / Snorkel's.
@pytest.mark.skipif(not HAS_SNORKEL, reason="snorkel (the peers extra) not installed")
def test_lmspeed_runs_snorkel_and_the_ratios_are_ours_over_snorkels() -> None:
    report = bench_lmspeed(2_000, 5, n_one=100, repeats=1, peers=True)
    snk = report["peers"]["snorkel LabelModel"]
    assert snk["fit_rows_per_s"] > 0 and snk["predict_proba_rows_per_s"] > 0
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
