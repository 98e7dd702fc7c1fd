"""Shadow (candidate) LF sets: scored on live traffic, emitting nothing, promoted on request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streamlabel.datasets import fraud_lfsets, make_fraud_stream
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import LFSet, load_lfset
from streamlabel.pipeline import FeedbackRecord, Labeler


def _worse_v1() -> LFSet:
    """v1 with card_present inverted: a broken push (card-present payments voted fraud)."""
    spec: dict[str, Any] = fraud_lfsets()[0].to_spec().model_dump(mode="json", exclude_none=True)
    spec["version"] = "1-broken"
    for lf in spec["lfs"]:
        if lf["name"] == "card_present":
            lf["label"], lf["version"] = 1, "2"
    return load_lfset(spec)


def _run(
    labeler: Labeler, stream: Any, lo: int, hi: int, gold_every: int = 3, batch: int = 500
) -> list[Any]:
    labels = []
    for a in range(lo, hi, batch):
        b = min(hi, a + batch)
        out = labeler.process_many([(e, None) for e in stream.events[a:b]])
        labels += out.labels
        for i in range(a, b):
            if i % gold_every == 0:
                labeler.learn_feedback(
                    FeedbackRecord(stream.events[i]["id"], int(stream.y[i]), "t", 0.0)
                )
    return labels


@pytest.fixture(scope="module")
def stream() -> Any:
    return make_fraud_stream(20_000, seed=4)


def test_a_candidate_changes_no_emitted_label(stream: Any) -> None:
    v1, v2 = fraud_lfsets()[:2]
    plain = Labeler(v1, OnlineLabelModel(2), clock=lambda: 0.0)
    shadowed = Labeler(v1, OnlineLabelModel(2), clock=lambda: 0.0)
    _run(plain, stream, 0, 4000)
    _run(shadowed, stream, 0, 4000)
    shadowed.set_candidate(v2)
    a = _run(plain, stream, 4000, 8000)
    b = _run(shadowed, stream, 4000, 8000)

    def strip(r: Any) -> dict[str, Any]:
        return {k: v for k, v in r.to_dict().items() if k != "processing_seconds"}  # a timing

    assert [strip(r) for r in a] == [strip(r) for r in b]
    assert (
        plain.model.sufficient_statistics().keys() == shadowed.model.sufficient_statistics().keys()
    )
    for key, arr in plain.model.sufficient_statistics().items():
        assert (arr == shadowed.model.sufficient_statistics()[key]).all(), key
    report = shadowed.candidate.report()  # type: ignore[union-attr]
    json.dumps(report)
    assert report["n"] == 4000
    flips = sum(report["flips"].values())
    assert report["agreement"] == pytest.approx(1 - flips / 4000)
    assert report["diff"]["changed"] or report["diff"]["added"]
    assert set(report["estimated_accuracy"]) == set(v2.ids)


def test_a_worse_candidate_is_shown_worse_and_needs_confirmation(stream: Any) -> None:
    v1 = fraud_lfsets()[0]
    labeler = Labeler(v1, OnlineLabelModel(2), clock=lambda: 0.0)
    _run(labeler, stream, 0, 3000)
    shadow = labeler.set_candidate(_worse_v1())
    _run(labeler, stream, 3000, 9000)
    report = shadow.report()
    assert report["verdict"] == "worse"
    assert report["gold"]["candidate_accuracy"] < report["gold"]["active_accuracy"]
    with pytest.raises(PermissionError, match="worse"):
        labeler.promote_candidate()
    assert labeler.lfset.version == "1" and labeler.candidate is shadow  # nothing changed
    labeler.promote_candidate(confirm=True)
    assert labeler.lfset.version == "1-broken" and labeler.candidate is None


def test_a_better_candidate_promoted_mid_stream_labels_the_next_batch(stream: Any) -> None:
    v1, v2 = fraud_lfsets()[:2]
    tactic = stream.phase("tactic_change")
    labeler = Labeler(v1, OnlineLabelModel(2), clock=lambda: 0.0)
    _run(labeler, stream, 0, tactic.start)
    shadow = labeler.set_candidate(v2)
    _run(labeler, stream, tactic.start, tactic.start + 3000)
    report = shadow.report()
    assert report["gold"]["candidate_accuracy"] > report["gold"]["active_accuracy"]
    assert report["verdict"] in ("better", "undecided")
    labeler.promote_candidate()
    nxt = _run(labeler, stream, tactic.start + 3000, tactic.start + 3500)
    assert {r.lfset_version for r in nxt} == {"2"}


def test_a_candidate_of_another_set_is_refused(stream: Any) -> None:
    v1 = fraud_lfsets()[0]
    labeler = Labeler(v1, OnlineLabelModel(2))
    other = load_lfset(
        {
            "name": "other",
            "cardinality": 2,
            "lfs": [
                {
                    "name": "x",
                    "label": 1,
                    "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 1},
                }
            ],
        }
    )
    with pytest.raises(ValueError, match="share the active set's name"):
        labeler.set_candidate(other)
    with pytest.raises(ValueError, match="is the active version"):
        labeler.set_candidate(v1)
    assert labeler.candidate is None
    with pytest.raises(LookupError):
        labeler.promote_candidate()
