from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlabel.lf import (
    AllCondition,
    KeywordCondition,
    LFSetSpec,
    LFSpecError,
    NotCondition,
    RegexCondition,
    check_regex,
    load_lfset_spec,
)


def _set(*lfs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "s", "version": "1", "cardinality": 2, "lfs": list(lfs), **extra}


def _lf(name: str, when: dict[str, Any], label: int = 1, **extra: Any) -> dict[str, Any]:
    return {"name": name, "label": label, "when": when, **extra}


KW = {"kind": "keyword", "field": "t", "keywords": ["casino"]}

YAML_TEXT = """
name: fraud
version: 2
cardinality: 2
label_names: [legit, fraud]
resources:
  risky: [gambling, crypto]
lfs:
  - name: risky_category
    label: 1
    description: merchants in risky categories
    when: {kind: lookup, field: merchant_category, resource: risky}
  - name: gambling_words
    version: 3
    label: 1
    when:
      kind: any
      conditions:
        - {kind: keyword, field: descriptor, keywords: [casino, poker], word_boundary: false}
        - {kind: regex, field: descriptor, pattern: 'bet\\d+', ignore_case: true}
  - name: small_grocery
    label: 0
    when:
      kind: all
      conditions:
        - {kind: equals, field: merchant_category, value: grocery}
        - {kind: threshold, field: amount, op: lt, value: 100}
        - {kind: not, condition: {kind: range, field: hour, min: 0, max: 4}}
"""


def test_yaml_text_loads_every_kind() -> None:
    spec = load_lfset_spec(YAML_TEXT)
    assert spec.version == "2"  # YAML ints become version strings
    assert [lf.name for lf in spec.lfs] == ["risky_category", "gambling_words", "small_grocery"]
    assert spec.lfs[1].version == "3"
    grocery = spec.lfs[2].when
    assert isinstance(grocery, AllCondition)
    assert isinstance(grocery.conditions[2], NotCondition)
    kw = spec.lfs[1].when.conditions[0]  # type: ignore[union-attr]
    assert isinstance(kw, KeywordCondition) and kw.word_boundary is False
    assert kw.case_sensitive is False  # default


def test_yaml_and_json_files_and_text_give_the_same_spec(tmp_path: Path) -> None:
    spec = load_lfset_spec(YAML_TEXT)
    yaml_path = tmp_path / "set.yaml"
    yaml_path.write_text(YAML_TEXT)
    json_path = tmp_path / "set.json"
    json_path.write_text(spec.model_dump_json())
    assert load_lfset_spec(yaml_path) == spec
    assert load_lfset_spec(str(yaml_path)) == spec
    assert load_lfset_spec(json_path) == spec
    assert load_lfset_spec(json_path.read_text()) == spec
    assert load_lfset_spec(json.loads(json_path.read_text())) == spec


def test_unknown_keys_are_refused_with_lf_and_field() -> None:
    with pytest.raises(LFSpecError) as info:
        load_lfset_spec(_set(_lf("x", {**KW, "case": True})))
    assert info.value.lf == "x"
    assert info.value.field == "when.case"
    assert "extra" in info.value.reason.lower()


def test_unknown_top_level_key_is_refused() -> None:
    with pytest.raises(LFSpecError) as info:
        load_lfset_spec(_set(_lf("x", KW), owner="me"))
    assert info.value.lf is None
    assert info.value.field == "owner"


def test_label_outside_cardinality_names_lf_and_field() -> None:
    with pytest.raises(LFSpecError) as info:
        load_lfset_spec(_set(_lf("ok", KW), _lf("too_big", KW, label=2)))
    e = info.value
    assert (e.lf, e.field) == ("too_big", "label")
    assert "outside 0..1" in e.reason
    assert str(e).startswith("LF 'too_big', field 'label': ")


def test_negative_label_is_refused() -> None:
    with pytest.raises(LFSpecError) as info:
        load_lfset_spec(_set(_lf("neg", KW, label=-1)))
    assert (info.value.lf, info.value.field) == ("neg", "label")


def test_duplicate_lf_names_are_refused() -> None:
    with pytest.raises(LFSpecError) as info:
        load_lfset_spec(_set(_lf("dup", KW), _lf("dup", KW)))
    assert (info.value.lf, info.value.field) == ("dup", "name")
    assert "duplicate" in info.value.reason


def test_unknown_resource_is_refused_with_its_path() -> None:
    when = {"kind": "all", "conditions": [KW, {"kind": "lookup", "field": "c", "resource": "nope"}]}
    with pytest.raises(LFSpecError) as info:
        load_lfset_spec(_set(_lf("look", when), resources={"risky": ["a"]}))
    assert info.value.lf == "look"
    assert info.value.field == "when.conditions[1].resource"
    assert "nope" in info.value.reason


def test_bad_regex_is_refused_with_lf_field_and_reason() -> None:
    when = {"kind": "any", "conditions": [KW, {"kind": "regex", "field": "t", "pattern": "(a+)+"}]}
    with pytest.raises(LFSpecError) as info:
        load_lfset_spec(_set(_lf("re_lf", when)))
    assert info.value.lf == "re_lf"
    assert info.value.field == "when.conditions[1].pattern"
    assert "nested quantifiers" in info.value.reason


def test_syntax_error_in_regex_is_reported() -> None:
    with pytest.raises(LFSpecError, match="invalid regex"):
        load_lfset_spec(_set(_lf("r", {"kind": "regex", "field": "t", "pattern": "(abc"})))


@pytest.mark.parametrize(
    ("when", "fragment"),
    [
        ({"kind": "range", "field": "a", "min": 5, "max": 1}, "greater than max"),
        ({"kind": "range", "field": "a"}, "min, max or both"),
        ({"kind": "lookup", "field": "a"}, "exactly one"),
        ({"kind": "lookup", "field": "a", "values": ["x"], "resource": "r"}, "exactly one"),
        ({"kind": "threshold", "field": "a", "op": "eq", "value": 1}, "gt"),
        ({"kind": "keyword", "field": "a", "keywords": []}, "at least 1"),
        ({"kind": "keyword", "field": "a", "keywords": ["  "]}, "blank"),
        ({"kind": "all", "conditions": []}, "at least 1"),
        ({"kind": "fuzzy", "field": "a"}, "kind"),
        ({"kind": "threshold", "field": "a", "op": "gt", "value": float("nan")}, "NaN"),
        ({"kind": "equals", "field": "a", "value": None}, "value"),
        ({"kind": "equals", "field": "a", "value": [1]}, "value"),
    ],
)
def test_condition_validation(when: dict[str, Any], fragment: str) -> None:
    with pytest.raises(LFSpecError) as info:
        load_lfset_spec(_set(_lf("c", when)))
    assert info.value.lf == "c"
    assert fragment in info.value.reason


def test_text_opening_with_a_brace_may_be_a_yaml_flow_mapping() -> None:
    when = json.dumps(KW)
    text = '{name: s, version: "1", cardinality: 2, lfs: [{name: c, label: 1, when: ' + when + "}]}"
    assert load_lfset_spec(text) == load_lfset_spec(_set(_lf("c", KW)))
    with pytest.raises(LFSpecError, match="invalid JSON"):
        load_lfset_spec('{"name": "s", ')


def test_invalid_yaml_and_non_mapping() -> None:
    with pytest.raises(LFSpecError, match="invalid YAML"):
        load_lfset_spec("name: [unclosed\n")
    with pytest.raises(LFSpecError, match="mapping"):
        load_lfset_spec("- a\n- b\n")


def test_yaml_python_tags_are_refused() -> None:
    # safe_load: a spec can never construct Python objects.
    with pytest.raises(LFSpecError, match="invalid YAML"):
        load_lfset_spec("name: !!python/object/apply:os.system ['echo hi']\n")


def test_label_names_as_a_mapping_become_a_list() -> None:
    spec = load_lfset_spec("name: s\ncardinality: 2\nlabel_names: {1: fraud, 0: legit}\n")
    assert spec.label_names == ["legit", "fraud"]
    with pytest.raises(LFSpecError) as info:
        load_lfset_spec(_set(_lf("x", KW), label_names={0: "a", 2: "b"}))
    assert info.value.field == "label_names"


def test_label_names_must_match_cardinality() -> None:
    with pytest.raises(LFSpecError) as info:
        load_lfset_spec(_set(_lf("x", KW), label_names=["a", "b", "c"]))
    assert info.value.field == "label_names"


def test_specs_are_frozen() -> None:
    spec = LFSetSpec.model_validate(_set(_lf("x", KW)))
    with pytest.raises(Exception, match="frozen"):
        spec.name = "other"  # type: ignore[misc]


def test_error_pickles_and_keeps_attributes() -> None:
    import pickle

    e = pickle.loads(pickle.dumps(LFSpecError("why", lf="a", field="b")))
    assert (e.reason, e.lf, e.field) == ("why", "a", "b")


# ----------------------------------------------------------------- regex guard


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("(a+)+b", "nested quantifiers"),
        ("(a*)*", "nested quantifiers"),
        ("(aa?)+", "nested quantifiers"),
        ("(a?){5}a{5}", "nested quantifiers"),
        ("a*a*a*b", "adjacent unbounded"),
        ("a+(a|a+)a+", "adjacent unbounded"),
        ("((a?a?){1,3}){1,3}b", "nested quantifiers"),
        (r"(\w+\s?)+$", "nested quantifiers"),
        ("(a|a)*b", "ambiguous alternation"),
        (r"(x+x+)+y", "nested quantifiers"),
        ("(a|ab|b)*c", "ambiguous alternation"),
        (r"(?P<q>a)(?P=q)", "backreferences"),
        (r"(a)\1", "backreferences"),
        (r"(?<=a+)b", "invalid regex"),
        ("a" * 501, "characters long"),
        ("a{1,5000}", "exceeds"),
        ("a{1001}", "exceeds"),
        ("(a?b?c?d?e){4}", "too many ways"),
        ("x*", "empty string"),
        (r"\b", "empty string"),
    ],
)
def test_regex_guard_refuses(pattern: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        check_regex(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        r"\bwire\s+transfer\b",
        r"(?:\d{1,3}\.){3}\d{1,3}",
        r"(ab|ac)+",
        r"(a|ab)*c",
        r"(a++)+b",
        r"(?<=#)\d{4}",
        r"^ATM\b",
        r"[A-Z]{2,}\d+",
        "a{1000}",  # the limits themselves are allowed
        "a" * 500,
    ],
)
def test_regex_guard_accepts_safe_patterns(pattern: str) -> None:
    assert check_regex(pattern).pattern == pattern


def test_regex_condition_carries_ignore_case_into_the_guard() -> None:
    cond = RegexCondition(field="t", pattern="abc", ignore_case=True)
    assert cond.ignore_case


_atoms = st.sampled_from(["a", "b", "[ab]", ".", r"\w", "a?"])
_quants = st.sampled_from(["", "+", "*", "?", "{1,3}", "{2}"])


@st.composite
def _regexes(draw: st.DrawFn, depth: int = 2) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        if depth and draw(st.booleans()):
            inner = draw(_regexes(depth - 1))
            if draw(st.booleans()):
                inner = inner + "|" + draw(_regexes(depth - 1))
            parts.append("(" + inner + ")" + draw(_quants))
        else:
            parts.append(draw(_atoms) + draw(_quants))
    return "".join(parts)


class _TooSlowError(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _TooSlowError


@settings(max_examples=300, deadline=None)
@given(_regexes())
def test_accepted_regexes_run_fast_on_adversarial_text(pattern: str) -> None:
    try:
        compiled = check_regex(pattern + "!")
    except ValueError:
        return
    # The regex engine checks signals, so an alarm turns a hang into a failure. An
    # exponential pattern takes seconds to hours on 28 characters; these take microseconds.
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 2.0)
    try:
        for text in ("a" * 28, "ab" * 14, "a" * 27 + "b"):
            compiled.search(text)
    except _TooSlowError:
        pytest.fail(f"accepted pattern {pattern!r} takes over 2 s on 28 characters")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
