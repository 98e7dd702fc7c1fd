"""TriggerPolicy: minimum evidence, cooldown, reasons; and end to end with monitors."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from streamlabel.drift import (
    DriftEvent,
    DriftKind,
    MonitorSet,
    RetrainRequest,
    TriggerPolicy,
    coverage_monitor,
    disagreement_monitor,
    gold_error_monitor,
)


def drift(monitor: str, index: int, kind: DriftKind = "drift") -> DriftEvent:
    return DriftEvent(monitor, monitor.split(":")[0], kind, index, index, float(index))


def test_cooldown_blocks_a_second_request_until_it_has_passed() -> None:
    policy = TriggerPolicy(min_monitors=1, cooldown=1_000)
    first = policy.offer(drift("coverage:kw@1", 5_000))
    assert first is not None and first.index == 5_000 and first.timestamp == 5_000.0
    assert policy.in_cooldown(5_999) and not policy.in_cooldown(6_000)
    assert policy.offer(drift("disagreement", 5_999)) is None  # within the cooldown
    assert policy.offer(drift("coverage:kw@1", 5_500)) is None
    assert policy.n_suppressed_ == 2
    second = policy.offer(drift("score", 6_000))  # the cooldown is over
    assert second is not None and second.monitors == ("score",)
    assert policy.requests_ == [first, second] and policy.last_request_ is second


def test_minimum_evidence_needs_distinct_monitors_within_the_window() -> None:
    policy = TriggerPolicy(min_monitors=3, cooldown=0, window=2_000)
    assert policy.offer(drift("coverage:kw@1", 100)) is None
    assert policy.offer(drift("coverage:kw@1", 900)) is None  # same monitor: still one
    assert policy.offer(drift("score", 1_000)) is None  # two
    assert policy.offer(drift("feature:amount", 2_950)) is None  # kw@1 at 900 aged out
    request = policy.offer(drift("disagreement", 2_990))
    assert request is not None
    assert request.monitors == ("disagreement", "feature:amount", "score")
    assert request.reason == (
        "drift on 3 monitors within 2000 events: disagreement, feature:amount, score"
    )
    assert [e.monitor for e in request.events] == list(request.monitors)
    # The request used up the evidence: two more monitors are not three.
    assert policy.offer(drift("coverage:kw@1", 3_000)) is None
    assert policy.offer(drift("score", 3_001)) is None


def test_a_critical_monitor_is_evidence_enough_and_the_reason_names_all() -> None:
    policy = TriggerPolicy(min_monitors=5, critical=["gold_error"], cooldown=100)
    assert policy.offer(drift("coverage:kw@1", 10)) is None
    request = policy.offer(drift("gold_error", 20))
    assert request is not None
    assert request.monitors == ("coverage:kw@1", "gold_error")
    assert request.reason == (
        "drift on critical monitor gold_error (also within 10000 events: coverage:kw@1)"
    )
    assert policy.offer(drift("gold_error", 119)) is None  # cooldown applies to it too


def test_warnings_are_not_evidence() -> None:
    policy = TriggerPolicy(min_monitors=1, critical=["gold_error"])
    assert policy.offer(drift("gold_error", 10, kind="warning")) is None
    assert policy.requests_ == [] and policy.n_suppressed_ == 0


def test_single_monitor_reason() -> None:
    policy = TriggerPolicy(min_monitors=1)
    request = policy.offer(drift("score", 1))
    assert request is not None and request.reason == "drift on score"


def test_retrain_request_round_trips_through_json() -> None:
    policy = TriggerPolicy(min_monitors=2, cooldown=0)
    policy.offer(drift("a", 1))
    request = policy.offer(drift("b", 2))
    assert request is not None
    assert RetrainRequest.from_dict(json.loads(json.dumps(request.to_dict()))) == request


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_monitors": 0}, ValueError, "min_monitors"),
        ({"cooldown": -1}, ValueError, "cooldown"),
        ({"window": True}, ValueError, "window"),
        ({"critical": "gold_error"}, TypeError, "critical"),
    ],
)
def test_invalid_settings_are_refused(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    policy = TriggerPolicy(**kwargs)  # __init__ only stores
    with pytest.raises(error, match=match):
        policy.offer(drift("a", 1))


def run_stream(seed: int) -> tuple[list[DriftEvent], list[RetrainRequest]]:
    """Coverage and disagreement shift at event 6,000, gold error never does."""
    rng = np.random.default_rng(seed)
    n, change = 12_000, 6_000
    after = np.arange(n) >= change
    fired = rng.random(n) < np.where(after, 0.05, 0.3)
    disagree = rng.random(n) < np.where(after, 0.3, 0.05)
    wrong = rng.random(n) < 0.05
    monitors = MonitorSet([coverage_monitor("kw@1"), disagreement_monitor(), gold_error_monitor()])
    policy = TriggerPolicy(min_monitors=2, critical=["gold_error"], cooldown=5_000)
    requests = []
    for i in range(0, n, 500):  # batches of 500 events, one clock: the event count
        batch = slice(i, i + 500)
        monitors.update_many("coverage:kw@1", fired[batch].tolist(), index=i)
        monitors.update_many("disagreement", disagree[batch].tolist(), index=i)
        monitors.update_many("gold_error", wrong[batch].tolist(), index=i)
        for event in monitors.drain():
            request = policy.offer(event)
            if request is not None:
                requests.append(request)
    return list(policy.requests_[0].events) if policy.requests_ else [], requests


def test_monitors_and_policy_end_to_end_are_deterministic() -> None:
    events, requests = run_stream(seed=3)
    assert len(requests) == 1
    (request,) = requests
    assert request.monitors == ("coverage:kw@1", "disagreement")
    assert 6_000 <= request.index < 8_000
    assert all(6_000 <= e.index <= request.index for e in events)
    assert request.index == max(e.index for e in events)
    assert run_stream(seed=3) == (events, requests)  # same seed, same decisions


def test_events_out_of_stream_order_stamp_the_request_at_the_newest() -> None:
    policy = TriggerPolicy(min_monitors=2, cooldown=1_000)
    assert policy.offer(drift("coverage:kw@1", 6_200)) is None
    request = policy.offer(drift("disagreement", 6_119))  # same batch, earlier event
    assert request is not None and request.index == 6_200 and request.timestamp == 6_200.0
    assert policy.offer(drift("score", 6_150)) is None and policy.n_suppressed_ == 1
