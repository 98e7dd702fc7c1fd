from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlabel.pipeline import (
    MAX_RAW_CHARS,
    DLQRecord,
    FeedbackRecord,
    LabelRecord,
    ReviewRecord,
    Source,
    raw_text,
)

texts = st.text(max_size=30)
floats = st.floats(allow_nan=False, allow_infinity=False)
sources = st.none() | st.builds(Source, texts, st.integers(0, 1000), st.integers(0, 2**62))
votes = st.dictionaries(texts, st.integers(0, 5), max_size=5)
posteriors = st.lists(st.floats(0, 1), min_size=2, max_size=5)

records = st.one_of(
    sources.filter(lambda s: s is not None),
    st.builds(
        LabelRecord,
        texts,
        texts,
        texts,
        texts,
        votes,
        posteriors,
        st.integers(0, 5),
        st.floats(0, 1),
        texts,
        floats,
        floats,
        sources,
    ),
    st.builds(DLQRecord, texts, texts, sources, texts, floats),
    st.builds(
        ReviewRecord,
        texts,
        texts,
        st.sampled_from(["uncertain", "conflict"]),
        posteriors,
        votes,
        texts,
    ),
    st.builds(FeedbackRecord, texts, st.integers(0, 5), texts, floats),
)


@given(records)
@settings(max_examples=300, deadline=None)
def test_round_trip_through_json(record: Any) -> None:
    d = record.to_dict()
    assert type(record).from_dict(d) == record
    assert type(record).from_dict(json.loads(json.dumps(d, allow_nan=False))) == record


def test_records_are_frozen() -> None:
    rec = FeedbackRecord("tx1", 1, "chargeback", 5.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.label = 0  # type: ignore[misc]


def test_to_dict_copies_mutable_fields() -> None:
    rec = LabelRecord("e", "c", "s", "1", {"a@1": 1}, [0.5, 0.5], 0, 0.5, "0.0", 0.0, 0.0, None)
    d = rec.to_dict()
    d["votes"]["b@1"] = 0
    d["posterior"].append(1.0)
    assert rec.votes == {"a@1": 1} and rec.posterior == [0.5, 0.5]


def test_label_record_dict_shape() -> None:
    rec = LabelRecord(
        "e", "c", "s", "1", {"a@1": 1}, [0.25, 0.75], 1, 0.75, "2.9", 1.5, 1e-6, Source("ev", 2, 9)
    )
    assert rec.to_dict() == {
        "event_id": "e",
        "entity": "c",
        "lfset": "s",
        "lfset_version": "1",
        "votes": {"a@1": 1},
        "posterior": [0.25, 0.75],
        "label": 1,
        "confidence": 0.75,
        "labelmodel_version": "2.9",
        "processed_at": 1.5,
        "processing_seconds": 1e-6,
        "source": {"topic": "ev", "partition": 2, "offset": 9},
    }


def test_from_dict_reports_missing_keys_and_bad_reasons() -> None:
    with pytest.raises(ValueError, match="missing key 'label'"):
        FeedbackRecord.from_dict({"event_id": "e", "source": "s", "at": 1})
    good = ReviewRecord("e", "c", "conflict", [0.5, 0.5], {}, "1").to_dict()
    with pytest.raises(ValueError, match="unknown reason"):
        ReviewRecord.from_dict({**good, "reason": "boredom"})


def test_dlq_raw_is_truncated_and_decoded() -> None:
    rec = DLQRecord.of("oversized", "too big", b"\xff" + b"a" * 10_000, Source("ev", 0, 1), 1.0)
    assert len(rec.raw) == MAX_RAW_CHARS
    assert rec.raw.startswith("\N{REPLACEMENT CHARACTER}a")
    assert raw_text("é" * 3000) == "é" * 2000
    assert raw_text(bytearray(b"ab")) == "ab"
    # Multi-byte characters cut at the byte limit still give a full-length prefix.
    assert raw_text(("é" * 3000).encode()) == "é" * 2000


def test_raw_text_of_odd_inputs() -> None:
    assert raw_text({"a": 1}) == '{"a": 1}'
    assert raw_text({"a": float("nan")}) == '{"a": NaN}'
    loop: dict[str, Any] = {}
    loop["self"] = loop
    assert raw_text(loop) == "{'self': {...}}"
    assert raw_text(42) == "42"
    assert raw_text([1] * 5000, limit=10) == "[1, 1, 1, "
