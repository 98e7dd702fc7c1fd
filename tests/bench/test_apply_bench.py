from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from streamlabel.bench import bench_apply
from streamlabel.bench._apply import bench_code_lfs, bench_lfset_spec
from streamlabel.datasets import make_transactions
from streamlabel.lf import LFApplier, LFSet


def test_bench_apply_small_run_is_json_and_consistent() -> None:
    out = bench_apply(n_events=400, seed=1, repeats=1)
    assert json.loads(json.dumps(out)) == out
    assert out["identical_L"] is True
    assert out["n_events"] == 400 and out["n_lfs"] == 10
    rates = out["rows_per_s"]
    for key in ("plain_loop", "applier_code", "applier_declarative"):
        assert rates[key] > 0
        assert np.isclose(rates[key] * out["seconds"][key], 400, rtol=1e-3)
    assert np.isclose(
        out["ratios"]["declarative_vs_plain"],
        rates["applier_declarative"] / rates["plain_loop"],
        rtol=1e-2,
    )
    assert set(out["votes_per_lf"]) == set(LFSet.from_spec(bench_lfset_spec()).ids)
    assert 0 < out["coverage"] <= 1
    kw = out["keywords"]
    assert kw["identical_L"] is True
    assert set(kw["rows_per_s"]) >= {"plain_loop", "applier_code", "applier_declarative"}
    if importlib.util.find_spec("snorkel") is None:
        assert out["snorkel"]["available"] is False
        assert "snorkel" in out["snorkel"]["skipped"]
        assert "snorkel_pandas" not in rates
    else:
        assert out["snorkel"]["available"] is True
        assert rates["snorkel_pandas"] > 0
        assert "applier_code_vs_snorkel" in out["ratios"]


@pytest.mark.parametrize("workload", ["mixed", "keywords"])
def test_bench_lfs_fire_and_agree(workload: str) -> None:
    events = make_transactions(2000, seed=3)
    L_code = LFApplier(bench_code_lfs(workload), cardinality=2).apply_many(events)
    L_decl = LFApplier(LFSet.from_spec(bench_lfset_spec(workload))).apply_many(events)
    assert np.array_equal(L_code, L_decl)
    assert ((L_code != -1).sum(axis=0) > 0).all()


def test_unknown_workload_is_refused() -> None:
    with pytest.raises(ValueError, match="workload"):
        bench_code_lfs("nope")
    with pytest.raises(ValueError, match="workload"):
        bench_lfset_spec("nope")


def test_make_transactions_is_deterministic_and_typed() -> None:
    a = make_transactions(300, seed=5)
    assert a == make_transactions(300, seed=5)
    assert a != make_transactions(300, seed=6)
    for e in a:
        assert isinstance(e["amount"], float) and e["amount"] > 0
        assert isinstance(e["hour"], int) and 0 <= e["hour"] <= 23
        assert isinstance(e["descriptor"], str) and e["descriptor"]
    assert len({e["id"] for e in a}) == 300
    bad = make_transactions(2000, seed=5, malformed_rate=0.1)
    n_bad = sum(
        "descriptor" not in e or isinstance(e["amount"], str) or e["hour"] is None for e in bad
    )
    assert 100 < n_bad < 300
