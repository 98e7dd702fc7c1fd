"""Labeling functions: code LFs, declarative LF specs, LF sets and the applier.

- :func:`labeling_function` / :class:`LabelingFunction`: LFs written in Python;
- :class:`LFSetSpec` and its conditions: declarative LFs, validated by pydantic and loaded
  from YAML or JSON with :func:`load_lfset_spec` (no code ever runs from a spec);
- :class:`DeclarativeLF` / :class:`CompiledBatch`: specs compiled into per-event and batch
  functions;
- :class:`LFSet`, :class:`LFSetDiff`, :class:`LFSetRegistry`: immutable, content-hashed,
  versioned sets of LFs;
- :class:`LFApplier`: the fault-tolerant applier producing the label matrix ``L``;
- :func:`model_score_lf`: a served model's score (computed by the caller) as an LF.
"""

from __future__ import annotations

from streamlabel.lf._apply import LFApplier, LFReport
from streamlabel.lf._compile import CompiledBatch, DeclarativeLF, compile_batch, compile_lf
from streamlabel.lf._core import ABSTAIN, LabelingFunction, labeling_function
from streamlabel.lf._lfset import LF, LFSet, LFSetDiff, LFSetRegistry, LFVersionError, load_lfset
from streamlabel.lf._model import MODEL_SCORE_FIELD, model_score_lf
from streamlabel.lf._spec import (
    AllCondition,
    AnyCondition,
    Condition,
    EqualsCondition,
    KeywordCondition,
    LFSetSpec,
    LFSpec,
    LFSpecError,
    LookupCondition,
    NotCondition,
    RangeCondition,
    RegexCondition,
    ThresholdCondition,
    check_regex,
    load_lfset_spec,
)

__all__ = [
    "ABSTAIN",
    "LF",
    "MODEL_SCORE_FIELD",
    "AllCondition",
    "AnyCondition",
    "CompiledBatch",
    "Condition",
    "DeclarativeLF",
    "EqualsCondition",
    "KeywordCondition",
    "LFApplier",
    "LFReport",
    "LFSet",
    "LFSetDiff",
    "LFSetRegistry",
    "LFSetSpec",
    "LFSpec",
    "LFSpecError",
    "LFVersionError",
    "LabelingFunction",
    "LookupCondition",
    "NotCondition",
    "RangeCondition",
    "RegexCondition",
    "ThresholdCondition",
    "check_regex",
    "compile_batch",
    "compile_lf",
    "labeling_function",
    "load_lfset",
    "load_lfset_spec",
    "model_score_lf",
]
