from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from streamlabel.bench._apply import bench_code_lfs, bench_lfset_spec
from streamlabel.datasets import make_transactions
from streamlabel.lf import (
    ABSTAIN,
    LFApplier,
    LFSet,
    LFSpec,
    LFSpecError,
    compile_batch,
    compile_lf,
)


def _lf(when: dict[str, Any], label: int = 1, resources: dict[str, list[str]] | None = None) -> Any:
    return compile_lf(LFSpec.model_validate({"name": "x", "label": label, "when": when}), resources)


def _both(lf: Any, events: list[Any]) -> tuple[list[int], list[bool]]:
    """Batch votes and invalid flags, after checking the per-event path agrees."""
    votes, invalid = compile_batch([lf])(events)
    per_event = [lf(e) for e in events]
    assert votes[:, 0].tolist() == per_event
    assert invalid[:, 0].tolist() == [lf.explain(e) is not None for e in events]
    return votes[:, 0].tolist(), invalid[:, 0].tolist()


def _kw(keywords: list[str], **kw: Any) -> dict[str, Any]:
    return {"kind": "keyword", "field": "t", "keywords": keywords, **kw}


def _texts(*texts: Any) -> list[dict[str, Any]]:
    return [{"t": t} for t in texts]


def test_keyword_is_case_insensitive_with_word_boundaries_by_default() -> None:
    lf = _lf(_kw(["bet"]))
    votes, _ = _both(lf, _texts("BET365", "place a Bet now", "alphabet", "bet", "bets", "x-bet-y"))
    assert votes == [-1, 1, -1, 1, -1, 1]


def test_keyword_without_word_boundary_matches_substrings() -> None:
    votes, _ = _both(_lf(_kw(["bet"], word_boundary=False)), _texts("alphabet", "BETS", "b e t"))
    assert votes == [1, 1, -1]


def test_keyword_case_sensitive() -> None:
    votes, _ = _both(_lf(_kw(["ATM"], case_sensitive=True)), _texts("ATM #1", "atm #1", "Atm"))
    assert votes == [1, -1, -1]


def test_phrase_whitespace_matches_any_run_of_whitespace() -> None:
    lf = _lf(_kw(["gift card"]))
    votes, _ = _both(lf, _texts("GIFT  CARD", "gift\tcard", "gift\ncard", "giftcard", "gift cards"))
    assert votes == [1, 1, 1, -1, -1]


def test_keyword_edges_that_are_not_word_characters_need_no_boundary() -> None:
    votes, _ = _both(_lf(_kw(["$$$"])), _texts("win$$$now", "$$ only", "$$$"))
    assert votes == [1, -1, 1]


def test_keyword_respects_max_chars() -> None:
    lf = _lf(_kw(["casino"], max_chars=10))
    votes, _ = _both(lf, _texts("casino at start", "0123456789 casino"))
    assert votes == [1, -1]


def test_many_keywords_use_one_alternation_with_same_results() -> None:
    words = [f"w{i}" for i in range(40)] + ["w1x"]
    lf = _lf(_kw(words))
    votes, _ = _both(lf, _texts("a w1x b", "w39", "w40", "xw3"))
    assert votes == [1, 1, -1, -1]


def test_regex_ignore_case_and_case_sensitive() -> None:
    rx = {"kind": "regex", "field": "t", "pattern": r"wire\s+transfer"}
    assert _both(_lf(rx), _texts("WIRE transfer", "wire  transfer"))[0] == [-1, 1]
    rx_i = {**rx, "ignore_case": True}
    assert _both(_lf(rx_i), _texts("WIRE transfer", "wiretransfer"))[0] == [1, -1]


def test_regex_with_anchors_and_lookarounds_is_searched_per_text() -> None:
    lf = _lf({"kind": "regex", "field": "t", "pattern": r"^ATM$"})
    assert _both(lf, _texts("ATM", "x\nATM", "ATM x", "ATM"))[0] == [1, -1, -1, 1]
    look = _lf({"kind": "regex", "field": "t", "pattern": r"(?<=#)\d{3}(?!\d)"})
    assert _both(look, _texts("#123", "123", "#1234", "a #999 b"))[0] == [1, -1, -1, 1]


def test_regex_matches_never_leak_across_events_in_a_batch() -> None:
    # Joined with newlines, "a" + "\n" + "b" would match a[^z]+b; each text alone does not.
    lf = _lf({"kind": "regex", "field": "t", "pattern": r"a[^z]+b"})
    votes, _ = _both(lf, _texts("a", "b", "caxb", "a", "", "b", "xxaxxb"))
    assert votes == [-1, -1, 1, -1, -1, -1, 1]


def test_regex_prefilter_keeps_non_ascii_case_folding_exact() -> None:
    # 'ſ' (long s) matches 's' under IGNORECASE, although 'ſ'.lower() != 's'.
    lf = _lf({"kind": "regex", "field": "t", "pattern": r"\bsecret\b", "ignore_case": True})
    assert _both(lf, _texts("the ſecret", "SECRET", "secrets"))[0] == [1, 1, -1]


@pytest.mark.parametrize(
    ("op", "expected"),
    [("gt", [-1, -1, 1]), ("ge", [-1, 1, 1]), ("lt", [1, -1, -1]), ("le", [1, 1, -1])],
)
def test_threshold_ops(op: str, expected: list[int]) -> None:
    lf = _lf({"kind": "threshold", "field": "a", "op": op, "value": 10})
    assert _both(lf, [{"a": 9.5}, {"a": 10}, {"a": 11}])[0] == expected


@pytest.mark.parametrize(
    ("incl", "expected"),
    [((True, True), [1, 1, 1]), ((False, True), [-1, 1, 1]), ((False, False), [-1, 1, -1])],
)
def test_range_inclusive_flags(incl: tuple[bool, bool], expected: list[int]) -> None:
    when = {
        "kind": "range",
        "field": "h",
        "min": 0,
        "max": 4,
        "min_inclusive": incl[0],
        "max_inclusive": incl[1],
    }
    assert _both(_lf(when), [{"h": 0}, {"h": 2}, {"h": 4}])[0] == expected


def test_open_range() -> None:
    lf = _lf({"kind": "range", "field": "h", "min": 22})
    assert _both(lf, [{"h": 21}, {"h": 23}])[0] == [-1, 1]


def test_lookup_with_resource_and_case_option() -> None:
    when = {"kind": "lookup", "field": "c", "resource": "risky"}
    lf = _lf(when, resources={"risky": ["Gambling", "crypto"], "unused": ["x"]})
    assert lf.resources == {"risky": ("Gambling", "crypto")}
    events = [{"c": "gambling"}, {"c": "CRYPTO"}, {"c": "fuel"}, {"c": 3}]
    assert _both(lf, events)[0] == [1, 1, -1, -1]
    cs = _lf({**when, "case_sensitive": True}, resources={"risky": ["Gambling"]})
    assert _both(cs, [{"c": "gambling"}, {"c": "Gambling"}])[0] == [-1, 1]


def test_lookup_inline_values_and_mixed_column() -> None:
    lf = _lf({"kind": "lookup", "field": "c", "values": ["US", 7]})
    votes, invalid = _both(lf, [{"c": "us"}, {"c": 7}, {"c": None}, {"c": "DE"}, {}])
    assert votes == [1, 1, -1, -1, -1]
    assert invalid == [False, False, True, False, True]


def test_lookup_with_unknown_resource_is_refused() -> None:
    with pytest.raises(LFSpecError) as info:
        _lf({"kind": "lookup", "field": "c", "resource": "nope"}, resources={})
    assert info.value.field == "when.resource"


@pytest.mark.parametrize(
    ("value", "events", "expected", "invalid"),
    [
        ("grocery", ["grocery", "Grocery", 3], [1, -1, -1], [False, False, True]),
        (3, [3, 3.0, "3", True], [1, 1, -1, -1], [False, False, True, True]),
        (True, [True, 1, False], [1, -1, -1], [False, True, False]),
        # Values a lax bool would swallow stay what they are (they used to become True).
        (1, [1, 1.0, True, 2], [1, 1, -1, -1], [False, False, True, False]),
        (0, [0, False], [1, -1], [False, True]),
        (1.5, [1.5, 2], [1, -1], [False, False]),
        ("yes", ["yes", True, "no"], [1, -1, -1], [False, True, False]),
        ("on", ["on"], [1], [False]),
    ],
)
def test_equals_with_type_checks(
    value: Any, events: list[Any], expected: list[int], invalid: list[bool]
) -> None:
    lf = _lf({"kind": "equals", "field": "v", "value": value})
    assert _both(lf, [{"v": e} for e in events]) == (expected, invalid)


def test_all_any_not() -> None:
    big = {"kind": "threshold", "field": "a", "op": "gt", "value": 100}
    casino = _kw(["casino"])
    events = [
        {"a": 500, "t": "casino"},
        {"a": 500, "t": "shop"},
        {"a": 5, "t": "casino"},
        {"a": 5, "t": "shop"},
    ]
    assert _both(_lf({"kind": "all", "conditions": [big, casino]}), events)[0] == [1, -1, -1, -1]
    assert _both(_lf({"kind": "any", "conditions": [big, casino]}), events)[0] == [1, 1, 1, -1]
    assert _both(_lf({"kind": "not", "condition": casino}), events)[0] == [-1, 1, -1, 1]
    nested = {"kind": "all", "conditions": [big, {"kind": "not", "condition": casino}]}
    assert _both(_lf(nested), events)[0] == [-1, 1, -1, -1]


def test_invalid_fields_abstain_and_are_reported() -> None:
    lf = _lf(
        {
            "kind": "any",
            "conditions": [
                {"kind": "threshold", "field": "a", "op": "gt", "value": 1},
                _kw(["casino"]),
            ],
        }
    )
    events = [
        {"a": 5, "t": "x"},
        {"a": "5", "t": "casino"},  # number given as text
        {"t": "casino"},  # missing number
        {"a": 5, "t": 12},  # number where text is needed
        {"a": math.nan, "t": "casino"},
        {"a": None, "t": None},
    ]
    votes, invalid = _both(lf, events)
    assert votes == [1, -1, -1, -1, -1, -1]
    assert invalid == [False, True, True, True, True, True]
    assert lf.explain(events[1]) == "field 'a' has type str, expected number"
    assert lf.explain(events[2]) == "missing field 'a'"
    assert lf.explain(events[3]) == "field 't' has type int, expected text"
    assert lf.explain(events[4]) == "field 'a' is NaN"


def test_not_on_a_missing_field_abstains() -> None:
    lf = _lf({"kind": "not", "condition": _kw(["casino"])})
    assert _both(lf, [{}, {"t": "x"}]) == ([-1, 1], [True, False])


class _Event(BaseModel):
    t: str
    a: float


def test_pydantic_and_plain_object_events() -> None:
    lf = _lf(
        {"kind": "all", "conditions": [_kw(["casino"]), {"kind": "range", "field": "a", "min": 1}]}
    )

    class Obj:
        t = "casino"
        a = 3.0

    events: list[Any] = [_Event(t="casino", a=2.0), _Event(t="shop", a=2.0), Obj(), {"t": "casino"}]
    assert _both(lf, events) == ([1, -1, 1, -1], [False, False, False, True])


def test_compiled_batch_shares_work_and_orders_columns() -> None:
    a = compile_lf(LFSpec.model_validate({"name": "a", "label": 0, "when": _kw(["x"])}))
    b = compile_lf(LFSpec.model_validate({"name": "b", "label": 1, "when": _kw(["x"])}))
    votes, invalid = compile_batch([a, b])(_texts("x", "y"))
    assert votes.tolist() == [[0, 1], [-1, -1]]
    assert votes.dtype == np.int64 and invalid.shape == (2, 2)
    empty_votes, _ = compile_batch([a, b])([])
    assert empty_votes.shape == (0, 2)


# ----------------------------------------------------------------- properties

_WORDS = ["casino", "Casino", "bet", "alphabet", "gift", "card", "ATM", "ſecret", "secret", "İ"]
_SEPS = [" ", "  ", "\n", "\t", "-", "$$$", "#12"]


@st.composite
def _text(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.sampled_from(_WORDS + _SEPS), max_size=8))
    return "".join(parts)


_value = st.one_of(
    _text(),
    st.integers(-5, 30),
    st.floats(allow_nan=True, allow_infinity=False, width=32),
    st.none(),
    st.booleans(),
    st.sampled_from(["grocery", "US", "5"]),
)
_event = st.fixed_dictionaries(
    {},
    optional={"t": st.one_of(_text(), _value), "a": _value, "c": _value, "h": _value},
)

PROPERTY_SPECS: list[dict[str, Any]] = [
    _kw(["casino", "gift card"]),
    _kw(["bet"], word_boundary=False),
    _kw(["ATM", "$$$"], case_sensitive=True),
    _kw(["secret"], max_chars=12),
    {"kind": "regex", "field": "t", "pattern": r"\bsecret\b", "ignore_case": True},
    {"kind": "regex", "field": "t", "pattern": r"card[^a]*ATM"},
    {"kind": "regex", "field": "t", "pattern": r"^casino"},
    {"kind": "threshold", "field": "a", "op": "ge", "value": 3},
    {"kind": "range", "field": "h", "min": 0, "max": 4, "max_inclusive": False},
    {"kind": "lookup", "field": "c", "values": ["grocery", "us", 5]},
    {"kind": "equals", "field": "c", "value": "grocery"},
    {"kind": "equals", "field": "a", "value": 5},
    {
        "kind": "any",
        "conditions": [
            {"kind": "not", "condition": _kw(["casino"])},
            {
                "kind": "all",
                "conditions": [_kw(["bet"]), {"kind": "range", "field": "a", "max": 9}],
            },
        ],
    },
]


@settings(max_examples=150, deadline=None)
@given(st.lists(_event, max_size=25))
def test_batch_equals_per_event_on_random_events(events: list[dict[str, Any]]) -> None:
    lfs = [
        compile_lf(LFSpec.model_validate({"name": f"lf{i}", "label": i % 2, "when": w}))
        for i, w in enumerate(PROPERTY_SPECS)
    ]
    votes, invalid = compile_batch(lfs)(events)
    for i, e in enumerate(events):
        assert votes[i].tolist() == [lf(e) for lf in lfs], e
        assert invalid[i].tolist() == [lf.explain(e) is not None for lf in lfs], e


def test_declarative_and_code_lfs_agree_on_generated_transactions() -> None:
    events = make_transactions(3000, seed=7, malformed_rate=0.05)
    code = LFApplier(bench_code_lfs(), cardinality=2)
    decl = LFApplier(LFSet.from_spec(bench_lfset_spec()))
    L_code, L_decl = code.apply_many(events), decl.apply_many(events)
    assert np.array_equal(L_code, L_decl)
    assert (L_code != ABSTAIN).any(axis=0).all()  # every LF fires somewhere
    assert sum(decl.invalid_counts_.values()) > 0
    assert sum(code.fault_counts_.values()) == 0  # malformed fields count as invalid


def test_equals_value_keeps_its_type_from_yaml() -> None:
    spec = LFSet.from_spec(
        """
name: s
cardinality: 2
lfs:
  - {name: present, label: 1, when: {kind: equals, field: card_present, value: 1}}
  - {name: verdict, label: 1, when: {kind: equals, field: verdict, value: "yes"}}
"""
    )
    applier = LFApplier(spec)
    assert applier.apply_many([{"card_present": 1, "verdict": "yes"}]).tolist() == [[1, 1]]
    assert applier.invalid_counts_ == {"present@1": 0, "verdict@1": 0}


def test_keyword_with_capitals_matches_any_case() -> None:
    assert _both(_lf(_kw(["Casino"])), _texts("casino", "CASINO", "shop"))[0] == [1, 1, -1]


def test_keyword_batch_maps_texts_whose_lowercase_is_longer() -> None:
    # "İ".lower() is two code points: the batch's offsets must still find each text.
    votes, _ = _both(_lf(_kw(["casino"])), _texts("İİİİİİİİ", "casino", "shop", "x casino", "b"))
    assert votes == [-1, 1, -1, 1, -1]


def test_anchored_regex_without_a_literal_is_searched_per_text() -> None:
    lf = _lf({"kind": "regex", "field": "t", "pattern": r"^\d+$"})
    assert _both(lf, _texts("12", "34", "x", "5 6"))[0] == [1, 1, -1, -1]


def test_ignore_case_regex_prefilter_from_a_capitalised_literal() -> None:
    lf = _lf({"kind": "regex", "field": "t", "pattern": "CASINO", "ignore_case": True})
    assert _both(lf, _texts("casino", "Casino", "shop"))[0] == [1, 1, -1]


@pytest.mark.parametrize("kind", ["threshold", "range"])
def test_numbers_beyond_the_float_range_are_invalid_not_faults(kind: str) -> None:
    when: dict[str, Any] = (
        {"kind": "threshold", "field": "a", "op": "gt", "value": 10}
        if kind == "threshold"
        else {"kind": "range", "field": "a", "min": 0, "max": 100}
    )
    lf = _lf(when)
    events = [{"a": 10**400}, {"a": 50}, {"a": -(10**400)}]
    votes, invalid = _both(lf, events)
    assert invalid == [True, False, True]
    assert votes[0] == votes[2] == ABSTAIN
    assert lf.explain(events[0]) == "field 'a' is beyond the float range"
    applier = LFApplier(LFSet("s", "1", [lf], 2))
    applier.apply_many(events)
    assert applier.apply_one(events[0]).tolist() == [ABSTAIN]
    assert applier.invalid_counts_ == {lf.id: 3} and applier.fault_counts_ == {lf.id: 0}
