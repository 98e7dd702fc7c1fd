"""Model-score LFs: a served model's score, computed by the caller, as a labeling function."""

from __future__ import annotations

import numpy as np
import pytest

from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import ABSTAIN, MODEL_SCORE_FIELD, LFApplier, LFSet, model_score_lf
from streamlabel.pipeline import Labeler


def test_votes_by_threshold_and_abstains_without_a_score() -> None:
    lf = model_score_lf("v1", hi=0.7, lo=0.3)
    assert lf.id == "end_model@v1" and lf.fields == (MODEL_SCORE_FIELD,)
    scores = [1.0, 0.7, 0.69, 0.5, 0.31, 0.3, 0.0]
    assert [lf({MODEL_SCORE_FIELD: s}) for s in scores] == [1, 1, -1, -1, -1, 0, 0]
    assert lf({}) == ABSTAIN and lf({MODEL_SCORE_FIELD: None}) == ABSTAIN
    assert lf({MODEL_SCORE_FIELD: np.float32(0.9)}) == 1  # numpy scalars are numbers


def test_custom_classes_name_and_field() -> None:
    lf = model_score_lf("7", hi=0.5, lo=0.5, name="spam_model", field="p", positive=2, negative=1)
    assert lf.id == "spam_model@7"
    assert [lf({"p": 0.5}), lf({"p": 0.49}), lf({"score": 0.9})] == [2, 1, ABSTAIN]


@pytest.mark.parametrize(("hi", "lo"), [(0.2, 0.8), (1.5, 0.1), (0.9, -0.1)])
def test_refuses_inconsistent_thresholds(hi: float, lo: float) -> None:
    with pytest.raises(ValueError, match="lo <= hi"):
        model_score_lf("v1", hi=hi, lo=lo)


def test_applier_counts_a_non_number_invalid_and_a_missing_score_as_nothing() -> None:
    lf = model_score_lf("v1")
    applier = LFApplier([lf], cardinality=2)
    events = [{MODEL_SCORE_FIELD: 0.95}, {MODEL_SCORE_FIELD: "0.95"}, {}, {MODEL_SCORE_FIELD: True}]
    assert applier.apply_many(events)[:, 0].tolist() == [1, -1, -1, -1]
    assert applier.invalid_counts_ == {lf.id: 2} and applier.fault_counts_ == {lf.id: 0}


def test_a_new_model_version_is_a_new_lf_version_that_inherits() -> None:
    def lfset(version: str) -> LFSet:
        return LFSet("s", f"1-{version}", [model_score_lf(version)], cardinality=2)

    # One version's logic hash equals the next's: only the id says which model voted.
    assert lfset("v1").lfs[0].source_hash == lfset("v2").lfs[0].source_hash
    labeler = Labeler(lfset("v1"), OnlineLabelModel(2), clock=lambda: 0.0)
    rng = np.random.default_rng(0)
    events = [
        {"id": f"e{i}", "ts": 0.0, "entity": "c", "payload": {MODEL_SCORE_FIELD: float(s)}}
        for i, s in enumerate(rng.uniform(size=500))
    ]
    out = labeler.process_many([(e, None) for e in events])
    voted = [bool(rec.votes) for rec in out.labels]
    assert voted == [not 0.2 < e["payload"][MODEL_SCORE_FIELD] < 0.8 for e in events]
    before = labeler.model.lf_accuracies()["end_model@v1"]
    diff = labeler.set_lfset(lfset("v2"))
    assert diff.changed == (("end_model@v1", "end_model@v2"),)
    assert labeler.model.lf_ids_ == ["end_model@v2"]  # the old version is retired
    assert labeler.model.lf_accuracies()["end_model@v2"] == pytest.approx(before, abs=0.05)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_score_abstains_and_counts_invalid(bad: float) -> None:
    applier = LFApplier([model_score_lf("v1")], cardinality=2)
    L = applier.apply_many([{MODEL_SCORE_FIELD: bad}, {MODEL_SCORE_FIELD: 0.9}])
    assert L[:, 0].tolist() == [ABSTAIN, 1]
    assert applier.apply_one({MODEL_SCORE_FIELD: bad}).tolist() == [ABSTAIN]
    assert applier.invalid_counts_ == {"end_model@v1": 2}
    assert applier.fault_counts_ == {"end_model@v1": 0}
    assert "finite" in applier.reports_[-1].reason
