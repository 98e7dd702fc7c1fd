from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from streamlabel.lf import ABSTAIN, LabelingFunction, labeling_function


def test_abstain_is_minus_one() -> None:
    assert ABSTAIN == -1


def test_decorator_defaults_name_and_version() -> None:
    @labeling_function()
    def big_amount(event: dict[str, Any]) -> int:
        return 1 if event["amount"] > 100 else ABSTAIN

    assert isinstance(big_amount, LabelingFunction)
    assert big_amount.name == "big_amount"
    assert big_amount.version == "1"
    assert big_amount.id == "big_amount@1"
    assert big_amount({"amount": 150}) == 1
    assert big_amount({"amount": 50}) == ABSTAIN


def test_decorator_custom_name_version_fields() -> None:
    @labeling_function(name="lf_x", version="3", fields=["descriptor"])
    def f(event: dict[str, Any]) -> int:
        return 0

    assert f.id == "lf_x@3"
    assert f.fields == ("descriptor",)


def test_resources_are_passed_as_keyword_arguments() -> None:
    @labeling_function(resources={"words": ("casino", "poker"), "label": 1})
    def gambling(event: dict[str, Any], words: tuple[str, ...], label: int) -> int:
        text = event["t"].lower()
        return label if any(w in text for w in words) else ABSTAIN

    assert gambling({"t": "Online CASINO"}) == 1
    assert gambling({"t": "grocery"}) == ABSTAIN


def test_preprocessors_run_in_order_before_the_function() -> None:
    calls: list[str] = []

    def lower(event: dict[str, Any]) -> dict[str, Any]:
        calls.append("lower")
        return {**event, "t": event["t"].lower()}

    def strip(event: dict[str, Any]) -> dict[str, Any]:
        calls.append("strip")
        return {**event, "t": event["t"].strip()}

    @labeling_function(pre=[lower, strip])
    def exact(event: dict[str, Any]) -> int:
        return 1 if event["t"] == "casino" else ABSTAIN

    assert exact({"t": "  CASINO  "}) == 1
    assert calls == ["lower", "strip"]


def test_single_preprocessor_and_resources_together() -> None:
    @labeling_function(pre=[lambda e: {"v": e["v"] * 2}], resources={"limit": 10})
    def f(event: dict[str, Any], limit: int) -> int:
        return 1 if event["v"] > limit else 0

    assert f({"v": 6}) == 1
    assert f({"v": 4}) == 0


def _make(body: str, resources: dict[str, Any] | None = None) -> LabelingFunction:
    namespace: dict[str, Any] = {}
    exec(f"def f(event):\n    return {body}\n", namespace)
    return LabelingFunction("f", namespace["f"], resources=resources)


def test_source_hash_falls_back_to_code_when_source_is_unavailable() -> None:
    # Functions built by exec have no retrievable source.
    a1, a2, b = _make("1"), _make("1"), _make("0")
    assert a1.source_hash == a2.source_hash
    assert a1.source_hash != b.source_hash


def test_source_hash_covers_resources_and_pre() -> None:
    def f(event: dict[str, Any], limit: int = 0) -> int:
        return 1

    base = LabelingFunction("f", f, resources={"limit": 1})
    same = LabelingFunction("f", f, resources={"limit": 1})
    other_res = LabelingFunction("f", f, resources={"limit": 2})
    with_pre = LabelingFunction("f", f, resources={"limit": 1}, pre=[lambda e: e])
    assert base.source_hash == same.source_hash
    assert len({base.source_hash, other_res.source_hash, with_pre.source_hash}) == 3


def test_source_hash_of_set_resources_ignores_set_order() -> None:
    def f(event: dict[str, Any], words: frozenset[str]) -> int:
        return 1

    a = LabelingFunction("f", f, resources={"words": frozenset(["b", "a", "c"])})
    b = LabelingFunction("f", f, resources={"words": frozenset(["c", "a", "b"])})
    assert a.source_hash == b.source_hash


def test_source_hash_of_set_resources_is_the_same_in_every_process() -> None:
    # Set iteration order follows the string hash seed: a hash that iterated the set
    # unsorted would differ between two runs of the same code (and a restarted worker
    # would then refuse its own LFs as changed).
    code = (
        "from streamlabel.lf import LabelingFunction\n"
        "def f(event, words):\n"
        "    return 1\n"
        "words = frozenset(['casino', 'poker', 'bet', 'crypto', 'wire', 'gift', 'atm'])\n"
        "print(LabelingFunction('f', f, resources={'words': words}).source_hash)\n"
    )
    hashes = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        hashes.add(out.stdout.strip())
    assert len(hashes) == 1 and all(hashes)


def test_source_hash_differs_for_different_sources() -> None:
    def f1(event: dict[str, Any]) -> int:
        return 1

    def f2(event: dict[str, Any]) -> int:
        return 0

    assert LabelingFunction("f", f1).source_hash != LabelingFunction("f", f2).source_hash


@pytest.mark.parametrize("name", ["a@b", "", "has space", "-lead"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="LF name"):
        LabelingFunction(name, lambda e: 0)


def test_labeling_function_is_immutable() -> None:
    lf = LabelingFunction("f", lambda e: 0)
    with pytest.raises(AttributeError):
        lf.name = "g"  # type: ignore[misc]


def test_non_callable_is_refused() -> None:
    with pytest.raises(TypeError):
        LabelingFunction("f", 3)  # type: ignore[arg-type]
