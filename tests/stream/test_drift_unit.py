"""The labeler handler's DriftWatch: drift events and retraining requests as `drift` records."""

from __future__ import annotations

import json
from typing import Any

from streamlabel.datasets import fraud_lfsets, make_fraud_stream
from streamlabel.drift import DriftEvent, RetrainRequest
from streamlabel.pipeline import parse_drift_record
from streamlabel.stream import LabelerHandler, Output, RawEvent, StreamSettings

N = 12_000


def raw_events(n: int) -> list[RawEvent]:
    s = make_fraud_stream(n, seed=0)
    return [
        RawEvent(e["entity"].encode(), json.dumps(e).encode(), "events", 0, i)
        for i, e in enumerate(s.events)
    ]


def run(handler: LabelerHandler, raws: list[RawEvent]) -> list[Output]:
    out: list[Output] = []
    for lo in range(0, len(raws), 500):
        out.extend(handler(raws[lo : lo + 500]))
    return out


def handler(version: int = 1, **kw: Any) -> LabelerHandler:
    settings = StreamSettings(
        drift_min_samples=500, worker_id="w1", review_max_per_1000=0, snapshot_every=0, **kw
    )
    return LabelerHandler.from_settings(settings, fraud_lfsets()[version - 1])


def test_drift_events_and_requests_become_drift_records() -> None:
    h = handler(4, drift_cooldown=100_000)
    drift = [o for o in run(h, raw_events(N)) if o.topic == "drift"]
    events = [o for o in drift if o.value["kind"] == "drift"]
    requests = [o for o in drift if o.value["kind"] == "retrain_request"]
    # The stream's new pattern moves the coverage of the v4 set's emulator and wallet LFs.
    assert events and len(requests) == 1
    assert (h.drift_events_, h.retrain_requests_) == (len(events), 1)
    for o in events:
        parsed = parse_drift_record(json.dumps(o.value).encode())
        assert isinstance(parsed, DriftEvent)
        assert o.key == parsed.monitor.encode()
        assert o.value["group"] == "streamlabel-labeler" and o.value["worker"] == "w1"
        assert o.value["lfset"] == "fraud-stream" and o.value["lfset_version"] == "4"
    req = parse_drift_record(requests[0].value)
    assert isinstance(req, RetrainRequest) and len(req.monitors) >= 2
    assert requests[0].key == ",".join(req.monitors).encode()
    assert req.reason.startswith("drift on ")
    assert h.watch is not None and h.watch.events_ == []  # published, not kept


def test_wrong_late_gold_makes_a_gold_error_request() -> None:
    h = handler()
    raws = raw_events(4000)
    labels = {o.value["event_id"]: o.value["label"] for o in run(h, raws) if o.topic == "labels"}
    assert h.retrain_requests_ == 0
    out: list[Output] = []
    for i, (eid, label) in enumerate(labels.items()):
        truth = label if i < 2000 else 1 - label  # the served labels go wrong
        value = {"event_id": eid, "label": truth, "source": "chargeback", "at": 1.0}
        out += h.on_feedback([RawEvent(eid.encode(), json.dumps(value).encode(), "fb", 0, i)])
    requests = [o for o in out if o.value.get("kind") == "retrain_request"]
    assert len(requests) == 1 and requests[0].key == b"gold_error"
    assert requests[0].value["request"]["reason"].startswith("drift on critical monitor gold_error")


def test_an_lf_set_swap_moves_the_monitors_and_drift_can_be_turned_off() -> None:
    h = handler()
    assert h.watch is not None
    v2 = fraud_lfsets()[1]
    spec = json.dumps(v2.to_spec().model_dump(mode="json")).encode()
    h.offer_lfset(RawEvent(v2.name.encode(), spec, "lfsets", 0, 0))
    run(h, raw_events(500))
    assert set(h.watch.lf_ids_) == set(v2.ids)
    assert f"coverage:{v2.ids[0]}" in h.watch.monitors.states()
    off = handler(drift_enabled=False)
    assert off.watch is None
    assert not [o for o in run(off, raw_events(N)) if o.topic == "drift"]
