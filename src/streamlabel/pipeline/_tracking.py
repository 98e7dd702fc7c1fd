"""How a label model follows an LF set from one version to the next (one rule, shared).

The labeler's hot reload and a shadow candidate's model copy both apply it, so a
candidate is scored by exactly the model a push of it would give.
"""

from __future__ import annotations

from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import LFSet, LFSetDiff

__all__ = ["check_pair", "model_ids", "track_lfset"]


def check_pair(lfset: LFSet, model: OnlineLabelModel) -> None:
    """Refuse an LF set and a label model that cannot label together.

    Raises
    ------
    TypeError
        ``lfset`` is not an :class:`~streamlabel.lf.LFSet`.
    ValueError
        Their cardinalities differ.
    """
    if not isinstance(lfset, LFSet):
        raise TypeError(f"lfset must be an LFSet, got {type(lfset).__name__}")
    if model.cardinality != lfset.cardinality:
        raise ValueError(
            f"model cardinality {model.cardinality} != LF set cardinality {lfset.cardinality}"
        )


def model_ids(model: OnlineLabelModel) -> set[str]:
    """LF ids the model currently holds (creating its empty state if needed)."""
    if model.n_lfs_ == 0:
        return set()
    return set(model.lf_ids_)


def track_lfset(model: OnlineLabelModel, diff: LFSetDiff, new: LFSet) -> None:
    """Make ``model`` track ``new`` (reached from the previous set through ``diff``).

    A changed LF's new version inherits its predecessor's estimate
    (``add_lf(new_id, predecessor=old_id)``), an added LF starts from the prior, and the
    LFs that left the set (removed ones and old versions) are retired.

    Examples
    --------
    >>> from streamlabel.lf import load_lfset
    >>> def lfset(lf_version):
    ...     return load_lfset({"name": "s", "version": lf_version, "cardinality": 2,
    ...         "lfs": [{"name": "big", "label": 1, "version": lf_version, "when":
    ...         {"kind": "threshold", "field": "amount", "op": "gt", "value": 9}}]})
    >>> model = OnlineLabelModel(2)
    >>> model.add_lf("big@1")
    >>> track_lfset(model, lfset("1").diff(lfset("2")), lfset("2"))
    >>> model.lf_ids_
    ['big@2']
    """
    known = model_ids(model)
    for old_id, new_id in diff.changed:
        if new_id not in known:
            model.add_lf(new_id, predecessor=old_id if old_id in known else None)
    known = model_ids(model)
    for lf_id in new.ids:
        if lf_id not in known:
            model.add_lf(lf_id)
    leaving = [*diff.removed, *(old_id for old_id, _ in diff.changed)]
    known = model_ids(model)
    for lf_id in leaving:
        if lf_id in known and lf_id not in new.ids:
            model.retire_lf(lf_id)
