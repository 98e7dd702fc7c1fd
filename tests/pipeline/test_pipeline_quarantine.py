"""LF quarantine: an LF that keeps failing is no longer called, abstains, is reported."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pipeline_helpers import tx_events, tx_lfset

from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import ABSTAIN, LFSet, labeling_function
from streamlabel.metrics import Metrics
from streamlabel.pipeline import Labeler, Quarantine

POOL = tx_events(1000, seed=7)
NOW = 99.0


def fails(event: Any, every: int) -> bool:
    """Whether ``flaky(every)`` raises on this event: one in ``every``, by its amount."""
    return int(event["amount"] * 100) % every == 0


def flaky(fail_every: int, *, version: str = "1", calls: list[int] | None = None) -> Any:
    """A code LF that raises on about one event in ``fail_every`` (1: always); counts calls.

    (The applier calls an LF again on the events of a chunk where it raised, so calls
    are not events.)
    """
    seen = calls if calls is not None else []

    @labeling_function(name="flaky", version=version)
    def lf(event: Any) -> int:
        seen.append(1)
        if fails(event, fail_every):
            raise ZeroDivisionError("boom")
        return 1 if event["amount"] > 100 else ABSTAIN

    return lf


def labeler_with(lf: Any, version: str = "1", **kwargs: Any) -> Labeler:
    lfset = LFSet("tx", version, [lf, *tx_lfset(1).lfs], cardinality=2)
    return Labeler(lfset, OnlineLabelModel(cardinality=2), clock=lambda: NOW, **kwargs)


def run(labeler: Labeler, lo: int, hi: int, step: int = 100) -> list[Any]:
    labels = []
    for start in range(lo, hi, step):
        out = labeler.process_many([(r, None) for r in POOL[start : min(hi, start + step)]])
        labels.extend(out.labels)
    return labels


def test_an_lf_that_keeps_failing_is_quarantined_not_called_and_abstains() -> None:
    calls: list[int] = []
    labeler = labeler_with(flaky(1, calls=calls))
    run(labeler, 0, 100)  # 100 calls, all raised: too little evidence yet
    assert labeler.quarantined_ == {}
    run(labeler, 100, 200)
    q = labeler.quarantined_["flaky@1"]
    assert isinstance(q, Quarantine)
    assert (q.lf_id, q.faults, q.calls, q.at, q.batch) == ("flaky@1", 200, 200, NOW, 2)
    assert "200 of its last 200 calls raised" in q.reason
    assert "ZeroDivisionError: boom" in q.reason
    assert q.to_dict()["reason"] == q.reason
    assert labeler.quarantines_ == 1
    assert labeler.lf_faults_["flaky@1"] == 200
    n_calls = len(calls)
    labels = run(labeler, 200, 600)
    assert len(calls) == n_calls  # never called again
    assert labeler.lf_faults_["flaky@1"] == 200
    assert len(labels) == 400  # the stream goes on, every event labeled
    assert all("flaky@1" not in r.votes for r in labels)
    # The other LFs vote as before: same votes as a labeler without the flaky LF.
    plain = Labeler(tx_lfset(1), OnlineLabelModel(cardinality=2), clock=lambda: NOW)
    reference = run(plain, 200, 600)
    assert [r.votes for r in labels] == [r.votes for r in reference]
    assert labeler.model.lf_ids_[0] == "flaky@1"  # its column stays


def test_below_the_threshold_it_keeps_voting() -> None:
    labeler = labeler_with(flaky(3))  # about a third of the events make it raise
    labels = run(labeler, 0, 1000)
    assert labeler.quarantined_ == {}
    expected = sum(fails(json.loads(r)["payload"], 3) for r in POOL[:1000])
    assert 250 < expected < 420
    assert labeler.lf_faults_["flaky@1"] == expected
    assert any("flaky@1" in r.votes for r in labels[-100:])


def test_the_window_forgets_old_faults() -> None:
    state = {"broken": True}

    @labeling_function(name="flaky")
    def lf(event: Any) -> int:
        if state["broken"]:
            raise RuntimeError("down")
        return ABSTAIN

    labeler = labeler_with(lf, quarantine_window=300)
    run(labeler, 0, 100)  # 100 faults of 100 calls: below the window, not judged
    state["broken"] = False
    run(labeler, 100, 300)  # 100 of 300 calls raised: 33 %
    state["broken"] = True
    run(labeler, 300, 400)  # the first batch slid out: 100 of 300 again
    assert labeler.quarantined_ == {}
    run(labeler, 400, 500)  # 200 of the last 300
    assert labeler.quarantined_["flaky@1"].faults == 200


def test_events_the_lf_cannot_read_are_not_faults() -> None:
    @labeling_function(name="needs_field", fields=["missing"])
    def lf(event: Any) -> int:
        return 1 if event["missing"] else ABSTAIN

    labeler = labeler_with(lf)
    run(labeler, 0, 500)
    assert labeler.quarantined_ == {}
    assert labeler.lf_invalid_["needs_field@1"] == 500


def test_a_new_version_of_the_lf_comes_back_an_unchanged_one_stays() -> None:
    labeler = labeler_with(flaky(1))
    run(labeler, 0, 200)
    assert set(labeler.quarantined_) == {"flaky@1"}
    # A new set version that keeps flaky@1 (another LF changed): still quarantined.
    extra = labeling_function(name="extra")(lambda e: ABSTAIN)
    same = LFSet("tx", "2", [flaky(1), *tx_lfset(1).lfs, extra], cardinality=2)
    labeler.set_lfset(same)
    assert set(labeler.quarantined_) == {"flaky@1"}
    labels = run(labeler, 200, 300)
    assert all("flaky@1" not in r.votes for r in labels)
    # Version 2 of the LF, fixed: called again.
    calls: list[int] = []
    fixed = LFSet("tx", "3", [flaky(10**9, version="2", calls=calls), *tx_lfset(1).lfs], 2)
    labeler.set_lfset(fixed)
    assert labeler.quarantined_ == {}
    labels = run(labeler, 300, 500)
    assert len(calls) == 200
    assert any(r.votes.get("flaky@2") == 1 for r in labels)


def test_release_calls_it_again_with_a_fresh_window() -> None:
    calls: list[int] = []
    labeler = labeler_with(flaky(1, calls=calls))
    run(labeler, 0, 200)
    assert labeler.release("flaky@1") is True
    assert labeler.release("flaky@1") is False
    n_calls = len(calls)
    run(labeler, 200, 300)
    assert len(calls) >= n_calls + 100 and labeler.quarantined_ == {}  # 100: not judged
    run(labeler, 300, 400)
    assert "flaky@1" in labeler.quarantined_ and labeler.quarantines_ == 2


def test_quarantine_can_be_turned_off_and_settings_are_checked() -> None:
    labeler = labeler_with(flaky(1), quarantine_threshold=None)
    run(labeler, 0, 1000)
    assert labeler.quarantined_ == {} and labeler.lf_faults_["flaky@1"] == 1000
    with pytest.raises(ValueError, match="quarantine_threshold"):
        labeler_with(flaky(1), quarantine_threshold=0.0)
    with pytest.raises(ValueError, match="quarantine_window"):
        labeler_with(flaky(1), quarantine_window=0)


def test_every_lf_quarantined_still_labels_every_event() -> None:
    broken = labeling_function(name="broken")(lambda e: 1 // 0)
    labeler = Labeler(LFSet("s", "1", [broken], cardinality=2), OnlineLabelModel(2))
    run(labeler, 0, 200)
    labels = run(labeler, 200, 400)
    assert len(labels) == 200 and all(r.votes == {} for r in labels)


def test_the_quarantine_gauge_follows_the_labeler() -> None:
    labeler = labeler_with(flaky(1))
    m = Metrics()
    run(labeler, 0, 200)
    m.sync_labeler(labeler)
    get = m.registry.get_sample_value
    assert get("streamlabel_lf_quarantined", {"lf": "flaky", "version": "1"}) == 1.0
    assert get("streamlabel_lf_quarantined", {"lf": "gambling", "version": "1"}) == 0.0
    assert get("streamlabel_lf_quarantines_total", {"lf": "flaky", "version": "1"}) == 1.0
    m.sync_labeler(labeler)  # counted once
    assert get("streamlabel_lf_quarantines_total", {"lf": "flaky", "version": "1"}) == 1.0
    labeler.release("flaky@1")
    m.sync_labeler(labeler)
    assert get("streamlabel_lf_quarantined", {"lf": "flaky", "version": "1"}) == 0.0
    run(labeler, 200, 400)  # quarantined again (same clock time): counted again
    m.sync_labeler(labeler)
    assert get("streamlabel_lf_quarantined", {"lf": "flaky", "version": "1"}) == 1.0
    assert get("streamlabel_lf_quarantines_total", {"lf": "flaky", "version": "1"}) == 2.0
