"""The Faust adapter: the labeler's topics, its micro-batching agent and its worker.

- :class:`StreamSettings` -- brokers, topic prefix, app id, batching, group settings;
  :meth:`StreamSettings.from_env` reads ``STREAMLABEL_*`` variables.
- :func:`create_app` -- a factory (no module-level app) returning a ``faust.App`` with the
  design's topics (``events``, ``labels``, ``review``, ``dlq``, ``lfsets``, ``feedback``)
  and one agent that hands micro-batches of :class:`RawEvent` to a :data:`BatchHandler`
  and publishes the :class:`Output` records it returns.
- :func:`ensure_topics` -- creates the topics (partitions, compaction) with kafka-python.
- ``python -m streamlabel.stream._worker`` -- runs one worker with settings from the
  environment.

This is the only package that imports faust, and it does so inside :func:`create_app`:
importing :mod:`streamlabel.stream` imports neither faust nor a Kafka client.
"""

from __future__ import annotations

from streamlabel.stream._app import (
    OUTPUT_TOPICS,
    TOPICS,
    BatchHandler,
    Output,
    RawEvent,
    TopicSpec,
    create_app,
    echo_handler,
    ensure_topics,
)
from streamlabel.stream._settings import StreamSettings

__all__ = [
    "OUTPUT_TOPICS",
    "TOPICS",
    "BatchHandler",
    "Output",
    "RawEvent",
    "StreamSettings",
    "TopicSpec",
    "create_app",
    "echo_handler",
    "ensure_topics",
]
