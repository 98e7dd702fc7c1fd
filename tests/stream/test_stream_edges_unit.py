"""Edges of the stream services that a mutation review found untested (no broker)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from pydantic import ValidationError
from tx_lfsets import events, spec, v2

from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import load_lfset
from streamlabel.pipeline import CandidateRecord
from streamlabel.stream import (
    INVALID_LFSET,
    LabelerHandler,
    RawEvent,
    SnapshotError,
    StreamSettings,
    _service,
    parse_snapshot,
    snapshot_value,
)
from streamlabel.stream._service import Snapshot


def make_handler(**settings: Any) -> LabelerHandler:
    """Return a handler serving the v1 set built from ``settings``."""
    return LabelerHandler.from_settings(StreamSettings(**settings), load_lfset(spec()))


def valid_snapshot(h: LabelerHandler) -> dict[str, Any]:
    """Return the value of a real snapshot after one batch."""
    h(events(50))
    out = h.snapshot()
    assert out is not None
    return dict(out.value)


# ---------------------------------------------------------------- snapshots


@pytest.mark.parametrize("format_version", [1, 3])
def test_a_snapshot_of_another_format_version_is_refused_even_if_it_loads(
    format_version: int,
) -> None:
    """Guards parse_snapshot's format_version check: only version 2 records are restored.

    The existing cases with a wrong version also carry an unloadable model, so they do
    not show that the version alone is checked.
    """
    value = valid_snapshot(make_handler())
    parse_snapshot(json.dumps(value).encode())  # the same record as version 2 loads
    value["format_version"] = format_version
    with pytest.raises(SnapshotError, match="format version"):
        parse_snapshot(json.dumps(value).encode())


def test_a_snapshot_over_the_size_limit_is_skipped_not_published(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Guards the SNAPSHOT_MAX_BYTES check: an oversized snapshot is counted, not emitted.

    An oversized record would fail delivery, and a failed delivery stops the reader.
    """
    h = make_handler(snapshot_every=1)
    out = h(events(20))
    assert [o.topic for o in out].count("labelmodel-stats") == 1  # under the limit: sent
    monkeypatch.setattr(_service, "SNAPSHOT_MAX_BYTES", 1000)
    out = h(events(20, start=20))
    assert [o.topic for o in out].count("labelmodel-stats") == 0
    assert h.snapshot() is None
    assert (h.snapshots_, h.snapshots_skipped_) == (1, 2)


def test_params_of_another_cardinality_are_ignored_and_labeling_goes_on() -> None:
    """Guards take_params' cardinality check: merged params that do not fit are ignored."""
    h = make_handler()
    h(events(20))
    model3 = OnlineLabelModel(cardinality=3)
    snap = Snapshot(model3, "tx", "1", 1, "p.labelmodel-params:0:0")
    assert h.take_params(snap) is False
    assert (h.params_applied_, h.params_ignored_) == (0, 1)
    rec = RawEvent(
        b"streamlabel-labeler",
        json.dumps(snapshot_value(model3, key="g", lfset=("tx", "1"), batches=1, at=1.0)).encode(),
        "p.labelmodel-params",
        0,
        1,
    )
    assert h.offer_params(rec) == []
    assert h.params_ignored_ == 2
    out = h(events(20, start=20))
    labels = [o for o in out if o.topic == "labels"]
    assert len(labels) == 20 and all(o.value["label"] in (0, 1) for o in labels)


# ---------------------------------------------------------------- candidates


def test_a_candidate_record_naming_another_set_is_refused_with_field_lfset() -> None:
    """Guards _parse_candidate's set-name check: the record's ``lfset`` must be the key's.

    The spec inside is a valid version of the served set, so only that check refuses it.
    """
    h = make_handler()
    rec = CandidateRecord("other", "deploy", "c1", v2(), "2", None, "alice", "try", 1.0)
    raw = RawEvent(b"tx", json.dumps(rec.to_dict()).encode(), "p.lfset-candidates", 0, 3)
    (dlq,) = h.offer_candidate(raw)
    assert dlq.topic == "dlq" and dlq.value["reason"] == INVALID_LFSET
    assert dlq.value["field"] == "lfset" and "'other'" in dlq.value["detail"]
    assert h.candidates_invalid_ == 1 and h.candidates_accepted_ == 0
    h(events(10))
    assert h.labeler.candidate is None and h.candidate_record is None


# ---------------------------------------------------------------- settings


def test_retention_hours_bounds_are_inclusive() -> None:
    """Guards the retention_hours range: 1/60 and 87600 accepted, just beyond refused."""
    assert StreamSettings(retention_hours=87_600).retention_hours == 87_600
    assert math.isclose(StreamSettings(retention_hours=1 / 60).retention_hours, 1 / 60)
    for bad in (87_600.001, 1 / 60 - 1e-9):
        with pytest.raises(ValidationError):
            StreamSettings(retention_hours=bad)


@pytest.mark.parametrize("fraction", ["0", "1", "1.5"])
def test_holdout_fraction_must_be_strictly_between_0_and_1(fraction: str) -> None:
    """Guards holdout_fraction's gt=0, lt=1: no holdout or no training data is refused."""
    with pytest.raises(ValidationError):
        StreamSettings.from_env(environ={"STREAMLABEL_HOLDOUT_FRACTION": fraction})


def candidate_record(data: dict[str, Any], *, id: str = "c1", offset: int = 0) -> RawEvent:
    """Return a deploy record for ``tx`` on lfset-candidates."""
    rec = CandidateRecord("tx", "deploy", id, data, data["version"], None, "alice", "try", 1.0)
    return RawEvent(b"tx", json.dumps(rec.to_dict()).encode(), "p.lfset-candidates", 0, offset)


def test_a_refused_candidate_record_keeps_the_change_parked_before_it() -> None:
    """Guards offer_candidate: a refused record leaves the parked (valid) change in place."""
    h = make_handler()
    assert h.offer_candidate(candidate_record(v2())) == []  # parked for the next batch
    bad = v2()
    bad["version"] = "3"
    bad["lfs"][0]["label"] = 7
    (dlq,) = h.offer_candidate(candidate_record(bad, id="c2", offset=1))
    assert dlq.value["field"] == "label"
    h(events(10))
    assert h.labeler.candidate is not None
    assert h.labeler.candidate.candidate.version == "2"
    assert h.candidate_record is not None and h.candidate_record.id == "c1"


@pytest.mark.parametrize(
    ("change", "lf", "field"),
    [("logic", "big_amount", "version"), ("cardinality", None, "cardinality")],
)
def test_an_incompatible_candidate_is_refused_when_offered_with_lf_and_field(
    change: str, lf: str | None, field: str
) -> None:
    """Guards _check_candidate's _check_compatible call: refused at once, with LF and field.

    Without it the refusal comes only at the next batch, without ``lf``/``field``, and the
    candidate change parked before it is lost.
    """
    h = make_handler()
    assert h.offer_candidate(candidate_record(v2())) == []
    bad = spec("3")
    if change == "logic":
        bad["lfs"][1]["when"]["value"] = 999  # big_amount@1 with other logic
    else:
        bad["cardinality"] = 3
    (dlq,) = h.offer_candidate(candidate_record(bad, id="c2", offset=1))
    assert dlq.topic == "dlq" and dlq.value["reason"] == INVALID_LFSET
    assert (dlq.value["lf"], dlq.value["field"], dlq.value["candidate"]) == (lf, field, "3")
    assert h.candidates_invalid_ == 1
    out = h(events(10))
    assert not [o for o in out if o.topic == "dlq"]
    assert h.labeler.candidate is not None and h.labeler.candidate.candidate.version == "2"


def test_max_event_bytes_reaches_the_labeler() -> None:
    """Guards from_settings passing max_event_bytes: larger events go to the DLQ as oversized."""
    small = make_handler(max_event_bytes=150)
    assert small.labeler.max_bytes == 150
    batch = events(5)
    assert all(len(e.value) > 150 for e in batch)
    out = small(batch)
    assert [o.value["reason"] for o in out if o.topic == "dlq"] == ["oversized"] * 5
    assert not [o for o in out if o.topic == "labels"]
    assert len([o for o in make_handler()(batch) if o.topic == "labels"]) == 5


def gold(event: RawEvent, label: int = 1) -> RawEvent:
    """Return a feedback record for ``event``."""
    event_id = json.loads(event.value)["id"]
    value = {"event_id": event_id, "label": label, "source": "cb", "at": 1}
    return RawEvent(None, json.dumps(value).encode(), "p.feedback", 0, event.offset)


def test_feedback_cache_reaches_the_labeler() -> None:
    """Guards from_settings passing feedback_cache: gold for an evicted event is unmatched."""
    h = make_handler(feedback_cache=3)
    assert h.labeler.feedback_cache == 3
    batch = events(10)
    h(batch)
    assert h.on_feedback([gold(batch[0])]) == []
    assert (h.labeler.feedback_applied_, h.labeler.feedback_unmatched_) == (0, 1)
    h.on_feedback([gold(batch[-1])])
    assert (h.labeler.feedback_applied_, h.labeler.feedback_unmatched_) == (1, 1)


class _Sent:
    def get(self, timeout: float) -> None:
        return None


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes) -> _Sent:
        self.sent.append((topic, key, value))
        return _Sent()


def test_a_model_record_over_the_limit_is_not_published(monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards MODEL_RECORD_MAX_BYTES in the trainer's _publish: too big is logged, not sent."""
    from types import SimpleNamespace

    from streamlabel.stream import _trainer

    record: Any = SimpleNamespace(
        name="fraud", version=SimpleNamespace(version="v1", sha256="ab" * 32)
    )
    settings = StreamSettings(topic_prefix="p.")
    producer = _Producer()
    monkeypatch.setattr(_trainer, "encode_model_record", lambda r: b"x" * 2000)
    monkeypatch.setattr(_trainer, "MODEL_RECORD_MAX_BYTES", 1999)
    assert _trainer._publish(producer, settings, record) is False
    assert producer.sent == []
    monkeypatch.setattr(_trainer, "MODEL_RECORD_MAX_BYTES", 2000)
    assert _trainer._publish(producer, settings, record) is True
    assert producer.sent == [("p.models", b"fraud", b"x" * 2000)]


@pytest.mark.parametrize("worker_id", ["a/b", "-w", "w 1", ".hidden"])
def test_a_worker_id_that_would_break_the_stats_key_is_refused(worker_id: str) -> None:
    """Guards worker_id's pattern: it is the ``<group>/<worker>`` key's second part."""
    with pytest.raises(ValidationError):
        StreamSettings.from_env(environ={"STREAMLABEL_WORKER_ID": worker_id})
    assert StreamSettings(worker_id="w-1.a_b").stats_key == "streamlabel-labeler/w-1.a_b"


@pytest.mark.parametrize("value", ["inf", "nan", "301", "0"])
def test_batch_max_wait_must_be_a_finite_bounded_number_of_seconds(value: str) -> None:
    # The reader turns it into integer milliseconds: inf used to pass and crash the reader.
    with pytest.raises(ValidationError, match="batch_max_wait"):
        StreamSettings.from_env(environ={"STREAMLABEL_BATCH_MAX_WAIT": value})
    assert (
        StreamSettings.from_env(environ={"STREAMLABEL_BATCH_MAX_WAIT": "300"}).batch_max_wait == 300
    )
