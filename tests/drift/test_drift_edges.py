"""Edges of the monitors and the trigger policy that a mutation review found untested."""

from __future__ import annotations

import numpy as np

from streamlabel.drift import DriftEvent, Monitor, TriggerPolicy, gold_error_monitor


class _Always:
    """A detector without a warning zone that detects a drift on every update."""

    drift_detected = True

    def update(self, x: float) -> None:
        pass

    def clone(self) -> _Always:
        return _Always()


class _WarnForever:
    drift_detected = False
    warning_detected = True

    def update(self, x: float) -> None:
        pass

    def clone(self) -> _WarnForever:
        return _WarnForever()


def _monitor() -> Monitor:
    return Monitor("m", "s", _Always(), min_samples=100, grace=50, chunk=4)


def test_update_many_fast_path_honours_gates_details_and_state() -> None:
    # The batch path (chunked, no warning zone) is the labeler's: it must keep
    # ``min_samples`` and ``grace``, each event's recent window, and the state.
    rng = np.random.default_rng(0)
    xs = (rng.random(1_000) < 0.3).astype(float)
    one, many = _monitor(), _monitor()
    expected = []
    for x in xs:
        one.update(x)
        if one.last_event_ is not None:
            expected.append(one.last_event_)
    assert [e.n_updates for e in expected][:3] == [100, 152, 204]
    got: list[DriftEvent] = []
    lo = 0
    for size in [100, 3, 49, 1, 60, 200, 4, 300, 283]:
        got += many.update_many(xs[lo : lo + size])
        lo += size
        ref = _monitor()
        for x in xs[:lo]:
            ref.update(x)
        assert many.state == ref.state
    assert lo == len(xs)
    key = [(e.n_updates, e.details["n_recent"], e.details["n_before"]) for e in expected]
    assert [(e.n_updates, e.details["n_recent"], e.details["n_before"]) for e in got] == key


def test_a_warning_zone_that_lasts_is_one_event() -> None:
    m = Monitor("m", "s", _WarnForever(), min_samples=10, grace=100)
    states = [m.update(0.0) for _ in range(800)]
    assert set(states[9:]) == {"warning"}
    assert m.n_warnings_ == 1 and m.last_warning_ == 10


def test_the_policy_window_is_the_last_window_events_exactly() -> None:
    p = TriggerPolicy(min_monitors=2, cooldown=0, window=100)

    def drift(name: str, i: int) -> DriftEvent:
        return DriftEvent(name, "s", "drift", i, i)

    assert p.offer(drift("a", 0)) is None
    assert p.offer(drift("b", 100)) is None  # a is 100 events back: outside the last 100
    assert p.offer(drift("c", 199)) is not None  # b is 99 back: inside


def test_gold_error_ddm_settings_are_the_documented_ones() -> None:
    d = gold_error_monitor().detector
    assert (d.warm_start, d.warning_threshold, d.drift_threshold) == (1000, 4.0, 5.0)
