"""Declarative LF specs: pydantic models, validation errors, YAML/JSON loading.

A spec is data only: conditions over event fields (keywords, regexes, thresholds, ranges,
lookups, equality) combined with ``all`` / ``any`` / ``not``. Nothing in a spec names code,
so a spec pushed over the network can be validated and applied without running anything
it brings along.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "AllCondition",
    "AnyCondition",
    "Condition",
    "EqualsCondition",
    "KeywordCondition",
    "LFSetSpec",
    "LFSpec",
    "LFSpecError",
    "LookupCondition",
    "NotCondition",
    "RangeCondition",
    "RegexCondition",
    "ThresholdCondition",
    "check_regex",
    "load_lfset_spec",
    "required_literal",
]

#: Longest regex pattern a spec may hold.
MAX_PATTERN_CHARS = 500
#: Largest explicit repeat count (``{n,m}``) a regex may use.
MAX_REPEAT_COUNT = 1000
#: Default cap on the characters of a text field that keyword/regex conditions search.
DEFAULT_MAX_CHARS = 10_000

# CPython's regex parser: private but present in every supported version (3.11+). It lets
# the guard reason about the pattern's structure instead of guessing from its text.
_sre: Any = importlib.import_module("re._parser")
_sre_c: Any = importlib.import_module("re._constants")

_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"
_KINDS = frozenset(
    {"keyword", "regex", "threshold", "range", "lookup", "equals", "all", "any", "not"}
)


class LFSpecError(ValueError):
    """An LF spec (or LF set spec) is invalid.

    Parameters
    ----------
    reason
        What is wrong.
    lf
        Name of the LF concerned (``None`` for set-level problems).
    field
        Dotted path of the offending spec field inside the LF (or the set), e.g.
        ``"when.conditions[1].pattern"``.

    Examples
    --------
    >>> from streamlabel.lf import LFSpecError
    >>> str(LFSpecError("label 3 outside 0..1", lf="big", field="label"))
    "LF 'big', field 'label': label 3 outside 0..1"
    """

    def __init__(self, reason: str, *, lf: str | None = None, field: str | None = None) -> None:
        self.reason = reason
        self.lf = lf
        self.field = field
        super().__init__(reason)

    def __str__(self) -> str:
        where = []
        if self.lf is not None:
            where.append(f"LF {self.lf!r}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_error, (self.reason, self.lf, self.field))


def _rebuild_error(reason: str, lf: str | None, field: str | None) -> LFSpecError:
    return LFSpecError(reason, lf=lf, field=field)


# --------------------------------------------------------------------------- regex guard


def _walk(seq: Any) -> Iterator[tuple[Any, Any]]:
    for op, av in seq:
        yield op, av
        for sub in _children(op, av):
            yield from _walk(sub)


def _children(op: Any, av: Any) -> list[Any]:
    c = _sre_c
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        return [av[2]]
    if op is c.SUBPATTERN:
        return [av[3]]
    if op is c.BRANCH:
        return list(av[1])
    if op in (c.ASSERT, c.ASSERT_NOT):
        return [av[1]]
    if op is c.ATOMIC_GROUP:
        return [av]
    if op is c.GROUPREF_EXISTS:
        return [x for x in av[1:] if x is not None]
    return []


_CATEGORY_PROBE = {
    "CATEGORY_DIGIT": re.compile(r"\d"),
    "CATEGORY_NOT_DIGIT": re.compile(r"\D"),
    "CATEGORY_SPACE": re.compile(r"\s"),
    "CATEGORY_NOT_SPACE": re.compile(r"\S"),
    "CATEGORY_WORD": re.compile(r"\w"),
    "CATEGORY_NOT_WORD": re.compile(r"\W"),
}


class _FirstSets:
    """First-character sets over a finite probe alphabet, to spot ambiguous alternations."""

    def __init__(self, alphabet: frozenset[int], ignore_case: bool) -> None:
        self.alphabet = alphabet
        self.ignore_case = ignore_case

    def _lit(self, c: int) -> set[int]:
        if not self.ignore_case:
            return {c}
        ch = chr(c)
        return {c} | {ord(x) for x in (ch.lower(), ch.upper()) if len(x) == 1}

    def _in(self, items: list[tuple[Any, Any]]) -> set[int]:
        c = _sre_c
        out: set[int] = set()
        negate = False
        for op, av in items:
            if op is c.NEGATE:
                negate = True
            elif op is c.LITERAL:
                out |= self._lit(av)
            elif op is c.RANGE:
                out |= {x for x in self.alphabet if av[0] <= x <= av[1]}
            elif op is c.CATEGORY:
                probe = _CATEGORY_PROBE.get(str(av))
                out |= {x for x in self.alphabet if probe is None or probe.match(chr(x))}
        return set(self.alphabet) - out if negate else out

    def seq(self, seq: Any) -> tuple[set[int], bool]:
        """First set of a sequence and whether it can match the empty string."""
        first: set[int] = set()
        for op, av in seq:
            f, nullable = self.node(op, av)
            first |= f
            if not nullable:
                return first, False
        return first, True

    def node(self, op: Any, av: Any) -> tuple[set[int], bool]:
        c = _sre_c
        if op is c.LITERAL:
            return self._lit(av), False
        if op is c.NOT_LITERAL:
            return set(self.alphabet) - self._lit(av), False
        if op is c.ANY:
            return set(self.alphabet), False
        if op is c.IN:
            return self._in(av), False
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            f, nullable = self.seq(av[2])
            return f, nullable or av[0] == 0
        if op is c.SUBPATTERN:
            return self.seq(av[3])
        if op is c.ATOMIC_GROUP:
            return self.seq(av)
        if op is c.BRANCH:
            first: set[int] = set()
            any_null = False
            for alt in av[1]:
                f, nullable = self.seq(alt)
                first |= f
                any_null = any_null or nullable
            return first, any_null
        # Anchors, lookarounds, group references: zero width (or unknown width).
        return set(), True


def _is_repeat(op: Any) -> bool:
    return op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT)


#: Most ways (see ``_ways``) bounded repeats and alternations may split a text.
_MAX_WAYS = 10_000
#: Most iterations (product over the enclosing repeats) a variable-length repeat or an
#: ambiguous alternation may run for: ``(\d{1,3}\.){3}`` is fine, ``(a?){5}`` is not.
_MAX_NESTED_ITERATIONS = 4


def _flatten(seq: Any) -> Iterator[tuple[Any, Any]]:
    """Items of ``seq`` with plain groups opened: ``(a+a+)a+`` is ``a+ a+ a+`` here."""
    for op, av in seq:
        if op is _sre_c.SUBPATTERN and not av[1] and not av[2]:
            yield from _flatten(av[3])
        else:
            yield op, av


def _has_unbounded(op: Any, av: Any) -> bool:
    if _is_repeat(op) and av[1] == _sre_c.MAXREPEAT:
        return True
    return any(_has_unbounded(o, a) for sub in _children(op, av) for o, a in sub)


def _check_adjacent(seq: Any, fs: _FirstSets) -> None:
    """Refuse three unbounded repeats in a row over shared characters (``a*a*a*``)."""
    chain: list[set[int]] = []
    for op, av in _flatten(seq):
        first, nullable = fs.node(op, av)
        if _has_unbounded(op, av):
            if chain and not first & chain[-1]:
                chain = []
            chain.append(first)
            if len(chain) >= 3:
                raise ValueError(
                    "three or more adjacent unbounded quantifiers over the same characters "
                    "(like a*a*a*) take polynomial time"
                )
        elif chain and not nullable and not first & chain[-1]:
            # Only an item that must match a character the repeats cannot breaks the chain.
            chain = []


def _ways(seq: Any) -> float:
    """Rough count of the ways bounded repeats and alternations can split one text."""
    c = _sre_c
    total = 1.0
    for op, av in seq:
        if _is_repeat(op):
            lo, hi, body = av
            w = _ways(body)
            if hi != c.MAXREPEAT and lo != hi:
                total *= sum(w**k for k in range(lo, hi + 1))
            elif hi != c.MAXREPEAT:
                total *= w**hi
            else:
                total *= w
        elif op is c.BRANCH:
            total *= sum(_ways(alt) for alt in av[1])
        elif op is c.SUBPATTERN:
            total *= _ways(av[3])
        if total > _MAX_WAYS:
            return total
    return total


def _check_structure(seq: Any, fs: _FirstSets, outer: float) -> None:
    """Raise ``ValueError`` on the shapes that make a backtracking engine blow up.

    ``outer`` is the product of the maximum counts of the enclosing repeats (``inf`` when
    one of them is unbounded): how often the items of ``seq`` can be re-entered.
    """
    c = _sre_c
    _check_adjacent(seq, fs)
    for op, av in seq:
        if op in (c.GROUPREF, c.GROUPREF_EXISTS):
            raise ValueError("backreferences are not allowed")
        if _is_repeat(op):
            lo, hi, body = av
            if hi != c.MAXREPEAT and hi > MAX_REPEAT_COUNT:
                raise ValueError(f"repeat count {hi} exceeds {MAX_REPEAT_COUNT}")
            unbounded = hi == c.MAXREPEAT
            # A variable-length repeat (a?, a*, a{1,3}) inside a repeated group lets the
            # engine split the same text in exponentially many ways.
            if lo != hi and (outer > _MAX_NESTED_ITERATIONS or (outer > 1 and unbounded)):
                raise ValueError(
                    "nested quantifiers (a repeated group holding a variable-length repeat, "
                    "like (a+)+ or (a?){5}) can take exponential time"
                )
            _check_structure(body, fs, outer * (math.inf if unbounded else hi))
            continue
        if op in (c.POSSESSIVE_REPEAT, c.ATOMIC_GROUP):
            # No backtracking into these, so nothing inside can blow up.
            continue
        if op is c.BRANCH and outer > _MAX_NESTED_ITERATIONS:
            seen: set[int] = set()
            nullable_alts = 0
            for alt in av[1]:
                f, nullable = fs.seq(alt)
                nullable_alts += nullable
                if f & seen or nullable_alts > 1:
                    raise ValueError(
                        "ambiguous alternation inside a repeat (alternatives that can match "
                        "the same text, like (a|a)*) can take exponential time"
                    )
                seen |= f
        if op is c.IN and outer > _MAX_NESTED_ITERATIONS:
            lits = [v for o, v in av if o is c.LITERAL]
            if len(lits) != len(set(lits)):
                raise ValueError("ambiguous alternation inside a repeat (duplicate alternatives)")
        for sub in _children(op, av):
            _check_structure(sub, fs, outer)


def check_regex(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    r"""Compile ``pattern`` after refusing the shapes that can hang a backtracking engine.

    Refused: patterns longer than ``MAX_PATTERN_CHARS``, syntax errors, backreferences,
    variable-width lookbehinds, variable-length repeats inside a repeated group that is
    unbounded or runs more than 4 times (``(a+)+``, ``(a*)*``, ``(aa?)+``, ``(a?){5}``),
    alternations inside such a group whose alternatives can start with the same character
    (``(a|a)*``, ``(a|ab|b)*``), three or more adjacent unbounded repeats over shared
    characters (``a*a*a*``), repeat counts above ``MAX_REPEAT_COUNT``, and patterns that can
    match the empty string (they would fire on every event). Possessive quantifiers and
    atomic groups are exempt: they never backtrack. The checks are conservative: some
    harmless patterns are refused too.

    Parameters
    ----------
    pattern
        A Python regular expression.
    ignore_case
        Compile with ``re.IGNORECASE``.

    Returns
    -------
    re.Pattern
        The compiled pattern.

    Raises
    ------
    ValueError
        With the reason, when the pattern is refused.

    Examples
    --------
    >>> from streamlabel.lf import check_regex
    >>> check_regex(r"\bwire\s+transfer\b").search("urgent WIRE transfer", 0) is None
    True
    >>> check_regex(r"(a+)+b")
    Traceback (most recent call last):
    ...
    ValueError: nested quantifiers ...
    """
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"pattern is {len(pattern)} characters long (max {MAX_PATTERN_CHARS})")
    flags = re.IGNORECASE if ignore_case else 0
    try:
        compiled = re.compile(pattern, flags)
        parsed = _sre.parse(pattern, flags)
    except re.error as exc:
        raise ValueError(f"invalid regex: {exc}") from None
    except RecursionError:
        raise ValueError("regex is nested too deeply") from None
    alphabet = set(range(256))
    for op, av in _walk(parsed):
        if op is _sre_c.LITERAL or op is _sre_c.NOT_LITERAL:
            alphabet.add(av)
    fs = _FirstSets(frozenset(alphabet), bool(compiled.flags & re.IGNORECASE))
    _check_structure(parsed, fs, 1.0)
    if _ways(parsed) > _MAX_WAYS:
        raise ValueError(
            "too many ways to match (bounded repeats of optional parts, like ((a?){3}){4}) "
            "can take exponential time"
        )
    if fs.seq(parsed)[1]:
        raise ValueError("pattern can match the empty string, so it would fire on every event")
    return compiled


def regex_is_joinable(pattern: str, flags: int = 0) -> bool:
    r"""Return whether matches of ``pattern`` depend only on the characters they consume.

    Such patterns (no anchors but ``\b``/``\B``, no lookarounds) can be searched over a
    whole batch of texts joined with newlines: a match never sees past its text except by
    consuming the separator, which the compiler detects.
    """
    c = _sre_c
    try:
        parsed = _sre.parse(pattern, flags)
    except re.error:
        return False
    for op, av in _walk(parsed):
        if op in (c.ASSERT, c.ASSERT_NOT, c.GROUPREF, c.GROUPREF_EXISTS):
            return False
        if op is c.AT and av not in (c.AT_BOUNDARY, c.AT_NON_BOUNDARY):
            return False
    return True


def required_literal(pattern: str, flags: int = 0, min_len: int = 3) -> str | None:
    """Return the longest literal every match of ``pattern`` contains, if one is long enough.

    Used as a prefilter: texts without the literal cannot match, so the (slower) full
    pattern runs only on the texts that have it. Literals under a scoped flag change
    (``(?i:...)``) are ignored; the caller handles a global ``IGNORECASE``.
    """
    c = _sre_c
    try:
        parsed = _sre.parse(pattern, flags)
    except re.error:
        return None
    runs: list[str] = []

    def walk(seq: Any) -> None:
        cur: list[str] = []
        for op, av in seq:
            if op is c.LITERAL:
                cur.append(chr(av))
                continue
            if op is c.AT:  # zero width: the literals around it stay adjacent in the text
                continue
            runs.append("".join(cur))
            cur = []
            if op is c.SUBPATTERN and not av[1] and not av[2]:
                walk(av[3])
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1:
                walk(av[2])
            elif op is c.ATOMIC_GROUP:
                walk(av)
        runs.append("".join(cur))

    walk(parsed)
    best = max(runs, key=len, default="")
    return best if len(best) >= min_len and "\n" not in best else None


# --------------------------------------------------------------------------- conditions


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_Field = Annotated[str, Field(min_length=1, max_length=200)]


class KeywordCondition(_Model):
    """True when the text field contains any of ``keywords``.

    Matching is on the first ``max_chars`` characters. Whitespace inside a phrase matches
    any run of whitespace. With ``word_boundary`` a keyword edge that is a word character
    must not touch another word character (``"bet"`` does not match ``"alphabet"``; ``"$$"``
    has no word edges so it matches anywhere). Case-insensitive matching compares
    ``str.lower()`` forms.
    """

    kind: Literal["keyword"] = "keyword"
    field: _Field
    keywords: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1)
    case_sensitive: bool = False
    word_boundary: bool = True
    max_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=1, le=1_000_000)

    @field_validator("keywords")
    @classmethod
    def _no_blank(cls, v: list[str]) -> list[str]:
        for kw in v:
            if not kw.strip():
                raise ValueError("keywords must not be blank")
        return v


class RegexCondition(_Model):
    """True when ``pattern`` is found in the first ``max_chars`` characters of the field.

    The pattern is checked by :func:`check_regex` when the spec is validated.
    """

    kind: Literal["regex"] = "regex"
    field: _Field
    # Declared before ``pattern`` so that the pattern's validator can read it.
    ignore_case: bool = False
    pattern: str = Field(min_length=1)
    max_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=1, le=1_000_000)

    @field_validator("pattern")
    @classmethod
    def _guard(cls, v: str, info: ValidationInfo) -> str:
        check_regex(v, ignore_case=bool(info.data.get("ignore_case", False)))
        return v


class ThresholdCondition(_Model):
    """True when the numeric field compares to ``value`` with ``op`` (gt, ge, lt, le)."""

    kind: Literal["threshold"] = "threshold"
    field: _Field
    op: Literal["gt", "ge", "lt", "le"]
    value: float

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if math.isnan(v):
            raise ValueError("value must not be NaN")
        return v


class RangeCondition(_Model):
    """True when the numeric field lies between ``min`` and ``max`` (either may be open)."""

    kind: Literal["range"] = "range"
    field: _Field
    min: float | None = None
    max: float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True

    @model_validator(mode="after")
    def _bounds(self) -> RangeCondition:
        if self.min is None and self.max is None:
            raise ValueError("range needs min, max or both")
        if any(b is not None and math.isnan(b) for b in (self.min, self.max)):
            raise ValueError("range bounds must not be NaN")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class LookupCondition(_Model):
    """True when the field's value is in a list: a named resource of the set or ``values``."""

    kind: Literal["lookup"] = "lookup"
    field: _Field
    resource: str | None = None
    values: list[str | int] | None = None
    case_sensitive: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> LookupCondition:
        if (self.resource is None) == (self.values is None):
            raise ValueError("lookup needs exactly one of 'resource' or 'values'")
        return self


class EqualsCondition(_Model):
    """True when the field equals ``value`` (a string field for a string, and so on)."""

    kind: Literal["equals"] = "equals"
    field: _Field
    # Strict: in lax mode ``1``, ``"yes"`` or ``"on"`` would pass as ``True`` and the LF
    # would then test a number or text field for a boolean, never firing.
    value: StrictBool | StrictInt | StrictFloat | StrictStr


class AllCondition(_Model):
    """True when every sub-condition is true."""

    kind: Literal["all"] = "all"
    conditions: list[Condition] = Field(min_length=1)


class AnyCondition(_Model):
    """True when at least one sub-condition is true."""

    kind: Literal["any"] = "any"
    conditions: list[Condition] = Field(min_length=1)


class NotCondition(_Model):
    """True when the sub-condition is false."""

    kind: Literal["not"] = "not"
    condition: Condition


#: Any condition, told apart by its ``kind``.
Condition = Annotated[
    KeywordCondition
    | RegexCondition
    | ThresholdCondition
    | RangeCondition
    | LookupCondition
    | EqualsCondition
    | AllCondition
    | AnyCondition
    | NotCondition,
    Field(discriminator="kind"),
]

AllCondition.model_rebuild()
AnyCondition.model_rebuild()
NotCondition.model_rebuild()


def iter_conditions(cond: Condition, path: str = "when") -> Iterator[tuple[str, Condition]]:
    """Yield ``(dotted path, condition)`` for ``cond`` and everything under it."""
    yield path, cond
    if isinstance(cond, AllCondition | AnyCondition):
        for i, sub in enumerate(cond.conditions):
            yield from iter_conditions(sub, f"{path}.conditions[{i}]")
    elif isinstance(cond, NotCondition):
        yield from iter_conditions(cond.condition, f"{path}.condition")


class LFSpec(_Model):
    """A declarative labeling function: vote ``label`` when the condition ``when`` holds.

    Examples
    --------
    >>> from streamlabel.lf import LFSpec
    >>> spec = LFSpec.model_validate({
    ...     "name": "big_amount", "label": 1,
    ...     "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 1000},
    ... })
    >>> spec.version, spec.when.op
    ('1', 'gt')
    """

    name: Annotated[str, Field(pattern=_NAME_PATTERN, max_length=200)]
    version: Annotated[str, Field(pattern=_NAME_PATTERN, max_length=100)] = "1"
    label: int = Field(ge=0)
    when: Condition
    description: str | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_str(cls, v: Any) -> Any:
        # YAML reads `version: 2` as an int; a version is a name, not a number.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


class LFSetSpec(_Model):
    """A versioned set of declarative LFs sharing a label space and named resources.

    Examples
    --------
    >>> from streamlabel.lf import load_lfset_spec
    >>> spec = load_lfset_spec('''
    ... name: fraud
    ... version: "1"
    ... cardinality: 2
    ... resources: {risky: [gambling, crypto]}
    ... lfs:
    ...   - name: risky_category
    ...     label: 1
    ...     when: {kind: lookup, field: merchant_category, resource: risky}
    ... ''')
    >>> [lf.name for lf in spec.lfs]
    ['risky_category']
    """

    name: Annotated[str, Field(pattern=_NAME_PATTERN, max_length=200)]
    version: Annotated[str, Field(pattern=_NAME_PATTERN, max_length=100)] = "1"
    cardinality: int = Field(ge=2)
    label_names: list[str] | None = None
    resources: dict[str, list[str]] = Field(default_factory=dict)
    lfs: list[LFSpec] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _version_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("label_names", mode="before")
    @classmethod
    def _names_from_mapping(cls, v: Any) -> Any:
        # YAML reads naturally as {0: legit, 1: fraud}; keep the list form canonical.
        if isinstance(v, Mapping):
            try:
                keys = sorted(int(k) for k in v)
            except (TypeError, ValueError):
                raise ValueError("label_names keys must be the labels 0..k-1") from None
            if keys != list(range(len(keys))):
                raise ValueError(f"label_names keys must be 0..{len(keys) - 1}, got {keys}")
            by_int = {int(k): name for k, name in v.items()}
            return [by_int[k] for k in keys]
        return v

    @model_validator(mode="after")
    def _consistent(self) -> LFSetSpec:
        if self.label_names is not None and len(self.label_names) != self.cardinality:
            raise LFSpecError(
                f"{len(self.label_names)} label names for cardinality {self.cardinality}",
                field="label_names",
            )
        seen: set[str] = set()
        for lf in self.lfs:
            if lf.name in seen:
                raise LFSpecError("duplicate LF name in the set", lf=lf.name, field="name")
            seen.add(lf.name)
            if not 0 <= lf.label < self.cardinality:
                raise LFSpecError(
                    f"label {lf.label} is outside 0..{self.cardinality - 1}",
                    lf=lf.name,
                    field="label",
                )
            for path, cond in iter_conditions(lf.when):
                if (
                    isinstance(cond, LookupCondition)
                    and cond.resource is not None
                    and cond.resource not in self.resources
                ):
                    known = sorted(self.resources) or "none"
                    raise LFSpecError(
                        f"unknown resource {cond.resource!r} (known: {known})",
                        lf=lf.name,
                        field=f"{path}.resource",
                    )
        return self


# --------------------------------------------------------------------------- loading


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    """``('when', 'all', 'conditions', 1, 'regex', 'pattern')`` -> ``when.conditions[1]``..."""
    out: list[str] = []
    prev: int | str | None = None
    for item in loc:
        # pydantic puts the discriminator's tag into the location of a tagged union member.
        if (
            isinstance(item, str)
            and item in _KINDS
            and (prev in ("when", "condition") or isinstance(prev, int))
        ):
            prev = item
            continue
        if isinstance(item, int):
            out.append(f"[{item}]")
        else:
            out.append(("." if out else "") + item)
        prev = item
    return "".join(out)


def _raise_from_validation(exc: ValidationError, data: Any) -> LFSpecError:
    errors = exc.errors()
    for err in errors:
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, LFSpecError):
            return inner
    err = errors[0]
    loc = tuple(err["loc"])
    lf_name: str | None = None
    field_loc: tuple[int | str, ...] = loc
    if len(loc) >= 2 and loc[0] == "lfs" and isinstance(loc[1], int):
        lfs = data.get("lfs") if isinstance(data, Mapping) else None
        raw = lfs[loc[1]] if isinstance(lfs, list) and loc[1] < len(lfs) else None
        name = raw.get("name") if isinstance(raw, Mapping) else None
        lf_name = name if isinstance(name, str) else f"#{loc[1]}"
        field_loc = loc[2:]
    msg = str(err["msg"]).removeprefix("Value error, ")
    others = [
        f"{_loc_to_path(tuple(e['loc'])) or '(set)'}: {str(e['msg']).removeprefix('Value error, ')}"
        for e in errors[1:3]
    ]
    if others:
        # ``of: ...`` in place of ``conditions: ...`` gives "required" + "extra": show both.
        msg += "; also " + "; ".join(others)
        if len(errors) > 3:
            msg += f" (and {len(errors) - 3} more)"
    return LFSpecError(msg, lf=lf_name, field=_loc_to_path(field_loc) or None)


def _read_source(source: str | os.PathLike[str] | Mapping[str, Any]) -> Any:
    if isinstance(source, Mapping):
        return source
    if isinstance(source, os.PathLike):
        path = Path(source)
        text = path.read_text(encoding="utf-8")
        is_json = path.suffix.lower() == ".json"
        guessed = False
    else:
        text = source
        is_json = guessed = text.lstrip().startswith(("{", "["))
        if "\n" not in text and not is_json and len(text) < 4096:
            maybe = Path(text)
            if maybe.suffix.lower() in (".yaml", ".yml", ".json") or maybe.is_file():
                text = maybe.read_text(encoding="utf-8")
                is_json = maybe.suffix.lower() == ".json"
                guessed = False
    try:
        # safe_load: YAML tags that build Python objects are refused.
        return json.loads(text) if is_json else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if is_json else "YAML"
        if guessed:
            # Text opening with a brace may be a YAML flow mapping ({name: s, ...}).
            try:
                return yaml.safe_load(text)
            except yaml.YAMLError:
                pass
        raise LFSpecError(f"invalid {kind}: {exc}") from None


def load_lfset_spec(
    source: str | os.PathLike[str] | Mapping[str, Any] | LFSetSpec,
) -> LFSetSpec:
    """Load and validate an LF set spec from a file, YAML/JSON text or a dict.

    Parameters
    ----------
    source
        A path (``.yaml``, ``.yml`` or ``.json``; a ``str`` naming an existing file counts),
        YAML or JSON text, a mapping, or an already validated spec.

    Returns
    -------
    LFSetSpec
        The validated spec.

    Raises
    ------
    LFSpecError
        With ``lf``, ``field`` and ``reason`` set, when the spec is invalid.

    Examples
    --------
    >>> from streamlabel.lf import LFSpecError, load_lfset_spec
    >>> bad = {"name": "s", "cardinality": 2, "lfs": [
    ...     {"name": "x", "label": 1, "when": {"kind": "regex", "field": "t", "pattern": "(a*)*"}}]}
    >>> try:
    ...     load_lfset_spec(bad)
    ... except LFSpecError as e:
    ...     print(e.lf, e.field)
    x when.pattern
    """
    if isinstance(source, LFSetSpec):
        return source
    data = _read_source(source)
    if not isinstance(data, Mapping):
        raise LFSpecError(f"an LF set spec must be a mapping, got {type(data).__name__}")
    try:
        return LFSetSpec.model_validate(data)
    except ValidationError as exc:
        raise _raise_from_validation(exc, data) from None
