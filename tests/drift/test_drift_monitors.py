"""Monitors: they fire on seeded shifts, stay quiet on long stationary streams, and gate."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from streamlabel.drift import (
    DriftEvent,
    Monitor,
    MonitorSet,
    accuracy_monitor,
    coverage_monitor,
    disagreement_monitor,
    feature_monitor,
    gold_error_monitor,
    score_monitor,
)

SHIFT = 5_000  # the change happens after this many updates
MAX_DELAY = 2_000  # asserted bound on the detection delay
N_STATIONARY = 100_000

Stream = Callable[[np.random.Generator, int], np.ndarray]


def rate(p: float) -> Stream:
    return lambda rng, n: (rng.random(n) < p).astype(np.int64)


def normal(mean: float, sd: float, lo: float = -math.inf, hi: float = math.inf) -> Stream:
    return lambda rng, n: np.clip(rng.normal(mean, sd, n), lo, hi)


def beta(a: float, b: float) -> Stream:
    return lambda rng, n: rng.beta(a, b, n)


# name -> (factory, stream before the change, stream after it)
CASES: dict[str, tuple[Callable[[], Monitor], Stream, Stream]] = {
    "coverage": (lambda: coverage_monitor("kw@1"), rate(0.3), rate(0.05)),
    "accuracy": (
        lambda: accuracy_monitor("kw@1"),
        normal(0.9, 0.05, 0.0, 1.0),
        normal(0.55, 0.05, 0.0, 1.0),
    ),
    "disagreement": (disagreement_monitor, rate(0.05), rate(0.3)),
    # Scores of a model that turns uncertain: mean 0.29 -> 0.5, KS distance 0.45.
    "score": (score_monitor, beta(2, 5), beta(3, 3)),
    # A feature on its own scale: mean 100 -> 107.5 with sd 15 (half a standard deviation).
    "feature": (
        lambda: feature_monitor("amount", scale=15.0),
        normal(100.0, 15.0),
        normal(107.5, 15.0),
    ),
    "gold_error": (gold_error_monitor, rate(0.05), rate(0.3)),
}
SEEDS = {name: 100 + i for i, name in enumerate(CASES)}


def drift_positions(monitor: Monitor, xs: np.ndarray) -> list[int]:
    return [i for i, x in enumerate(xs.tolist()) if monitor.update(x) == "drift"]


@pytest.mark.parametrize("name", list(CASES))
def test_every_monitor_fires_on_a_seeded_shift(name: str) -> None:
    make, before, after = CASES[name]
    rng = np.random.default_rng(SEEDS[name])
    xs = np.concatenate([before(rng, SHIFT), after(rng, MAX_DELAY + 1_000)])
    monitor = make()
    events = []
    for i, x in enumerate(xs.tolist()):
        monitor.update(x, index=i)
        if monitor.last_event_ is not None and monitor.last_event_.kind == "drift":
            events.append(monitor.last_event_)
    assert events, f"{name}: no drift after the shift"
    first = events[0]
    assert first.index >= SHIFT, f"{name}: false alarm at {first.index} before the shift"
    assert first.index - SHIFT < MAX_DELAY, f"{name}: delay {first.index - SHIFT}"
    assert (first.monitor, first.signal) == (monitor.name, monitor.signal)
    assert monitor.n_drifts_ == len(events)


@pytest.mark.parametrize("name", list(CASES))
def test_every_monitor_is_quiet_on_100k_stationary_events(name: str) -> None:
    """No drift on 100,000 stationary values (every value fed; the score monitor's
    detector sees one in 10 by its own ``stride``, as in production)."""
    make, before, _ = CASES[name]
    rng = np.random.default_rng(SEEDS[name] + 1_000)
    monitor = make()
    hits = drift_positions(monitor, before(rng, N_STATIONARY))
    assert hits == []
    assert monitor.n_ == N_STATIONARY and monitor.n_drifts_ == 0


def test_drift_event_details_describe_the_change() -> None:
    make, before, after = CASES["coverage"]
    rng = np.random.default_rng(7)
    monitor = make()
    xs = np.concatenate([before(rng, SHIFT), after(rng, MAX_DELAY)])
    events = []
    for i, x in enumerate(xs.tolist()):
        monitor.update(x, index=10_000 + i, timestamp=1.7e9 + i)
        if monitor.last_event_ is not None:
            events.append(monitor.last_event_)
    (event,) = events
    assert (event.monitor, event.signal, event.kind) == ("coverage:kw@1", "coverage", "drift")
    assert event.index == 10_000 + event.n_updates - 1
    assert event.timestamp == 1.7e9 + event.n_updates - 1
    assert event.details["mean_before"] == pytest.approx(0.3, abs=0.03)
    mean_recent = event.details["mean_recent"]
    assert mean_recent is not None and mean_recent < 0.2
    assert event.details["n_recent"] == 200
    assert event.details["n_before"] == event.n_updates - 200


# -- evidence gates, with stub detectors whose behaviour is known exactly ------------------


class Stub:
    """A detector that drifts (or warns) on the updates chosen by ``rule(count)``."""

    def __init__(self, drift: Callable[[int], bool], warn: Callable[[int], bool] | None = None):
        self.drift = drift
        self.warn = warn
        self.count = 0
        self.drift_detected = False
        self.warning_detected = False

    def update(self, x: Any) -> None:
        self.count += 1
        self.drift_detected = self.drift(self.count)
        self.warning_detected = self.warn is not None and self.warn(self.count)

    def clone(self) -> Stub:
        return Stub(self.drift, self.warn)


def test_min_samples_and_grace_are_respected_exactly() -> None:
    m = Monitor("m", "s", Stub(lambda n: True), min_samples=100, grace=50)
    states = [m.update(0.0) for _ in range(400)]
    reported = [i + 1 for i, s in enumerate(states) if s == "drift"]  # update counts
    # First at update 100; then silent for 50 updates after each report.
    assert reported == [100, 151, 202, 253, 304, 355]
    assert m.n_drifts_ == len(reported) and m.last_drift_ == 355
    assert set(states[:99]) == {"ok"}


def test_min_samples_silences_a_real_detector_that_fires_early() -> None:
    from river.drift import ADWIN

    rng = np.random.default_rng(11)
    xs = np.concatenate([rate(0.5)(rng, 300), rate(0.02)(rng, 2_000)])
    bare = ADWIN(delta=1e-5)
    bare_hits = [i for i, x in enumerate(xs.tolist()) if (bare.update(x), bare.drift_detected)[1]]
    assert bare_hits and bare_hits[0] < 1_000  # the detector alone fires early
    monitor = coverage_monitor("kw@1", min_samples=1_000)
    hits = drift_positions(monitor, xs)
    assert all(h >= 999 for h in hits)  # the 1,000th update is index 999


def test_warnings_are_events_on_entry_at_most_once_per_grace() -> None:
    # The detector flickers: warning on odd updates, a drift at update 500.
    stub = Stub(lambda n: n == 500, warn=lambda n: n % 2 == 1)
    m = Monitor("m", "s", stub, min_samples=10, grace=100)
    kinds = []
    for _ in range(800):
        state = m.update(1.0)
        if m.last_event_ is not None:
            kinds.append((m.last_event_.kind, m.last_event_.n_updates, state))
    assert kinds[0] == ("warning", 11, "warning")
    warnings = [n for kind, n, _ in kinds if kind == "warning"]
    assert all(b - a > 100 for a, b in itertools.pairwise(warnings))
    assert ("drift", 500, "drift") in kinds
    assert all(not 500 < n <= 600 for n in warnings)  # grace after the drift
    assert m.n_warnings_ == len(warnings)


def test_stride_feeds_the_detector_one_update_in_stride() -> None:
    stub = Stub(lambda n: n == 30)
    m = Monitor("m", "s", stub, min_samples=0, grace=0, stride=10)
    states = [m.update(float(i)) for i in range(1, 401)]
    assert m.detector_.count == 40
    assert states.index("drift") == 299  # the detector's 30th update is the 300th
    assert m.n_ == 400


def test_the_detector_passed_is_a_setting_never_updated() -> None:
    stub = Stub(lambda n: False)
    m = Monitor("m", "s", stub)
    for _ in range(10):
        m.update(1)
    assert stub.count == 0 and m.detector_.count == 10
    m.reset()
    assert m.detector_.count == 0 and m.n_ == 0 and m.state == "ok"


def test_state_properties_mirror_river() -> None:
    m = Monitor("m", "s", Stub(lambda n: n == 3, warn=lambda n: n == 5), min_samples=0)
    assert m.state == "ok" and not m.drift_detected
    m.update(0), m.update(0)
    assert m.update(0) == "drift" and m.drift_detected and not m.warning_detected
    assert m.update(0) == "ok"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_samples": -1}, "min_samples"),
        ({"grace": 1.5}, "grace"),
        ({"stride": 0}, "stride"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_settings_are_refused_on_first_use(kwargs: dict[str, Any], match: str) -> None:
    settings: dict[str, Any] = {"name": "m", "signal": "s", "detector": Stub(lambda n: False)}
    settings.update(kwargs)
    m = Monitor(**settings)  # __init__ only stores
    with pytest.raises(ValueError, match=match):
        m.update(0.0)
    with pytest.raises(ValueError, match=match):
        m.reset()


def test_feature_monitor_scales_its_settings() -> None:
    with pytest.raises(ValueError, match="scale"):
        feature_monitor("x", scale=0.0)
    a, b = feature_monitor("x"), feature_monitor("x", scale=4.0)
    assert b.detector.delta == pytest.approx(4 * a.detector.delta)
    assert b.detector.threshold == pytest.approx(4 * a.detector.threshold)


# -- records and the set -------------------------------------------------------------------


def test_drift_event_round_trips_through_json() -> None:
    e = DriftEvent("f", "feature", "warning", 3, 2, 1.5, {"mean_before": 0.25, "n_recent": 2})
    assert DriftEvent.from_dict(json.loads(json.dumps(e.to_dict()))) == e
    odd = DriftEvent("f", "feature", "drift", 3, 2, None, {"mean_before": math.nan})
    assert odd.to_dict()["details"] == {"mean_before": None}
    with pytest.raises(ValueError, match="kind"):
        DriftEvent.from_dict({**e.to_dict(), "kind": "panic"})


def test_monitor_set_routes_by_name_and_collects_events() -> None:
    always = Monitor("a", "s", Stub(lambda n: True), min_samples=3, grace=1_000)
    never = Monitor("b", "s", Stub(lambda n: False), min_samples=0)
    ms = MonitorSet([always, never])
    assert len(ms) == 2 and "a" in ms and ms["b"] is never
    assert ms.update("a", 0, index=7) is None
    assert ms.update_many("b", [0, 1, 0], index=10) == []
    events = ms.update_many("a", [1, 1, 1], index=20)
    assert [(e.monitor, e.index, e.n_updates) for e in events] == [("a", 21, 3)]
    assert ms.states() == {"a": "ok", "b": "ok"}
    assert ms.drain() == events and ms.events_ == [] and ms.n_events_ == 1
    with pytest.raises(KeyError, match="'c'"):
        ms.update("c", 0)
    with pytest.raises(ValueError, match="already"):
        ms.add(Monitor("a", "s", Stub(lambda n: False)))
    ms.add(coverage_monitor("new@1"))
    assert ms.remove("a") is always and [m.name for m in ms] == ["b", "coverage:new@1"]


def test_importing_drift_imports_no_engine_and_no_river_until_a_monitor_is_built() -> None:
    code = (
        "import sys, streamlabel.drift as d\n"
        "lazy = 'river' not in sys.modules\n"
        "[f('x') for f in (d.coverage_monitor, d.accuracy_monitor, d.feature_monitor)]\n"
        "[f() for f in (d.disagreement_monitor, d.score_monitor, d.gold_error_monitor)]\n"
        "banned = {'faust', 'aiokafka', 'kafka', 'mode', 'fastapi', 'flask', 'starlette',\n"
        "          'aiohttp', 'django', 'tornado', 'uvicorn', 'streamlabel.stream'}\n"
        "bad = sorted(m for m in sys.modules if m in banned or m.split('.')[0] in banned)\n"
        "print(lazy, bad, 'river' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True [] True"


@pytest.mark.parametrize(
    "make",
    [
        lambda: coverage_monitor("kw@1", min_samples=300, grace=300),  # chunks of 32
        lambda: coverage_monitor("kw@1", min_samples=300, grace=300, chunk=1),
        lambda: score_monitor(min_samples=300, grace=300),  # stride 10
        lambda: gold_error_monitor(min_samples=300, grace=300),  # warning zone: per value
    ],
)
def test_update_many_is_update_value_by_value(make: Callable[[], Monitor]) -> None:
    """Same events (details included), states and counts, whatever the batch sizes."""
    rng = np.random.default_rng(11)
    # Rates that jump every 3,000 values: several drifts, some within one batch.
    xs = np.concatenate([rate(p)(rng, 3_000) for p in (0.3, 0.02, 0.5, 0.1, 0.6)])
    if make().signal == "score":
        xs = np.concatenate([beta(a, b)(rng, 4_000) for a, b in ((2, 5), (5, 2), (2, 5))])
    one, many = make(), make()
    expected = []
    for i, x in enumerate(xs.tolist()):
        one.update(x, index=7 + 2 * i, timestamp=1.0)
        if one.last_event_ is not None:
            expected.append(one.last_event_)
    got: list[DriftEvent] = []
    lo = 0
    while lo < len(xs):
        hi = min(len(xs), lo + int(rng.integers(0, 900)))
        got += many.update_many(xs[lo:hi], index=7 + 2 * np.arange(lo, hi), timestamp=1.0)
        lo = hi
    assert len(expected) >= 2
    # Details are sums of floats, added in another order: equal to rounding.
    assert [dataclasses.replace(e, details={}) for e in got] == [
        dataclasses.replace(e, details={}) for e in expected
    ]
    for g, e in zip(got, expected, strict=True):
        assert g.details == pytest.approx(e.details, rel=1e-12)
    assert (many.n_, many.n_drifts_, many.last_drift_) == (one.n_, one.n_drifts_, one.last_drift_)
    assert many.state == one.state
    assert many._details() == pytest.approx(one._details(), rel=1e-12)


def test_chunked_rate_monitor_feeds_its_detector_one_sum_per_chunk() -> None:
    m = coverage_monitor("kw@1", chunk=4)
    fed: list[float] = []
    m.reset()
    update = m.detector_.update
    m.detector_.update = lambda x: (fed.append(x), update(x))
    m.update_many([1, 0, 1, 1, 0, 0, 1])
    m.update(1)
    m.update_many([1, 1, 1])
    assert fed == [3.0, 2.0] and m.n_ == 11 and m._pending == 3.0
    with pytest.raises(ValueError, match="stride and chunk"):
        Monitor("x", "y", m.detector, stride=2, chunk=2).update(1)
