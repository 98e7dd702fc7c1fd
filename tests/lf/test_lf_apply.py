from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from streamlabel.lf import (
    ABSTAIN,
    CompiledBatch,
    LabelingFunction,
    LFApplier,
    LFReport,
    LFSet,
    labeling_function,
)

DECL = LFSet.from_spec(
    {
        "name": "s",
        "cardinality": 3,
        "lfs": [
            {
                "name": "casino",
                "label": 2,
                "when": {"kind": "keyword", "field": "t", "keywords": ["casino"]},
            },
            {
                "name": "big",
                "label": 1,
                "when": {"kind": "threshold", "field": "a", "op": "gt", "value": 10},
            },
        ],
    }
)


@labeling_function(fields=["a"])
def small(event: Any) -> int:
    return 0 if event["a"] < 3 else ABSTAIN


@labeling_function()
def divide(event: Any) -> int:
    return 1 if 10 / event["a"] > 4 else ABSTAIN  # ZeroDivisionError when a == 0


def test_shapes_dtype_and_column_order() -> None:
    applier = LFApplier([small, *DECL.lfs], cardinality=3)
    L = applier.apply_many([{"a": 1, "t": "casino"}, {"a": 50, "t": "x"}])
    assert L.dtype == np.int64 and L.shape == (2, 3)
    assert L.tolist() == [[0, 2, -1], [-1, -1, 1]]
    assert applier.lf_ids_ == ("small@1", "casino@1", "big@1")
    empty = applier.apply_many([])
    assert empty.shape == (0, 3) and empty.dtype == np.int64
    one = applier.apply_one({"a": 1, "t": "casino"})
    assert one.shape == (3,) and one.dtype == np.int64 and one.tolist() == [0, 2, -1]


def test_lfset_gives_its_cardinality_and_generators_are_accepted() -> None:
    applier = LFApplier(DECL)
    L = applier.apply_many({"a": float(i), "t": "casino"} for i in (5, 20))
    assert L.tolist() == [[2, -1], [2, 1]]
    assert applier.n_events_ == 2


def test_faults_abstain_are_counted_and_do_not_stop_the_batch() -> None:
    applier = LFApplier([divide, small], cardinality=2, chunk_size=4)
    events = [{"a": a} for a in (1, 0, 2, 0, 5, 1, 0, 2, 9, 1)]
    L = applier.apply_many(events)
    expected_divide = [1 if a and 10 / a > 4 else -1 for a in (1, 0, 2, 0, 5, 1, 0, 2, 9, 1)]
    assert L[:, 0].tolist() == expected_divide
    assert L[:, 1].tolist() == [0 if e["a"] < 3 else -1 for e in events]
    assert applier.fault_counts_ == {"divide@1": 3, "small@1": 0}
    assert applier.invalid_counts_ == {"divide@1": 0, "small@1": 0}
    faults = [r for r in applier.reports_ if r.kind == "fault"]
    assert [r.index for r in faults] == [1, 3, 6]
    assert all(r.reason.startswith("ZeroDivisionError") for r in faults)


def test_chunk_fallback_keeps_results_of_every_chunk() -> None:
    calls: list[int] = []

    def f(event: dict[str, int]) -> int:
        calls.append(event["i"])
        if event["i"] == 5:
            raise RuntimeError("boom")
        return event["i"] % 2

    applier = LFApplier([LabelingFunction("f", f)], cardinality=2, chunk_size=3)
    L = applier.apply_many([{"i": i} for i in range(9)])
    assert L[:, 0].tolist() == [0, 1, 0, 1, 0, -1, 0, 1, 0]
    # Only the chunk that raised (events 3..5) was run a second time.
    assert sorted(calls) == sorted([*range(9), 3, 4, 5])


@pytest.mark.parametrize("bad", [2, 5, -2, 2**63, "1", 1.0, True, None])
def test_votes_that_are_not_labels_are_faults(bad: Any) -> None:
    f = LabelingFunction("f", lambda e: bad if e["i"] == 1 else 1)
    applier = LFApplier([f], cardinality=2)
    assert applier.apply_many([{"i": 0}, {"i": 1}, {"i": 2}])[:, 0].tolist() == [1, -1, 1]
    assert applier.fault_counts_ == {"f@1": 1}
    assert applier.apply_one({"i": 1}).tolist() == [-1]
    assert applier.fault_counts_ == {"f@1": 2}


def test_numpy_integer_votes_are_accepted() -> None:
    f = LabelingFunction("f", lambda e: np.int64(1))
    assert LFApplier([f], cardinality=2).apply_many([{}]).tolist() == [[1]]


def test_without_cardinality_any_label_above_abstain_is_accepted() -> None:
    f = LabelingFunction("f", lambda e: 7)
    applier = LFApplier([f])
    assert applier.apply_many([{}]).tolist() == [[7]]
    assert applier.fault_counts_ == {"f@1": 0}


def test_without_cardinality_a_vote_beyond_int64_is_a_fault_not_a_crash() -> None:
    f = LabelingFunction("f", lambda e: 2**63 if e["i"] else 3)
    applier = LFApplier([f])
    assert applier.apply_many([{"i": 0}, {"i": 1}]).tolist() == [[3], [-1]]
    assert applier.apply_one({"i": 1}).tolist() == [-1]
    assert applier.fault_counts_ == {"f@1": 2}
    assert "9223372036854775808" in applier.reports_[-1].reason


def test_attribute_error_on_a_declared_field_is_invalid() -> None:
    @dataclass
    class NoA:
        t: str

    @labeling_function(fields=["a"])
    def reads_a(event: Any) -> int:
        return 1 if event.a > 3 else ABSTAIN

    applier = LFApplier([reads_a], cardinality=2)
    assert applier.apply_many([NoA("x")]).tolist() == [[-1]]
    assert applier.invalid_counts_ == {"reads_a@1": 1}
    assert applier.fault_counts_ == {"reads_a@1": 0}
    assert applier.reports_[-1].reason == "missing field 'a'"


def test_key_and_type_errors_on_declared_fields_are_invalid_not_faults() -> None:
    @labeling_function(fields=["a"])
    def needs_a(event: Any) -> int:
        return 1 if event["a"] > 3 else ABSTAIN

    @labeling_function()
    def undeclared(event: Any) -> int:
        return 1 if event["a"] > 3 else ABSTAIN

    @labeling_function(fields=["a"])
    def other_key(event: Any) -> int:
        return 1 if event["zzz"] > 3 else ABSTAIN

    applier = LFApplier([needs_a, undeclared, other_key], cardinality=2)
    L = applier.apply_many([{"a": 5}, {}, {"a": "x"}])
    assert L[:, 0].tolist() == [1, -1, -1]
    assert applier.invalid_counts_ == {"needs_a@1": 2, "undeclared@1": 0, "other_key@1": 0}
    assert applier.fault_counts_ == {"needs_a@1": 0, "undeclared@1": 2, "other_key@1": 3}
    reasons = [r.reason for r in applier.reports_ if r.lf_id == "needs_a@1"]
    assert reasons[0] == "missing field 'a'"
    assert "wrong type" in reasons[1]


def test_declarative_invalid_events_are_counted_and_reported() -> None:
    applier = LFApplier(DECL)
    L = applier.apply_many([{"t": "casino", "a": 50}, {"a": "50"}, {"t": 3, "a": 1}])
    assert L.tolist() == [[2, 1], [-1, -1], [-1, -1]]
    assert applier.invalid_counts_ == {"casino@1": 2, "big@1": 1}
    assert applier.fault_counts_ == {"casino@1": 0, "big@1": 0}
    assert set(applier.reports_) == {
        LFReport(1, 1, "casino@1", "invalid", "missing field 't'"),
        LFReport(2, 2, "casino@1", "invalid", "field 't' has type int, expected text"),
        LFReport(1, 1, "big@1", "invalid", "field 'a' has type str, expected number"),
    }
    applier.apply_one({"a": 1})
    assert applier.reports_[-1] == LFReport(3, 0, "casino@1", "invalid", "missing field 't'")
    assert applier.invalid_counts_["casino@1"] == 3


def test_reports_are_bounded_and_reset_clears() -> None:
    applier = LFApplier([divide], cardinality=2, max_reports=5)
    applier.apply_many([{"a": 0}] * 20)
    assert applier.fault_counts_ == {"divide@1": 20}
    assert len(applier.reports_) == 5
    assert [r.position for r in applier.reports_] == [15, 16, 17, 18, 19]
    applier.reset()
    assert applier.fault_counts_ == {"divide@1": 0} and not applier.reports_


def test_positions_continue_across_batches() -> None:
    applier = LFApplier([divide], cardinality=2)
    applier.apply_many([{"a": 1}, {"a": 0}])
    applier.apply_many([{"a": 0}])
    assert [(r.position, r.index) for r in applier.reports_] == [(1, 1), (2, 0)]
    applier.apply_one({"a": 0})
    assert applier.n_events_ == 4
    assert (applier.reports_[-1].position, applier.reports_[-1].index) == (3, 0)


def test_declarative_report_positions_continue_across_batches_and_calls() -> None:
    applier = LFApplier(DECL)
    applier.apply_many([{}])
    applier.apply_one({"t": "x", "a": 1})
    applier.apply_many([{"t": "x", "a": 1}, {"a": 1}])
    assert applier.n_events_ == 4
    last = applier.reports_[-1]
    assert (last.position, last.index, last.lf_id) == (3, 1, "casino@1")


def test_declarative_reports_keep_the_latest_events() -> None:
    applier = LFApplier(DECL, max_reports=2)
    applier.apply_many([{"a": 1}] * 5)  # every event misses "t"
    assert applier.invalid_counts_["casino@1"] == 5
    assert [r.position for r in applier.reports_] == [3, 4]


def test_a_failing_compiled_batch_falls_back_per_event(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Any, events: Any) -> Any:
        raise RuntimeError("compiled path bug")

    monkeypatch.setattr(CompiledBatch, "__call__", broken)
    applier = LFApplier(DECL)
    L = applier.apply_many([{"t": "casino", "a": 50}, {"a": 5}, {"t": "x", "a": "5"}])
    assert L.tolist() == [[2, 1], [-1, -1], [-1, -1]]
    assert applier.invalid_counts_ == {"casino@1": 1, "big@1": 1}
    assert applier.fault_counts_ == {"casino@1": 0, "big@1": 0}
    assert [(r.position, r.lf_id) for r in applier.reports_] == [(1, "casino@1"), (2, "big@1")]


def test_duplicate_lf_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        LFApplier([small, small]).apply_many([])


class Tx(BaseModel):
    t: str
    a: float


def test_pydantic_events_reach_code_lfs_as_models_and_specs_read_fields() -> None:
    @labeling_function()
    def attr(event: Tx) -> int:
        return 0 if event.a < 3 else ABSTAIN

    applier = LFApplier([attr, *DECL.lfs], cardinality=3)
    L = applier.apply_many([Tx(t="casino", a=1), Tx(t="x", a=50)])
    assert L.tolist() == [[0, 2, -1], [-1, -1, 1]]
    assert applier.apply_one(Tx(t="casino", a=1)).tolist() == [0, 2, -1]


_events = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "a": st.one_of(st.integers(-3, 20), st.floats(-5, 30), st.none(), st.just("4")),
            "t": st.one_of(st.sampled_from(["casino", "CASINO x", "x", ""]), st.integers()),
        },
    ),
    max_size=30,
)


@settings(max_examples=100, deadline=None)
@given(_events)
def test_apply_one_matches_apply_many_rows(events: list[dict[str, Any]]) -> None:
    lfs = [small, divide, *DECL.lfs]
    many = LFApplier(lfs, cardinality=3, chunk_size=7)
    one = LFApplier(lfs, cardinality=3).reset()  # counters exist before any event
    L = many.apply_many(events)
    rows = [one.apply_one(e) for e in events]
    assert L.shape == (len(events), 4)
    for i, row in enumerate(rows):
        assert L[i].tolist() == row.tolist()
    assert many.fault_counts_ == one.fault_counts_
    assert many.invalid_counts_ == one.invalid_counts_
