"""A test worker's settings on the broker, shared by the service tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamlabel.stream import StreamSettings, ensure_topics


def worker_settings(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, **over: Any
) -> StreamSettings:
    """Settings of a test worker on the test broker, its topics created.

    Two partitions, batches of 250 cut after 0.1 s, faust's data in ``tmp_path``;
    ``over`` sets the rest (LF set, worker id, drift, ...) or replaces these.
    """
    base: dict[str, Any] = {
        "brokers": [kafka_bootstrap],
        "topic_prefix": topic_prefix,
        "partitions": 2,
        "batch_size": 250,
        "batch_max_wait": 0.1,
        "datadir": tmp_path / "faust",
    }
    settings = StreamSettings(**(base | over))
    ensure_topics(settings)
    return settings
