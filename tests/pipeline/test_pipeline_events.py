from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlabel.pipeline import (
    INVALID_REASONS,
    Event,
    FeedbackRecord,
    InvalidEvent,
    parse_event,
    parse_feedback,
)

GOOD: dict[str, Any] = {
    "id": "tx1",
    "ts": 1_700_000_000.25,
    "entity": "card_1",
    "payload": {"amount": 12.5, "descriptor": "Online Casino", "tags": [1, "a"], "n": None},
}


def with_(**changes: Any) -> dict[str, Any]:
    out = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            del out[key]
        else:
            out[key] = value
    return out


def reason_of(raw: Any, **kwargs: Any) -> tuple[str, str | None, str]:
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw, **kwargs)
    return info.value.reason, info.value.field, info.value.detail


@pytest.mark.parametrize("form", ["bytes", "str", "mapping", "bytearray"])
def test_valid_event_in_every_form(form: str) -> None:
    text = json.dumps(GOOD)
    raw: Any = {
        "bytes": text.encode(),
        "str": text,
        "mapping": GOOD,
        "bytearray": bytearray(text.encode()),
    }[form]
    event = parse_event(raw)
    assert event == Event(**GOOD)
    assert event.payload == GOOD["payload"]
    assert isinstance(event.ts, float)


def test_ts_accepts_iso_8601_and_ints() -> None:
    assert parse_event(with_(ts="2024-01-01T00:00:00Z")).ts == 1_704_067_200.0
    assert parse_event(with_(ts="2024-01-01T01:00:00+01:00")).ts == 1_704_067_200.0
    assert parse_event(with_(ts="2024-01-01T00:00:00")).ts == 1_704_067_200.0  # naive = UTC
    assert parse_event(with_(ts="2024-01-01")).ts == 1_704_067_200.0
    assert parse_event(with_(ts=5)).ts == 5.0
    when = datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert parse_event(with_(ts=when)).ts == 1_704_067_200.0
    assert parse_event(with_(ts=datetime(2024, 1, 1, tzinfo=UTC))).ts == 1_704_067_200.0


@pytest.mark.parametrize(
    ("raw", "reason", "field"),
    [
        (b"x" * 100, "oversized", None),
        ("x" * 100, "oversized", None),
        ("é" * 40, "oversized", None),  # 40 characters, 80 bytes
        (b"\xff\xfe{}", "not_utf8", None),
        (b'{"id": "caf\xe9"}', "not_utf8", None),
        ('{"id": "\ud800"}', "not_utf8", None),  # text with a lone surrogate
        (b"{oops", "not_json", None),
        (b"", "not_json", None),
        (b'{"id": "a"} trailing', "not_json", None),
        (b'{"id": "\\ud800"}', "not_json", None),  # unpaired surrogate escape
        (b"[1, 2]", "not_object", None),
        (b'"text"', "not_object", None),
        (b"null", "not_object", None),
        ([GOOD], "not_object", None),
        (42, "not_object", None),
        (None, "not_object", None),
    ],
)
def test_whole_input_reasons(raw: Any, reason: str, field: str | None) -> None:
    got_reason, got_field, detail = reason_of(raw, max_bytes=60)
    assert (got_reason, got_field) == (reason, field)
    assert detail


def test_nesting_too_deep_is_not_json() -> None:
    assert reason_of(b"[" * 5000 + b"]" * 5000)[0] == "not_json"


def test_oversized_counts_utf8_bytes() -> None:
    text = json.dumps(with_(payload={"d": "é" * 20}), ensure_ascii=False)
    n_bytes = len(text.encode())
    assert parse_event(text, max_bytes=n_bytes).payload == {"d": "é" * 20}
    assert reason_of(text, max_bytes=n_bytes - 1)[0] == "oversized"
    assert reason_of(text.encode(), max_bytes=n_bytes - 1)[0] == "oversized"


@pytest.mark.parametrize(
    ("event", "reason", "field"),
    [
        (with_(id=...), "missing_field", "id"),
        (with_(ts=...), "missing_field", "ts"),
        (with_(entity=...), "missing_field", "entity"),
        (with_(payload=...), "missing_field", "payload"),
        (with_(id=5), "wrong_type", "id"),
        (with_(entity=None), "wrong_type", "entity"),
        (with_(ts=True), "wrong_type", "ts"),
        (with_(ts=None), "wrong_type", "ts"),
        (with_(ts=[1]), "wrong_type", "ts"),
        (with_(payload=[1, 2]), "wrong_type", "payload"),
        (with_(payload="x"), "wrong_type", "payload"),
        (with_(id=""), "invalid_value", "id"),
        (with_(id="x" * 201), "invalid_value", "id"),
        (with_(id="a\nb"), "invalid_value", "id"),
        (with_(entity="a\x00"), "invalid_value", "entity"),
        (with_(entity="a\x85"), "invalid_value", "entity"),  # C1 control
        (with_(ts="yesterday"), "invalid_value", "ts"),
        (with_(ts=float("inf")), "invalid_value", "ts"),
        (with_(ts=float("nan")), "invalid_value", "ts"),
        (with_(extra=1), "unknown_field", "extra"),
    ],
)
def test_field_reasons(event: dict[str, Any], reason: str, field: str) -> None:
    for raw in (event, json.dumps(event).encode(), json.dumps(event)):
        got_reason, got_field, detail = reason_of(raw)
        assert (got_reason, got_field) == (reason, field), raw
        assert field in detail


def test_every_reason_is_covered_and_bounded() -> None:
    assert set(INVALID_REASONS) == {
        "oversized",
        "not_utf8",
        "not_json",
        "not_object",
        "missing_field",
        "wrong_type",
        "invalid_value",
        "unknown_field",
    }
    with pytest.raises(ValueError, match="unknown InvalidEvent reason"):
        InvalidEvent("bad_reason", "x")  # type: ignore[arg-type]
    assert len(InvalidEvent("not_json", "x" * 10_000).detail) <= 300


def test_invalid_event_pickles_and_prints() -> None:
    exc = InvalidEvent("missing_field", "ts: Field required", field="ts")
    back = pickle.loads(pickle.dumps(exc))
    assert (back.reason, back.detail, back.field) == ("missing_field", "ts: Field required", "ts")
    assert str(exc) == "missing_field: ts: Field required"
    assert isinstance(exc, ValueError)


def test_payload_keeps_json_values() -> None:
    event = parse_event(
        b'{"id":"a","ts":1,"entity":"e","payload":{"x":NaN,"big":12345678901234567890}}'
    )
    assert event.payload["big"] == 12345678901234567890
    assert event.payload["x"] != event.payload["x"]  # NaN, as Python's json reads it


def test_max_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        parse_event(GOOD, max_bytes=0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(
    id_=st.text(min_size=1, max_size=20).filter(lambda s: s.isprintable()),
    ts=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
    payload=st.dictionaries(st.text(max_size=10), json_values, max_size=5),
)
@settings(max_examples=150, deadline=None)
def test_round_trip_of_valid_events(id_: str, ts: float, payload: dict[str, Any]) -> None:
    event = {"id": id_, "ts": ts, "entity": id_, "payload": payload}
    for raw in (json.dumps(event).encode(), json.dumps(event, ensure_ascii=False), event):
        parsed = parse_event(raw)
        assert (parsed.id, parsed.ts, parsed.entity, parsed.payload) == (id_, ts, id_, payload)


@given(st.binary(max_size=300) | st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_input_is_an_event_or_an_invalid_event(raw: bytes | str) -> None:
    try:
        event = parse_event(raw, max_bytes=200)
    except InvalidEvent as exc:
        assert exc.reason in INVALID_REASONS
    else:
        assert isinstance(event, Event)


@given(st.dictionaries(st.sampled_from(["id", "ts", "entity", "payload", "x"]), json_values))
@settings(max_examples=300, deadline=None)
def test_bytes_text_and_mapping_agree(obj: dict[str, Any]) -> None:
    """The three input forms accept the same events and give the same reason."""
    outcomes: list[Any] = []
    for raw in (json.dumps(obj).encode(), json.dumps(obj), obj):
        try:
            outcomes.append(parse_event(raw).model_dump())
        except InvalidEvent as exc:
            outcomes.append((exc.reason, exc.field))
    assert outcomes[0] == outcomes[1] == outcomes[2]


# ---------------------------------------------------------------- feedback


def test_parse_feedback() -> None:
    fb = {"event_id": "tx1", "label": 1, "source": "chargeback", "at": "2024-01-01T00:00:00Z"}
    assert parse_feedback(json.dumps(fb).encode()) == FeedbackRecord(
        "tx1", 1, "chargeback", 1_704_067_200.0
    )
    assert parse_feedback(fb) == parse_feedback(json.dumps(fb))


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"event_id": ...}, "missing_field", "event_id"),
        ({"at": ...}, "missing_field", "at"),
        ({"label": "1"}, "wrong_type", "label"),
        ({"label": True}, "wrong_type", "label"),
        ({"label": 1.5}, "wrong_type", "label"),
        ({"label": -1}, "invalid_value", "label"),
        ({"source": ""}, "invalid_value", "source"),
        ({"at": "soon"}, "invalid_value", "at"),
        ({"who": "me"}, "unknown_field", "who"),
    ],
)
def test_feedback_reasons(changes: dict[str, Any], reason: str, field: str) -> None:
    fb: dict[str, Any] = {"event_id": "tx1", "label": 1, "source": "chargeback", "at": 5}
    for key, value in changes.items():
        if value is ...:
            del fb[key]
        else:
            fb[key] = value
    for raw in (fb, json.dumps(fb).encode()):
        with pytest.raises(InvalidEvent) as info:
            parse_feedback(raw)
        assert (info.value.reason, info.value.field) == (reason, field)


def test_feedback_whole_input_reasons() -> None:
    for raw, reason in [(b"\xff", "not_utf8"), (b"{", "not_json"), (b"[]", "not_object")]:
        with pytest.raises(InvalidEvent) as info:
            parse_feedback(raw)
        assert info.value.reason == reason
    with pytest.raises(InvalidEvent) as info:
        parse_feedback(b"{}" + b" " * 100, max_bytes=50)
    assert info.value.reason == "oversized"
