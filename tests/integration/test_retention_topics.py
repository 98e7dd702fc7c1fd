"""The audit trail's retention on the real broker: what ``ensure_topics`` creates."""

from __future__ import annotations

from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from streamlabel.api._kafka import CONTROL_TOPICS, KafkaBackend
from streamlabel.stream import AUDIT_TOPICS, TOPICS, StreamSettings, ensure_topics

pytestmark = pytest.mark.kafka


def topic_configs(bootstrap: str, topics: list[str]) -> dict[str, dict[str, Any]]:
    """The topics' non-default configs, as the broker describes them."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
        )
    finally:
        admin.close()
    return {t: {k: v["value"] for k, v in described["topic"][t].items()} for t in topics}


def test_audit_topics_are_created_with_the_configured_retention(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = StreamSettings(
        brokers=[kafka_bootstrap],
        topic_prefix=topic_prefix,
        retention_hours=12,
        retention_bytes=256 * 2**20,
    )
    created = ensure_topics(settings)
    assert sorted(settings.topic(t.name) for t in TOPICS) == created
    names = [settings.topic(t.name) for t in TOPICS]
    configs = topic_configs(kafka_bootstrap, names)
    for name in AUDIT_TOPICS:
        got = configs[settings.topic(name)]
        assert got["retention.ms"] == str(12 * 3_600_000), name
        assert got["retention.bytes"] == str(256 * 2**20), name
    for spec in TOPICS:
        got = configs[settings.topic(spec.name)]
        if spec.compacted:
            assert got["cleanup.policy"] == "compact", spec.name
        if spec.name not in AUDIT_TOPICS:
            # Not part of the trail: the broker's default retention (not overridden).
            assert "retention.ms" not in got and "retention.bytes" not in got, spec.name

    # Existing topics are left as they are: a later start with another retention does
    # not change them (ensure_topics creates, it does not alter).
    assert ensure_topics(settings.model_copy(update={"retention_hours": 1.0})) == []
    again = topic_configs(kafka_bootstrap, [settings.topic("labels")])
    assert again[settings.topic("labels")]["retention.ms"] == str(12 * 3_600_000)


def test_default_retention_is_a_week_and_the_api_creates_control_topics_alike(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = StreamSettings(brokers=[kafka_bootstrap], topic_prefix=topic_prefix)
    ensure_topics(settings)
    labels = settings.topic("labels")
    got = topic_configs(kafka_bootstrap, [labels])[labels]
    assert got["retention.ms"] == str(7 * 24 * 3_600_000)
    assert "retention.bytes" not in got

    # The control API creates only its own (compacted or default) topics.
    other = StreamSettings(brokers=[kafka_bootstrap], topic_prefix=topic_prefix + "api.")
    backend = KafkaBackend(other, timeout=10)
    created = backend._ensure_topics()
    assert created == sorted(other.topic(n) for n in CONTROL_TOPICS)
    described = topic_configs(kafka_bootstrap, created)
    assert described[other.topic("audit")]["cleanup.policy"] == "compact"
    assert "retention.ms" not in described[other.topic("model-commands")]
