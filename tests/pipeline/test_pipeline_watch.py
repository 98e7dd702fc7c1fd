"""DriftWatch on the drifting fraud stream: quiet in the baseline, alarms after drifts."""

from __future__ import annotations

from typing import Any

import pytest

from streamlabel.datasets import fraud_lfsets, make_fraud_stream
from streamlabel.drift import TriggerPolicy
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.pipeline import DriftWatch, Labeler, LabelRecord


def _run(n: int = 30_000, gold_every: int = 5) -> tuple[Any, DriftWatch, list[Any]]:
    stream = make_fraud_stream(n, seed=0)
    lfset = fraud_lfsets()[0]
    labeler = Labeler(lfset, OnlineLabelModel(cardinality=2), clock=lambda: 0.0)
    watch = DriftWatch(lfset.ids)
    requests = []
    done = 0
    for start in range(0, n, 500):
        out = labeler.process_many([(e, None) for e in stream.events[start : start + 500]])
        requests += watch.observe(out.labels)
        for rec in out.labels:  # late gold for one event in `gold_every`
            if done % gold_every == 0:
                requests += watch.observe_gold(rec.label, int(stream.y[done]))
            done += 1
    return stream, watch, requests


@pytest.fixture(scope="module")
def fraud_run() -> tuple[Any, DriftWatch, list[Any]]:
    return _run()


def test_quiet_in_the_baseline_and_retrains_after_the_tactic_change(
    fraud_run: tuple[Any, DriftWatch, list[Any]],
) -> None:
    stream, watch, requests = fraud_run
    tactic = stream.phase("tactic_change")
    drifts = [e for e in watch.events_ if e.kind == "drift"]
    assert drifts and all(e.index >= tactic.start for e in drifts), drifts[:3]
    # Labels against late gold get worse once the fraudsters move: gold error alone is
    # evidence enough for the default policy.
    first = requests[0]
    assert "gold_error" in first.monitors and "critical monitor gold_error" in first.reason
    assert tactic.start <= first.index < tactic.start + 4_000
    assert watch.n_events_ == len(stream.events)


def test_coverage_monitors_see_the_later_shifts(
    fraud_run: tuple[Any, DriftWatch, list[Any]],
) -> None:
    stream, watch, _ = fraud_run
    shift = stream.phase("amount_shift")
    coverage = [e for e in watch.events_ if e.kind == "drift" and e.signal == "coverage"]
    assert any(e.index >= shift.start for e in coverage), coverage


def _record(votes: dict[str, int], label: int) -> LabelRecord:
    post = [0.2, 0.8] if label else [0.8, 0.2]
    return LabelRecord("e", "c", "s", "1", votes, post, label, 0.8, "1.1", 0.0, 1e-5, None)


def test_serving_model_disagreement_and_hot_reload() -> None:
    policy = TriggerPolicy(min_monitors=1, cooldown=1_000_000)
    watch = DriftWatch(["a@1", "b@1"], policy=policy, min_samples=200, grace=200)
    recs = [_record({"a@1": 1}, 1) if i % 2 else _record({"b@1": 0}, 0) for i in range(3_000)]
    served = [r.label for r in recs[:1_500]] + [1 - r.label for r in recs[1_500:]]
    requests = watch.observe(recs, served=served)
    assert [r.monitors for r in requests] == [("disagreement",)]
    assert 1_500 <= requests[0].index < 1_700

    # A hot reload keeps the monitors of LFs that stay and drops the others.
    kept = watch.monitors["coverage:a@1"]
    watch.set_lfs(["a@1", "c@1"])
    assert watch.monitors["coverage:a@1"] is kept
    assert "coverage:b@1" not in watch.monitors and "agreement:c@1" in watch.monitors
    with pytest.raises(ValueError, match="served labels"):
        watch.observe(recs[:3], served=[1])
    with pytest.raises(ValueError, match="scores"):
        watch.observe(recs[:3], scores=[0.5])
