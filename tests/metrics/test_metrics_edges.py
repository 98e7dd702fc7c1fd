"""Edges of the metrics bundle that a mutation review found untested."""

from __future__ import annotations

from types import SimpleNamespace as R

from streamlabel.drift import DriftEvent
from streamlabel.metrics import Metrics


def test_abstains_are_events_minus_votes_per_lf() -> None:
    m = Metrics()
    recs = [R(votes={"kw@1": 1}, confidence=0.9)] * 3 + [R(votes={}, confidence=0.5)] * 2
    m.observe_labels(recs, ["kw@1", "th@2"])
    get = m.registry.get_sample_value
    assert get("streamlabel_lf_abstains_total", {"lf": "kw", "version": "1"}) == 2
    assert get("streamlabel_lf_abstains_total", {"lf": "th", "version": "2"}) == 5


def test_vote_labels_use_the_class_names() -> None:
    m = Metrics(label_names=["legit", "fraud"])
    m.observe_labels([R(votes={"kw@1": 1}, confidence=0.9)], ["kw@1"])
    key = {"lf": "kw", "version": "1", "label": "fraud"}
    assert m.registry.get_sample_value("streamlabel_lf_votes_total", key) == 1


def test_a_restarted_labeler_counter_adds_its_new_count() -> None:
    m = Metrics()
    lab = R(
        events_in_=100,
        labels_out_=0,
        dlq_by_reason_={},
        review_by_reason_={},
        feedback_applied_=0,
        feedback_unmatched_=0,
        feedback_duplicate_=0,
        lf_faults_={},
        lf_invalid_={},
    )
    m.sync_labeler(lab)
    lab.events_in_ = 30  # the process restarted: its counter began again at 0
    m.sync_labeler(lab)
    assert m.registry.get_sample_value("streamlabel_events_processed_total") == 130


def test_retired_lfs_lose_their_gauges_and_coverage() -> None:
    m = Metrics(coverage_window=100)
    get = m.registry.get_sample_value
    a = {"lf": "a", "version": "1"}
    m.observe_labels([R(votes={"a@1": 1}, confidence=1.0)] * 100, ["a@1", "b@1"])
    m.set_lf_accuracies({"a@1": 0.9})
    m.observe_labels([R(votes={}, confidence=1.0)] * 100, ["b@1"])  # a retired
    assert get("streamlabel_lf_coverage", a) is None
    assert get("streamlabel_lf_estimated_accuracy", a) is None
    m.observe_labels([R(votes={}, confidence=1.0)] * 200, ["a@1", "b@1"])  # a is back, silent
    assert get("streamlabel_lf_coverage", a) == 0.0


def test_drift_detections_are_labelled_by_monitor_and_kind() -> None:
    m = Metrics()
    m.observe_drift(
        [
            DriftEvent("coverage:kw@1", "coverage", "drift", 5200, 5200),
            DriftEvent("gold_error", "gold_error", "warning", 9000, 1200),
        ]
    )
    get = m.registry.get_sample_value
    name = "streamlabel_drift_detections_total"
    assert get(name, {"monitor": "coverage:kw@1", "kind": "drift"}) == 1
    assert get(name, {"monitor": "gold_error", "kind": "warning"}) == 1


def test_consumer_lag_is_clamped_and_dropped_on_revocation() -> None:
    m = Metrics()
    get = m.registry.get_sample_value
    key = {"topic": "events", "partition": "3"}
    m.set_consumer_lag("events", 3, -5)  # a position past a stale high watermark
    assert get("streamlabel_consumer_lag", key) == 0.0
    m.drop_consumer_lag("events", 3)
    assert get("streamlabel_consumer_lag", key) is None
    m.drop_consumer_lag("events", 3)  # twice is fine
