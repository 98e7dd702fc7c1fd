"""Model-score LFs: a served end model's score, already computed, as a labeling function."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from streamlabel._constants import ABSTAIN
from streamlabel.lf._core import LabelingFunction

__all__ = ["MODEL_SCORE_FIELD", "model_score_lf"]

#: Payload field a model-score LF reads by default: the served model's P(positive class).
MODEL_SCORE_FIELD = "model_score"


def _vote_on_score(
    event: Mapping[str, Any], field: str, hi: float, lo: float, positive: int, negative: int
) -> int:
    score = event.get(field)
    # No score (no model served yet, or its prediction failed): nothing to say.
    if score is None:
        return ABSTAIN
    if isinstance(score, bool) or not isinstance(score, numbers.Real):
        # TypeError on a declared field: the applier counts the event invalid, not a fault.
        raise TypeError(f"{field} must be a number, got {type(score).__name__}")
    s = float(score)
    if not math.isfinite(s):  # a model that returned NaN: a bad event, as the specs count it
        raise TypeError(f"{field} must be a finite number, got {s}")
    if s >= hi:
        return positive
    if s <= lo:
        return negative
    return ABSTAIN


def model_score_lf(
    model_version: str,
    *,
    hi: float = 0.8,
    lo: float = 0.2,
    name: str = "end_model",
    field: str = MODEL_SCORE_FIELD,
    positive: int = 1,
    negative: int = 0,
) -> LabelingFunction:
    """Build a code LF voting from a served model's score that the caller put in the payload.

    The LF never calls a model: the caller scores the batch once with the served model
    (as a predictor does before labeling) and writes each event's score under ``field``;
    the LF thresholds it. Its id is ``f"{name}@{model_version}"``, so every new served
    model is a new version of the same LF, which a label model starts from its
    predecessor's estimate (:meth:`streamlabel.pipeline.Labeler.set_lfset`).

    Parameters
    ----------
    model_version
        Version of the served model the scores come from; the LF's version.
    hi, lo
        Votes ``positive`` when the score is at least ``hi``, ``negative`` when it is at
        most ``lo``, abstains in between and when the field is absent or ``None``.
    name
        The LF's name.
    field
        Payload field holding the score (the model's probability of ``positive``).
    positive, negative
        The classes voted.

    Returns
    -------
    LabelingFunction
        Reads only ``field``; a non-numeric or non-finite score counts as invalid (the LF
        abstains).

    Raises
    ------
    ValueError
        ``lo > hi``, or thresholds outside [0, 1].

    Examples
    --------
    >>> from streamlabel.lf import model_score_lf
    >>> lf = model_score_lf("v3", hi=0.8, lo=0.2)
    >>> lf.id
    'end_model@v3'
    >>> [lf({"model_score": s}) for s in (0.95, 0.5, 0.05, None)], lf({"amount": 1.0})
    ([1, -1, 0, -1], -1)
    >>> lf.source_hash == model_score_lf("v4", hi=0.8, lo=0.2).source_hash
    True

    A non-numeric or NaN score makes the LF abstain, counted as invalid by the applier:

    >>> from streamlabel.lf import LFApplier
    >>> applier = LFApplier([lf], cardinality=2)
    >>> events = [{"model_score": "high"}, {"model_score": float("nan")}, {"model_score": 0.9}]
    >>> applier.apply_many(events).tolist()
    [[-1], [-1], [1]]
    >>> applier.invalid_counts_, applier.fault_counts_
    ({'end_model@v3': 2}, {'end_model@v3': 0})
    """
    if not (0.0 <= lo <= hi <= 1.0):
        raise ValueError(f"need 0 <= lo <= hi <= 1, got lo={lo}, hi={hi}")
    return LabelingFunction(
        name,
        _vote_on_score,
        version=model_version,
        resources={
            "field": field,
            "hi": float(hi),
            "lo": float(lo),
            "positive": positive,
            "negative": negative,
        },
        fields=[field],
    )
