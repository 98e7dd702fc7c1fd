"""The audit trail's retention: settings, validation and the configs topics are created with."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from streamlabel.stream import AUDIT_TOPICS, TOPICS, StreamSettings, topic_configs
from streamlabel.stream._trace import KEYED_TOPICS

SPECS = {t.name: t for t in TOPICS}


def test_the_audit_topics_are_the_event_keyed_uncompacted_topics_a_trace_reads() -> None:
    assert AUDIT_TOPICS == ("labels", "review", "predictions", "feedback")
    assert KEYED_TOPICS == AUDIT_TOPICS
    for name in AUDIT_TOPICS:
        assert SPECS[name].key == "event id" and not SPECS[name].compacted


def test_retention_comes_from_the_environment() -> None:
    s = StreamSettings.from_env(
        environ={"STREAMLABEL_RETENTION_HOURS": "36", "STREAMLABEL_RETENTION_BYTES": "5000000"}
    )
    assert (s.retention_hours, s.retention_bytes, s.retention_ms) == (36.0, 5_000_000, 129_600_000)
    default = StreamSettings.from_env(environ={})
    assert (default.retention_hours, default.retention_bytes) == (168.0, None)
    assert default.retention_ms == 7 * 24 * 3_600_000
    assert StreamSettings(retention_hours=0.25).retention_ms == 900_000


@pytest.mark.parametrize("hours", ["0", "-1", "0.001", "nan", "inf", "87601", "a week"])
def test_a_bad_retention_is_refused_with_a_clear_error(hours: str) -> None:
    with pytest.raises(ValidationError) as err:
        StreamSettings.from_env(environ={"STREAMLABEL_RETENTION_HOURS": hours})
    text = str(err.value)
    assert "retention_hours" in text
    if hours != "a week":  # not a number: pydantic's own parsing error
        assert "STREAMLABEL_RETENTION_HOURS" in text and "ten years" in text


@pytest.mark.parametrize("size", ["0", "-1", "1048575"])
def test_a_bad_retention_size_is_refused(size: str) -> None:
    with pytest.raises(ValidationError, match=r"STREAMLABEL_RETENTION_BYTES.*1 MiB"):
        StreamSettings.from_env(environ={"STREAMLABEL_RETENTION_BYTES": size})


def test_audit_topics_are_created_with_the_retention() -> None:
    s = StreamSettings(retention_hours=48)
    for name in AUDIT_TOPICS:
        assert topic_configs(SPECS[name], s) == {"retention.ms": "172800000"}
    capped = StreamSettings(retention_hours=1, retention_bytes=64 * 2**20)
    assert topic_configs(SPECS["predictions"], capped) == {
        "retention.ms": "3600000",
        "retention.bytes": "67108864",
    }


def test_other_topics_keep_compaction_or_the_broker_defaults() -> None:
    s = StreamSettings(retention_hours=2, retention_bytes=2**20)
    for spec in TOPICS:
        configs = topic_configs(spec, s)
        if spec.compacted:
            assert configs == {"cleanup.policy": "compact"}, spec.name
        elif spec.name not in AUDIT_TOPICS:
            assert configs == {}, spec.name  # events, dlq, drift, model-commands
    assert topic_configs(SPECS["events"], s) == {}
