"""The labeler handler's candidate LF sets: ``lfset-candidates`` in, ``shadow-reports`` out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tx_lfsets import events, spec, v2

from streamlabel.lf import load_lfset, load_lfset_spec
from streamlabel.pipeline import SHADOW_REPORT_FORMAT, CandidateRecord
from streamlabel.stream import (
    INVALID_LFSET,
    LabelerHandler,
    Output,
    RawEvent,
    StreamSettings,
    _service,
)


def lfset_record(value: dict[str, Any], offset: int = 0) -> RawEvent:
    return RawEvent(b"tx", json.dumps(value).encode(), "p.lfsets", 0, offset)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def handler(clock: Clock, **settings: Any) -> LabelerHandler:
    h = LabelerHandler.from_settings(
        StreamSettings(shadow_report_interval=5.0, **settings), load_lfset(spec())
    )
    h.clock = clock
    return h


def candidate(
    data: dict[str, Any] | None, *, action: str = "deploy", id: str = "c1", offset: int = 0
) -> RawEvent:
    rec = CandidateRecord(
        "tx",
        action,  # type: ignore[arg-type]
        id,
        data,
        None if data is None else data["version"],
        None,
        "alice",
        "try it",
        1.0,
    )
    return RawEvent(b"tx", json.dumps(rec.to_dict()).encode(), "p.lfset-candidates", 0, offset)


def of(outputs: list[Output], topic: str) -> list[Output]:
    return [o for o in outputs if o.topic == topic]


def test_a_candidate_is_scored_from_the_next_batch_and_reported_at_a_bounded_rate() -> None:
    clock = Clock()
    h = handler(clock, worker_id="w1")
    batch = events(300)
    assert h.offer_candidate(candidate(v2())) == []
    assert h.labeler.candidate is None  # parked until the next batch
    out = h(batch[:100])
    assert {o.value["lfset_version"] for o in of(out, "labels")} == {"1"}  # nothing emitted changes
    (first,) = of(out, "shadow-reports")  # after the first batch it scored
    assert first.key == b"tx/streamlabel-labeler/w1"
    assert first.value["format"] == SHADOW_REPORT_FORMAT and first.value["candidate_id"] == "c1"
    assert (first.value["candidate_version"], first.value["active_version"]) == ("2", "1")
    assert first.value["report"]["n"] == 100
    # within the interval: no report; after it, the next batch (or gold) reports
    assert of(h(batch[100:200]), "shadow-reports") == []
    clock.now += 5.0
    later = of(h(batch[200:]), "shadow-reports")
    assert len(later) == 1 and later[0].value["report"]["n"] == 300
    json.dumps(later[0].value, allow_nan=False)
    clock.now += 5.0
    gold = {"event_id": json.loads(batch[0].value)["id"], "label": 1, "source": "cb", "at": 2}
    fb = h.on_feedback([RawEvent(None, json.dumps(gold).encode(), "p.feedback", 0, 0)])
    (rep,) = of(fb, "shadow-reports")
    assert rep.value["report"]["gold"]["n"] == 1


def test_an_invalid_candidate_is_refused_with_its_field_and_nothing_changes() -> None:
    h = handler(Clock())
    h.offer_candidate(candidate(v2()))
    h(events(10))
    shadow = h.labeler.candidate
    assert shadow is not None
    bad = v2()
    bad["version"] = "3"
    bad["lfs"][0]["label"] = 7
    (dlq,) = h.offer_candidate(candidate(bad, id="c2", offset=1))
    assert dlq.topic == "dlq" and dlq.value["reason"] == INVALID_LFSET
    assert (dlq.value["lf"], dlq.value["field"], dlq.value["candidate"]) == ("risky", "label", "3")
    # the version in effect is no candidate; neither is another set's spec
    (same,) = h.offer_candidate(candidate(spec("1"), id="c3", offset=2))
    assert same.value["field"] == "version" and "in effect" in same.value["detail"]
    assert h.offer_candidate(RawEvent(b"zz", b"{}", "p.lfset-candidates", 0, 4)) == []
    assert h.candidates_ignored_ == 1
    (broken,) = h.offer_candidate(RawEvent(b"tx", b"{nope", "p.lfset-candidates", 0, 5))
    assert "not JSON" in broken.value["detail"]
    h(events(10, start=10))
    assert h.labeler.candidate is shadow and h.candidate_record is not None
    assert h.candidates_invalid_ == 3


def test_a_discard_clears_the_candidate_and_its_reports_stop() -> None:
    h = handler(Clock())
    h.offer_candidate(candidate(v2()))
    h(events(10))
    assert h.labeler.candidate is not None
    h.offer_candidate(candidate(None, action="discard", id="c2", offset=1))
    out = h(events(10, start=10))
    assert h.labeler.candidate is None and h.candidate_record is None
    assert of(out, "shadow-reports") == []


def test_promotion_through_lfsets_takes_effect_at_the_next_batch_and_ends_the_candidate() -> None:
    h = handler(Clock())
    h.offer_candidate(candidate(v2()))
    h(events(50))
    h.offer_lfset(lfset_record(v2(), offset=1))  # the control plane publishes it as active
    out = h(events(50, start=50))
    assert {o.value["lfset_version"] for o in of(out, "labels")} == {"2"}
    assert h.labeler.candidate is None and h.candidate_record is None
    # the clean-up record arriving afterwards changes nothing
    h.offer_candidate(candidate(None, action="promote", id="c2", offset=1))
    out = h(events(10, start=100))
    assert {o.value["lfset_version"] for o in of(out, "labels")} == {"2"}


def test_another_active_version_rebases_the_candidate() -> None:
    h = handler(Clock())
    h.offer_candidate(candidate(v2()))
    h(events(50))
    v3 = load_lfset_spec({**spec("3")}).model_dump(mode="json")
    v3["lfs"] = v3["lfs"][:2]
    h.offer_lfset(lfset_record(v3, offset=1))
    out = h(events(50, start=50))
    shadow = h.labeler.candidate
    assert shadow is not None and (shadow.candidate.version, shadow.active.version) == ("2", "3")
    assert shadow.n_ == 50  # scored afresh against the new active version
    assert {o.value["lfset_version"] for o in of(out, "labels")} == {"3"}


def test_startup_deploys_the_latest_candidate_on_the_topic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = [candidate(v2(), id="c1"), candidate(None, action="discard", id="c2", offset=1)]

    def fake(settings: StreamSettings, logical: str, name: str, timeout: float) -> Any:
        assert logical == "lfset-candidates"
        return _service.LFSetLog(records[: fake.n], {0: fake.n})  # type: ignore[attr-defined]

    monkeypatch.setattr(_service, "_read_to_end", fake)
    fake.n = 1  # type: ignore[attr-defined]
    h = handler(Clock())
    assert _service._start_candidate(StreamSettings(), h, 1.0) == {0: 1}
    assert h.labeler.candidate is not None and h.candidate_record is not None
    assert len(of(h(events(5)), "shadow-reports")) == 1  # reported with the first batch
    fake.n = 2  # type: ignore[attr-defined]
    h = handler(Clock())
    assert _service._start_candidate(StreamSettings(), h, 1.0) == {0: 2}
    assert h.labeler.candidate is None


def test_the_timer_reports_the_last_gold_of_a_burst_once() -> None:
    clock = Clock()
    h = handler(clock)
    batch = events(100)
    h.offer_candidate(candidate(v2()))
    assert len(of(h(batch), "shadow-reports")) == 1
    assert h.shadow_report() == []  # nothing new
    ids = [json.loads(e.value)["id"] for e in batch[:30]]
    fb = [
        RawEvent(None, json.dumps({"event_id": i, "label": 0, "source": "cb", "at": 2}).encode(),
                 "p.feedback", 0, k)
        for k, i in enumerate(ids)
    ]  # fmt: skip
    assert of(h.on_feedback(fb), "shadow-reports") == []  # within the interval
    clock.now += 5.0
    (rep,) = h.shadow_report()  # the worker's timer
    assert rep.value["report"]["gold"]["n"] == 30
    clock.now += 5.0
    assert h.shadow_report() == []  # reported already
