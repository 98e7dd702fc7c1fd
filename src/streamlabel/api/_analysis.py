"""LF analysis and label-model parameters as the API reports them.

The API computes LF diagnostics from the recent ``labels`` records (and the late gold
labels of ``feedback``) rather than asking labelers for them: the labels already carry
every vote, the set version and the posterior, so nothing new has to be published and the
figures are those of the whole labeler group, not of one worker. It is bounded: the
Kafka backend reads at most the last ``analysis_window`` records of each partition.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from streamlabel.api._model import LFSetVersion

__all__ = ["analyse_labels", "describe_label_model"]


def _lf_ids(spec: Mapping[str, Any]) -> list[str]:
    return [f"{lf['name']}@{lf.get('version', '1')}" for lf in spec.get("lfs", [])]


def analyse_labels(
    labels: Sequence[Mapping[str, Any]],
    gold: Mapping[str, int],
    versions: Sequence[LFSetVersion],
    *,
    lfset: str | None = None,
    estimates: Mapping[str, float] | None = None,
    window: int = 1000,
) -> dict[str, Any]:
    """LF diagnostics over label records (``LabelRecord.to_dict()``), in arrival order.

    Parameters
    ----------
    labels
        The records; those of sets other than ``lfset`` are skipped.
    gold
        Event id -> true class (late gold): the empirical accuracies.
    versions
        Published LF set versions: an LF of the record's set version that did not vote
        counts as active and abstaining (records list only the votes cast).
    lfset
        The set analysed; default: the set of the newest record.
    estimates
        LF id -> the label model's estimated accuracy (``est_acc``).
    window
        Rows of the recent window (:class:`~streamlabel.analysis.LFAnalysis`).

    Returns
    -------
    dict
        ``{"lfset", "versions", "n_labels", "n_gold", "cardinality", "window",
        "all_time": {"overall", "lfs"}, "recent": {...}}`` (``all_time`` is over the
        records read); empty figures without records.

    Examples
    --------
    >>> rows = [{"event_id": "a", "lfset": "s", "lfset_version": "1",
    ...          "votes": {"kw@1": 1}, "posterior": [0.2, 0.8]}]
    >>> v = LFSetVersion("s", "1", {"lfs": [{"name": "kw"}, {"name": "rx"}]}, "h", "push",
    ...                  "a", "r", 0.0)
    >>> out = analyse_labels(rows, {"a": 1}, [v])
    >>> [(x["lf"], x["coverage"], x["emp_acc"]) for x in out["all_time"]["lfs"]]
    [('kw@1', 1.0, 1.0), ('rx@1', 0.0, None)]
    """
    from streamlabel.analysis import LFAnalysis

    rows = [r for r in labels if isinstance(r.get("votes"), Mapping)]
    if lfset is None and rows:
        lfset = str(rows[-1].get("lfset"))
    rows = [r for r in rows if r.get("lfset") == lfset]
    ids = {v.version: _lf_ids(v.spec) for v in versions if v.name == lfset}
    cardinality = max((len(r.get("posterior") or ()) for r in rows), default=0)
    out: dict[str, Any] = {
        "lfset": lfset,
        "versions": sorted({str(r.get("lfset_version")) for r in rows}),
        "n_labels": len(rows),
        "n_gold": sum(1 for r in rows if r.get("event_id") in gold),
        "cardinality": cardinality or None,
        "window": window,
    }
    if not rows or cardinality < 2:
        empty = {"overall": {"n_rows": 0}, "lfs": []}
        return {**out, "all_time": empty, "recent": empty}
    analysis = LFAnalysis(cardinality, window=window)
    for r in rows:
        votes = {str(k): int(v) for k, v in r["votes"].items()}
        for lf_id in ids.get(str(r.get("lfset_version")), ()):
            votes.setdefault(lf_id, -1)
        y = gold.get(str(r.get("event_id")))
        analysis.update_one(votes, y if y is not None and 0 <= y < cardinality else None)

    class _Est:
        def lf_accuracies(self) -> Mapping[str, float]:
            return estimates or {}

    return {**out, **{k: v for k, v in analysis.to_dict(_Est()).items() if k != "window"}}


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def describe_label_model(
    model: Any, *, group: str, lfset: str, lfset_version: str, at: float | None = None
) -> dict[str, Any]:
    """Return the parameters of a label model as the API reports them (JSON-able).

    Parameters
    ----------
    model : OnlineLabelModel
        The merged model (from ``labelmodel-params``).
    group, lfset, lfset_version : str
        The labeler group (record key) and the LF set the model was learned on.
    at : float, optional
        When the parameters were published.

    Returns
    -------
    dict
        ``group``, ``lfset``, ``lfset_version``, ``labelmodel_version``, ``at``,
        ``class_balance`` (list), ``lf_accuracies`` (LF id -> estimate) and
        ``lf_precisions`` (LF id -> P(class | the LF votes it), per class).

    Examples
    --------
    >>> from streamlabel.labelmodel import OnlineLabelModel
    >>> m = OnlineLabelModel(cardinality=2)
    >>> m.learn_one({"kw@1": 1, "rx@1": 1})
    >>> d = describe_label_model(m, group="g", lfset="s", lfset_version="1")
    >>> sorted(d["lf_accuracies"]), len(d["class_balance"])
    (['kw@1', 'rx@1'], 2)
    """
    precisions = {k: [_finite(float(x)) for x in v] for k, v in model.lf_precisions().items()}
    return {
        "group": group,
        "lfset": lfset,
        "lfset_version": lfset_version,
        "labelmodel_version": model.version_,
        "at": at,
        "class_balance": [_finite(float(x)) for x in model.class_balance_],
        "lf_accuracies": {k: _finite(float(v)) for k, v in model.lf_accuracies().items()},
        "lf_precisions": precisions,
    }
