from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlabel.analysis import LFAnalysis, LFStats, OverallStats
from streamlabel.datasets import load_wrench

# A row is (votes of the LFs active in it, gold label or -1).
Row = tuple[dict[str, int], int]

POOL = ["a@1", "b@1", "c@1", "a@2", "d@1"]


# -- straightforward reference (Snorkel's definitions, row by row) --------------------------


def ref_summary(
    rows: Sequence[Row], order: Sequence[str], window: bool = False
) -> list[dict[str, Any]]:
    """Per-LF figures for LFs in `order` (registration order); window mode keeps active ones."""
    out = []
    for lf in order:
        active = [(v, y) for v, y in rows if lf in v]
        if window and not active:
            continue
        fired = [(v, y) for v, y in active if v[lf] != -1]
        others = [[x for k, x in v.items() if k != lf and x != -1] for v, _ in fired]
        overlap = sum(1 for o in others if o)
        conflict = sum(
            1 for (v, _), o in zip(fired, others, strict=True) if any(x != v[lf] for x in o)
        )
        gold = [(v, y) for v, y in fired if y != -1]
        correct = sum(1 for v, y in gold if v[lf] == y)
        n = len(active)
        out.append(
            {
                "lf": lf,
                "polarity": tuple(sorted({v[lf] for v, _ in fired})),
                "coverage": len(fired) / n if n else math.nan,
                "overlaps": overlap / n if n else math.nan,
                "conflicts": conflict / n if n else math.nan,
                "correct": correct,
                "incorrect": len(gold) - correct,
                "emp_acc": correct / len(gold) if gold else math.nan,
                "n_active": n,
                "n_fired": len(fired),
                "n_gold": len(gold),
            }
        )
    return out


def ref_overall(rows: Sequence[Row]) -> dict[str, Any]:
    n = len(rows)
    fired = [[x for x in v.values() if x != -1] for v, _ in rows]
    frac = (lambda k: k / n) if n else (lambda k: math.nan)
    return {
        "n_rows": n,
        "coverage": frac(sum(1 for f in fired if f)),
        "overlap": frac(sum(1 for f in fired if len(f) >= 2)),
        "conflict": frac(sum(1 for f in fired if len(set(f)) >= 2)),
    }


def norm(d: Mapping[str, Any]) -> dict[str, Any]:
    # NaN != NaN; compare it as None.
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in d.items()}


def got_summary(a: LFAnalysis, window: bool = False) -> list[dict[str, Any]]:
    rows = []
    for s in a.summary(window=window):
        d = asdict(s)
        del d["est_acc"]
        rows.append(norm(d))
    return rows


def check(a: LFAnalysis, rows: Sequence[Row], order: Sequence[str]) -> None:
    assert a.lf_ids_ == list(order)
    assert got_summary(a) == [norm(r) for r in ref_summary(rows, order)]
    assert norm(asdict(a.overall())) == norm(ref_overall(rows))
    recent = rows[len(rows) - a.window :] if len(rows) > a.window else rows
    assert got_summary(a, window=True) == [norm(r) for r in ref_summary(recent, order, window=True)]
    assert norm(asdict(a.overall(window=True))) == norm(ref_overall(recent))


# -- strategies ----------------------------------------------------------------------------


@st.composite
def streams(draw: st.DrawFn) -> tuple[int, list[tuple[list[str], np.ndarray, np.ndarray, bool]]]:
    """Chunks of votes over changing LF sets: (ids, L, y, feed row by row?)."""
    k = draw(st.integers(2, 4))
    chunks = []
    for _ in range(draw(st.integers(1, 6))):
        ids = draw(st.permutations(POOL).map(lambda p: list(p)))[: draw(st.integers(0, 5))]
        n = draw(st.integers(0, 9))
        L = np.array(
            draw(st.lists(st.integers(-1, k - 1), min_size=n * len(ids), max_size=n * len(ids))),
            dtype=np.int64,
        ).reshape(n, len(ids))
        y = np.array(draw(st.lists(st.integers(-1, k - 1), min_size=n, max_size=n)), dtype=np.int64)
        chunks.append((ids, L, y, draw(st.booleans())))
    return k, chunks


def feed(
    a: LFAnalysis,
    chunks: Sequence[tuple[list[str], np.ndarray, np.ndarray, bool]],
    order: list[str],
) -> list[Row]:
    """Feed chunks; return the rows and append newly registered LF ids to `order`."""
    rows: list[Row] = []
    for ids, L, y, one_by_one in chunks:
        if not one_by_one or L.shape[0]:  # update_many registers ids even without rows
            order += [lf for lf in ids if lf not in order]
        if one_by_one:
            for r in range(L.shape[0]):
                a.update_one(dict(zip(ids, L[r].tolist(), strict=True)), y=int(y[r]))
        else:
            a.update_many(L, ids, y)
        rows += [(dict(zip(ids, L[r].tolist(), strict=True)), int(y[r])) for r in range(L.shape[0])]
    return rows


# -- property tests ------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(streams(), st.integers(1, 20))
def test_matches_reference_with_lfs_appearing_and_retiring(stream: Any, window: int) -> None:
    k, chunks = stream
    a = LFAnalysis(k, window=window)
    order: list[str] = []
    rows = feed(a, chunks, order)
    check(a, rows, order)
    assert a.n_rows_ == len(rows)


@settings(max_examples=100, deadline=None)
@given(streams(), streams(), st.integers(1, 20))
def test_merge_equals_sequential(s1: Any, s2: Any, window: int) -> None:
    k = max(s1[0], s2[0])
    a, b, both = LFAnalysis(k, window), LFAnalysis(k, window), LFAnalysis(k, window)
    order: list[str] = []
    rows = feed(a, s1[1], order) + feed(b, s2[1], order)
    feed(both, s1[1] + s2[1], [])
    a.merge(b)
    check(a, rows, order)
    assert a.to_dict() == both.to_dict()


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 5), st.integers(0, 300), st.integers(1, 8), st.integers(1, 120), st.data())
def test_fixed_lf_set_matches_snorkel_formulas(
    k: int, n: int, m: int, window: int, data: st.DataObject
) -> None:
    """With every LF active on every row, figures equal Snorkel's matrix formulas."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    L = rng.integers(-1, k, size=(n, m))
    L[rng.random((n, m)) < 0.4] = -1
    y = rng.integers(-1, k, size=n)
    ids = [f"lf{j}" for j in range(m)]
    a = LFAnalysis(k, window=window)
    # Random chunking, to exercise partial evictions from the window.
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=6)))
    for lo, hi in zip([0, *cuts], [*cuts, n], strict=True):
        a.update_many(L[lo:hi], ids, y[lo:hi])

    for Lw, yw, w in ((L, y, False), (L[-window:], y[-window:], True)):
        if Lw.shape[0] == 0:
            continue
        fired = Lw != -1
        multi = fired.sum(1) > 1
        conflicted = np.array([len(set(r[r != -1].tolist())) > 1 for r in Lw], dtype=bool)
        known = yw != -1
        stats = a.summary(window=w)
        np.testing.assert_allclose([s.coverage for s in stats], fired.mean(0))
        np.testing.assert_allclose([s.overlaps for s in stats], (fired & multi[:, None]).mean(0))
        np.testing.assert_allclose(
            [s.conflicts for s in stats], (fired & conflicted[:, None]).mean(0)
        )
        correct = ((Lw == yw[:, None]) & known[:, None]).sum(0)
        gold = (fired & known[:, None]).sum(0)
        assert [s.correct for s in stats] == correct.tolist()
        assert [s.incorrect for s in stats] == (gold - correct).tolist()
        assert [s.polarity for s in stats] == [
            tuple(np.unique(Lw[:, j][Lw[:, j] != -1]).tolist()) for j in range(m)
        ]
        o = a.overall(window=w)
        assert o.coverage == pytest.approx(fired.any(1).mean())
        assert o.overlap == pytest.approx(multi.mean())
        assert o.conflict == pytest.approx(conflicted.mean())


# -- examples ------------------------------------------------------------------------------


def test_hand_computed_example() -> None:
    a = LFAnalysis(3)
    L = np.array([[0, 0, -1], [0, 1, 2], [-1, -1, -1], [2, -1, -1]])
    a.update_many(L, ["x", "y", "z"], y=[0, 1, -1, 0])
    x, y_, z = a.summary()
    assert isinstance(x, LFStats) and x.lf == "x" and math.isnan(x.est_acc)
    assert (x.polarity, x.coverage, x.overlaps, x.conflicts) == ((0, 2), 0.75, 0.5, 0.25)
    assert (x.correct, x.incorrect, x.n_gold) == (1, 2, 3)
    assert x.emp_acc == pytest.approx(1 / 3)
    assert (y_.polarity, y_.coverage, y_.conflicts, y_.correct, y_.incorrect) == (
        (0, 1),
        0.5,
        0.25,
        2,
        0,
    )
    assert (z.coverage, z.overlaps, z.n_gold, math.isnan(z.emp_acc)) == (0.25, 0.25, 1, False)
    assert a.overall() == OverallStats(n_rows=4, coverage=0.75, overlap=0.5, conflict=0.25)


def test_empty_analysis_reports_nothing() -> None:
    a = LFAnalysis(2)
    assert a.summary() == [] and a.summary(window=True) == [] and a.n_rows_ == 0
    assert math.isnan(a.overall().coverage)
    json.dumps(a.to_dict(), allow_nan=False)
    assert "all time: 0 rows" in a.to_table()


def test_retired_lf_keeps_all_time_stats_and_leaves_window() -> None:
    a = LFAnalysis(2, window=3)
    a.update_many([[1, 1], [1, 0]], ["old@1", "kept@1"], y=[1, 1])
    before = a.summary()[0]
    a.update_many([[0]] * 3, ["kept@1"], y=[0, 0, 0])
    assert a.summary()[0] == before
    assert [s.lf for s in a.summary(window=True)] == ["kept@1"]
    assert a.summary(window=True)[0].n_active == 3


def test_window_exact_when_block_larger_than_window() -> None:
    rng = np.random.default_rng(7)
    L = rng.integers(-1, 3, size=(5000, 4))
    y = rng.integers(-1, 3, size=5000)
    ids = ["p", "q", "r", "s"]
    a, b = LFAnalysis(3, window=777), LFAnalysis(3, window=777)
    a.update_many(L[:3000], ids, y[:3000])
    a.update_many(L[3000:], ids, y[3000:])
    b.update_many(L[-777:], ids, y[-777:])
    assert a.to_dict()["recent"] == b.to_dict()["all_time"]
    assert a.overall(window=True).n_rows == 777


def test_label_model_estimated_accuracy() -> None:
    class Model:
        def lf_accuracies(self) -> dict[str, float]:
            return {"kw@1": 0.875}

    a = LFAnalysis(2)
    a.update_many([[1, -1], [-1, 0]], ["kw@1", "other@1"])
    s = a.summary(label_model=Model())
    assert s[0].est_acc == 0.875 and math.isnan(s[1].est_acc)
    assert math.isnan(a.summary()[0].est_acc)
    d = a.to_dict(label_model=Model())
    assert d["all_time"]["lfs"][0]["est_acc"] == 0.875
    assert d["all_time"]["lfs"][1]["est_acc"] is None
    assert "0.875" in a.to_table(label_model=Model())


def test_to_table_lists_lfs_numbers_and_both_sections() -> None:
    a = LFAnalysis(2, window=2)
    a.update_many(
        [[1, 0, -1], [1, 1, -1], [0, -1, 0]], ["kw_my@1", "regex_check@2", "short@1"], [1, 1, 0]
    )
    table = a.to_table()
    lines = table.splitlines()
    assert lines[0].startswith("all time: 3 rows, coverage 1.000")
    assert "recent window (last 2): 2 rows" in table
    header = lines[1].split()
    assert header[:5] == ["lf", "polarity", "coverage", "overlaps", "conflicts"]
    assert header[5:] == ["correct", "incorrect", "emp_acc", "est_acc"]
    kw = next(line for line in lines if line.startswith("kw_my@1"))
    assert kw.split() == ["kw_my@1", "[0,", "1]", "1.000", "1.000", "0.333", "3", "0", "1.000", "-"]
    for lf in ("kw_my@1", "regex_check@2", "short@1"):
        assert lf in table
    # Fixed width: numbers are right-aligned under their header.
    col = lines[1].index("coverage") + len("coverage")
    assert all(line[col - 5 : col] in {"1.000", "0.333", "0.667", "0.000"} for line in lines[2:5])
    assert a.to_table(window=True).startswith("recent window")
    assert "recent" not in a.to_table(window=False)


def test_to_dict_is_json() -> None:
    a = LFAnalysis(2, window=5)
    a.update_many([[1, -1], [0, -1]], ["a", "b"], y=[-1, -1])
    d = a.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    assert d["cardinality"] == 2 and d["window"] == 5
    assert d["all_time"]["lfs"][0]["polarity"] == [0, 1]
    assert d["all_time"]["lfs"][0]["emp_acc"] is None


def test_update_one_equals_update_many() -> None:
    rng = np.random.default_rng(3)
    L = rng.integers(-1, 3, size=(50, 3))
    y = rng.integers(-1, 3, size=50)
    a, b = LFAnalysis(3, window=20), LFAnalysis(3, window=20)
    a.update_many(L, ["u", "v", "w"], y)
    for r in range(50):
        b.update_one({"u": int(L[r, 0]), "v": int(L[r, 1]), "w": int(L[r, 2])}, y=int(y[r]))
    assert a.to_dict() == b.to_dict()
    b.update_one({"u": 1})  # unknown gold by default
    assert b.summary()[0].n_gold == a.summary()[0].n_gold


def test_merge_into_self_and_guards() -> None:
    a = LFAnalysis(2, window=4)
    a.update_many([[1], [0]], ["a"], [1, 1])
    a.merge(a)
    s = a.summary()[0]
    assert (s.n_active, s.correct, s.incorrect) == (4, 2, 2)
    assert a.overall(window=True).n_rows == 4
    with pytest.raises(ValueError, match="cardinality"):
        a.merge(LFAnalysis(3, window=4))
    with pytest.raises(ValueError, match="window"):
        a.merge(LFAnalysis(2, window=2))
    assert a.merge(LFAnalysis(2, window=9)) is a  # empty, longer window: fine


@pytest.mark.parametrize(
    ("L", "ids", "y", "err"),
    [
        ([[0, 1]], ["a"], None, ValueError),
        ([[0, 2]], ["a", "b"], None, ValueError),
        ([[0, -2]], ["a", "b"], None, ValueError),
        ([[0, 1]], ["a", "a"], None, ValueError),
        ([[0.0, 1.0]], ["a", "b"], None, TypeError),
        ([[0, 1]], ["a", "b"], [0, 1], ValueError),
        ([[0, 1]], ["a", "b"], [2], ValueError),
    ],
)
def test_validation(L: Any, ids: list[str], y: Any, err: type[Exception]) -> None:
    a = LFAnalysis(2)
    with pytest.raises(err):
        a.update_many(L, ids, y)
    assert a.n_rows_ == 0


def test_window_does_not_alias_caller_buffer() -> None:
    buf = np.array([[1, 0], [1, 1], [0, 0]])
    a = LFAnalysis(2, window=2)
    a.update_many(buf, ["a", "b"], [1, 1, 0])
    buf[:] = -1  # caller reuses its buffer
    a.update_many([[1, -1]], ["a", "b"], [1])  # evicts row 1 by re-counting it
    b = LFAnalysis(2, window=2)
    b.update_many([[0, 0], [1, -1]], ["a", "b"], [0, 1])
    assert a.to_dict()["recent"] == b.to_dict()["all_time"]
    with pytest.raises(TypeError):
        a.update_many([[1]], "a")


def test_update_one_validation_and_settings() -> None:
    with pytest.raises(ValueError):
        LFAnalysis(2).update_one({"a": 2})
    with pytest.raises(ValueError):
        LFAnalysis(2).update_one({"a": 1}, y=5)
    with pytest.raises(ValueError):
        LFAnalysis(0)
    with pytest.raises(ValueError):
        LFAnalysis(2, window=0)
    assert vars(LFAnalysis(2, window=9)) == {"cardinality": 2, "window": 9}


def test_empty_block_registers_lfs() -> None:
    a = LFAnalysis(2)
    a.update_many(np.zeros((0, 2), dtype=np.int64), ["a", "b"])
    a.update_many([], [])
    assert a.lf_ids_ == ["a", "b"] and a.n_rows_ == 0
    assert math.isnan(a.summary()[0].coverage)


def test_update_many_100k_by_10_is_fast() -> None:
    rng = np.random.default_rng(0)
    L = rng.integers(-1, 2, size=(100_000, 10))
    y = rng.integers(-1, 2, size=100_000)
    ids = [f"lf{j}@1" for j in range(10)]
    best = math.inf
    for _ in range(3):
        a = LFAnalysis(2)
        t0 = time.perf_counter()
        a.update_many(L, ids, y)
        best = min(best, time.perf_counter() - t0)
    assert best < 0.5, f"update_many(100k x 10) took {best:.3f}s"


def test_youtube_figures_match_sources(youtube_wrench_dir: Path) -> None:
    """Label coverage of the WRENCH YouTube splits as recorded in shared/data/SOURCES.md."""
    for split, coverage in (("valid", 0.875), ("test", 0.928)):
        ds = load_wrench(youtube_wrench_dir, split)
        a = LFAnalysis(ds.cardinality)
        a.update_many(ds.L, [f"lf{j}" for j in range(ds.n_lfs)], ds.y)
        assert a.overall().coverage == pytest.approx(coverage, abs=5e-4)
        stats = a.summary()
        assert len(stats) == 10
        fired = ds.L != -1
        np.testing.assert_allclose([s.coverage for s in stats], fired.mean(0))
        assert [s.n_gold for s in stats] == fired.sum(0).tolist()
