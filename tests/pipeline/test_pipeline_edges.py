"""Edges of the labeler, review, shadow, training and watch that a mutation review found
untested."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pytest
from pipeline_helpers import tx_events, tx_lfset

import streamlabel.pipeline._labeler as labeler_mod
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import LFSet, LFVersionError, labeling_function, load_lfset
from streamlabel.models import EndModel, ModelRegistry, PayloadFeaturizer
from streamlabel.pipeline import (
    DriftWatch,
    FeedbackRecord,
    Labeler,
    LabelRecord,
    ReviewPolicy,
    Trainer,
    TrainingWindow,
    parse_event,
)
from streamlabel.pipeline._shadow import _mcnemar_p

POOL = tx_events(200, seed=42)


def make(**kw: Any) -> Labeler:
    return Labeler(tx_lfset(1), OnlineLabelModel(cardinality=2), clock=lambda: 0.0, **kw)


# L06 ------------------------------------------------------------------------
def test_a_parser_crash_sends_the_input_to_the_dlq(monkeypatch: pytest.MonkeyPatch) -> None:
    real = labeler_mod.parse_event

    def flaky(raw: Any, **kw: Any) -> Any:
        if raw == POOL[3]:
            raise RuntimeError("boom")
        return real(raw, **kw)

    monkeypatch.setattr(labeler_mod, "parse_event", flaky)
    lab = make()
    out = lab.process_many([(r, None) for r in POOL[:10]])
    assert len(out.labels) == 9 and len(out.dlq) == 1
    assert out.dlq[0].reason == "invalid_value" and out.dlq[0].detail == "RuntimeError: boom"
    assert lab.dlq_by_reason_["invalid_value"] == 1 and lab.events_in_ == 10


# L10 / L26 -------------------------------------------------------------------
CALLS = {"n": 0}


@labeling_function()
def half_bad(event: Any) -> int:
    CALLS["n"] += 1
    if event.get("bad"):
        raise RuntimeError("bad row")
    return 1


@labeling_function()
def fine(event: Any) -> int:
    return 0


def ev(i: int, bad: bool) -> dict[str, Any]:
    return {"id": f"e{i}", "ts": 0, "entity": "c", "payload": {"bad": bad}}


def test_a_fault_rate_equal_to_the_threshold_quarantines() -> None:
    lab = Labeler(
        LFSet("s", "1", [half_bad, fine], cardinality=2),
        OnlineLabelModel(cardinality=2),
        quarantine_window=200,
    )
    lab.process_many([(ev(i, i % 2 == 0), None) for i in range(200)])  # exactly 50%
    assert "half_bad@1" in lab.quarantined_


def test_a_quarantine_kept_across_a_set_version_still_skips_the_lf() -> None:
    lab = Labeler(
        LFSet("s", "1", [half_bad, fine], cardinality=2),
        OnlineLabelModel(cardinality=2),
        quarantine_window=200,
    )
    lab.process_many([(ev(i, True), None) for i in range(200)])
    assert "half_bad@1" in lab.quarantined_
    lab.set_lfset(LFSet("s", "2", [half_bad, fine], cardinality=2))  # keeps the id
    assert "half_bad@1" in lab.quarantined_
    before = CALLS["n"]
    out = lab.process_many([(ev(1000 + i, False), None) for i in range(10)])
    assert CALLS["n"] == before  # not called
    assert all("half_bad@1" not in r.votes for r in out.labels)


# L22 ------------------------------------------------------------------------
def test_set_candidate_refuses_changed_logic_under_the_same_id() -> None:
    lab = make()
    spec = tx_lfset(1).to_spec().model_dump()
    spec["version"] = "2"
    for lf in spec["lfs"]:
        if lf["name"] == "big_amount":
            lf["when"]["value"] = 10  # same name@version, other logic
    with pytest.raises(LFVersionError):
        lab.set_candidate(load_lfset(spec))
    assert lab.candidate is None


# L29 ------------------------------------------------------------------------
def test_feedback_cache_is_exact_lru_over_many_small_batches() -> None:
    lab = make(feedback_cache=10)
    for start in range(0, 21, 3):  # 7 batches of 3: evictions leave 1 row of a batch
        lab.process_many([(r, None) for r in POOL[start : start + 3]])
    assert lab.n_remembered_ == 10
    ids = [json.loads(r)["id"] for r in POOL[:21]]
    matched = [lab.learn_feedback(FeedbackRecord(i, 1, "cb", 0.0)) for i in ids]
    assert matched == [False] * 11 + [True] * 10


# R01 / R02 ------------------------------------------------------------------
def test_top_posterior_equal_to_min_confidence_is_not_uncertain() -> None:
    p = ReviewPolicy(min_confidence=0.6, route_conflicts=False, max_per_1000=1000)
    assert p.reason([0.4, 0.6], {}) is None
    assert p.select_many(np.array([[0.4, 0.6], [0.5, 0.5]]), np.array([[1], [1]])) == [
        (1, "uncertain")
    ]


# E04 ------------------------------------------------------------------------
def test_zone_less_iso_is_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        e = parse_event({"id": "a", "ts": "2024-01-01T00:00:00", "entity": "c", "payload": {}})
        assert e.ts == 1_704_067_200.0
    finally:
        monkeypatch.undo()
        time.tzset()


# S02 / S03 / S05 ------------------------------------------------------------
def test_mcnemar_exact_two_sided_p() -> None:
    assert _mcnemar_p(0, 5) == pytest.approx(0.0625)
    assert _mcnemar_p(0, 6) == pytest.approx(0.03125)
    assert _mcnemar_p(3, 3) == 1.0


def _abc(v: str) -> LFSet:
    return load_lfset(
        {
            "name": "s",
            "version": v,
            "cardinality": 2,
            "lfs": [
                {
                    "name": n,
                    "label": y,
                    "when": {"kind": "threshold", "field": n, "op": "gt", "value": 0},
                }
                for n, y in (("a", 1), ("b", 0), ("c", 1))
            ],
        }
    )


def test_a_relabelled_copy_of_the_active_set_agrees_on_every_event() -> None:
    # From a fresh model the a-vs-b conflicts are a tie (label 0) before learning and
    # class 1 after it (a agrees with c): a shadow that learned first would flip them.
    lab = Labeler(_abc("1"), OnlineLabelModel(2), clock=lambda: 0.0)
    shadow = lab.set_candidate(_abc("2"))
    lab.process_many(
        [
            (
                {
                    "id": f"e{i}",
                    "ts": 0,
                    "entity": "x",
                    "payload": {"a": 1, "b": 0, "c": 1} if i % 3 else {"a": 1, "b": 1, "c": 0},
                },
                None,
            )
            for i in range(300)
        ]
    )
    rep = shadow.report()
    assert rep["n"] == 300 and rep["agree"] == 300 and set(rep["flips"].values()) == {0}


def test_shadow_gold_memory_is_exactly_remember_events() -> None:
    lab = make()
    spec = tx_lfset(1).to_spec().model_dump()
    spec["version"] = "1b"
    shadow = lab.set_candidate(load_lfset(spec), remember=3)
    out = lab.process_many([(r, None) for r in POOL[:4]])
    ids = [r.event_id for r in out.labels]
    assert not shadow.observe_gold(ids[0], 1)
    assert all(shadow.observe_gold(i, 1) for i in ids[1:])


# W03 ------------------------------------------------------------------------
def test_on_lf_drift_fires_on_an_agreement_alarm_alone() -> None:
    told: list[str] = []
    watch = DriftWatch(["a@1"], min_samples=200, grace=200, on_lf_drift=told.append)
    rng = np.random.default_rng(0)
    recs = []
    for i in range(6000):
        label = int(rng.random() < 0.5)
        vote = label if (i < 3000 or rng.random() < 0.1) else 1 - label  # same coverage
        post = [0.2, 0.8] if label else [0.8, 0.2]
        recs.append(
            LabelRecord("e", "c", "s", "1", {"a@1": vote}, post, label, 0.8, "1", 0.0, 0.0, None)
        )
    for s in range(0, 6000, 500):
        watch.observe(recs[s : s + 500])
    drifted = [e.monitor for e in watch.events_ if e.kind == "drift"]
    assert drifted and set(drifted) == {"agreement:a@1"}
    assert told == ["a@1"] * len(drifted)


# T01 / T02 / T03 / T07 / T08 --------------------------------------------------
def _label(eid: str, y: int, v: str = "1", conf: float = 0.9) -> LabelRecord:
    post = [1 - conf, conf] if y else [conf, 1 - conf]
    return LabelRecord(eid, "c", "fraud", v, {}, post, y, conf, f"lm{v}", 0.0, 0.0, None)


def _window(n: int = 600, gold_every: int = 1) -> TrainingWindow:
    rng = np.random.default_rng(0)
    w = TrainingWindow(holdout_fraction=0.25)
    for i in range(n):
        x = float(rng.normal())
        w.add_event(f"e{i}", {"x": x})
        w.add_label(_label(f"e{i}", int(x > 0), v="1" if i < n // 2 else "2"))
        if i % gold_every == 0:
            w.add_gold(FeedbackRecord(f"e{i}", int(x > 0), "cb", 0.0))
    return w


def _featurizer() -> PayloadFeaturizer:
    return PayloadFeaturizer(numeric_fields=["x"], n_features=1)


def test_exactly_min_gold_gold_labels_score_on_gold(tmp_path: Any) -> None:
    w = _window()
    n_gold = sum(ex.gold is not None for ex in w.split()[1])
    t = Trainer(w, ModelRegistry(tmp_path), _featurizer(), min_gold=n_gold)
    assert t.train().truth == "gold"


def test_gold_trains_with_weight_one_or_one_hot(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    real = EndModel.fit

    def spy(self: Any, payloads: Any, y: Any, **kw: Any) -> Any:
        seen.append((np.asarray(y), kw.get("sample_weight")))
        return real(self, payloads, y, **kw)

    monkeypatch.setattr(EndModel, "fit", spy)
    w = _window(gold_every=2)
    train = w.split()[0]
    golds = np.array([ex.gold is not None for ex in train])
    Trainer(w, ModelRegistry(tmp_path / "a"), _featurizer()).train()
    _y, sw = seen[-1]
    assert np.all(sw[golds] == 1.0) and np.all(sw[~golds] == 0.9)
    Trainer(w, ModelRegistry(tmp_path / "b"), _featurizer(), soft_labels=True).train()
    soft, _ = seen[-1]
    assert np.all(soft[golds].max(axis=1) == 1.0) and np.all(soft[~golds].max(axis=1) == 0.9)


def test_a_label_outside_the_classes_is_ignored() -> None:
    w = TrainingWindow()
    w.add_event("e", {"x": 1.0})
    bad = LabelRecord("e", "c", "fraud", "1", {}, [0.5, 0.5], 2, 0.5, "lm", 0.0, 0.0, None)
    assert w.add_label(bad) is False and w.ignored_ == 1 and len(w) == 0


def test_lineage_names_the_newest_training_label(tmp_path: Any) -> None:
    t = Trainer(_window(), ModelRegistry(tmp_path), _featurizer())
    res = t.train()
    assert res.version.lineage.lfset_version == "2"
    assert res.version.lineage.labelmodel_version == "lm2"


# L32 ------------------------------------------------------------------------
def test_review_records_carry_the_label_records_version_votes_and_posterior() -> None:
    lab = make(review=ReviewPolicy(min_confidence=1.0, max_per_1000=1000))
    lab.process_many([(r, None) for r in POOL[:50]])  # fill the bucket
    out = lab.process_many([(r, None) for r in POOL[50:100]])
    assert out.review
    by_id = {r.event_id: r for r in out.labels}
    for item in out.review:
        rec = by_id[item.event_id]
        assert item.lfset_version == rec.lfset_version == "1"
        assert (item.posterior, item.votes, item.entity) == (rec.posterior, rec.votes, rec.entity)


# L36 ------------------------------------------------------------------------
@labeling_function()
def numbered(event: Any) -> int:
    raise RuntimeError(f"call {event['i']}")


def test_the_quarantine_reason_names_the_last_fault() -> None:
    lab = Labeler(LFSet("s", "1", [numbered], cardinality=2), OnlineLabelModel(cardinality=2))
    lab.process_many(
        [({"id": f"e{i}", "ts": 0, "entity": "c", "payload": {"i": i}}, None) for i in range(200)]
    )
    assert lab.quarantined_["numbered@1"].reason.endswith("last fault: RuntimeError: call 199")


def test_the_shadow_scores_gold_the_labelers_cache_has_evicted() -> None:
    # feedback_cache 0: the labeler matches no gold, the shadow still scores each once.
    lab = make(feedback_cache=0)
    spec = tx_lfset(1).to_spec().model_dump()
    spec["version"] = "1b"
    shadow = lab.set_candidate(load_lfset(spec))
    out = lab.process_many([(r, None) for r in POOL[:20]])
    ids = [r.event_id for r in out.labels]
    matched = [lab.learn_feedback(FeedbackRecord(i, 1, "cb", 0.0)) for i in ids[:10]]
    again = lab.learn_feedback(FeedbackRecord(ids[0], 0, "cb", 0.0))  # a second verdict
    assert not any(matched) and not again and lab.feedback_unmatched_ == 11
    assert shadow.gold_n_ == 10
