"""The Faust adapter: the labeler's topics, its micro-batching agent and its worker.

- :class:`StreamSettings` -- brokers, topic prefix, app id, batching, group settings;
  :meth:`StreamSettings.from_env` reads ``STREAMLABEL_*`` variables.
- :func:`create_app` -- a factory (no module-level app) returning a ``faust.App`` with the
  design's topics (``events``, ``labels``, ``review``, ``dlq``, ``lfsets``, ``feedback``,
  ``labelmodel-stats``, ``labelmodel-params``, ``drift``, ``models``)
  and one agent that hands micro-batches of :class:`RawEvent` to a :data:`BatchHandler`
  and publishes the :class:`Output` records it returns.
- :func:`ensure_topics` -- creates the topics (partitions, compaction, and the audit
  trail's retention on :data:`AUDIT_TOPICS`, see :func:`topic_configs`) with kafka-python.
- :class:`LabelerHandler` -- the :class:`~streamlabel.pipeline.Labeler` as a batch
  handler, with LF-set hot reload (:meth:`~LabelerHandler.offer_lfset`) and late gold
  (:meth:`~LabelerHandler.on_feedback`); :func:`prepare_labeler` picks the LF set to start
  with (newest valid version on ``lfsets``, else ``lfset_file``) or raises
  :class:`StartupError`, and restores the group's latest label-model snapshot
  (:func:`read_snapshot`, :func:`parse_snapshot`; published every ``snapshot_every``
  batches and by :func:`publish_snapshot` at a clean stop).
- :class:`PredictorService` (``streamlabel predict``, :func:`serve_predictor`) -- the
  predictor: follows ``models`` (champion hot swap, verified in a thread), predicts
  ``events`` into ``predictions`` in its own consumer group, answers HTTP (aiohttp);
  :class:`PredictorHandler` adapts :class:`~streamlabel.pipeline.Predictor` to batches.
- :func:`start_replay` (``streamlabel replay``; the control API's replay endpoint calls
  it with a :class:`ReplayRequest`) -- relabels a time range of ``events`` with an LF
  set version outside any consumer group and publishes revisions to ``labels``
  (resumable, idempotent; :func:`run_replay` takes the set and model directly).
- ``python -m streamlabel.stream._worker`` (``streamlabel run``) -- runs one labeler worker
  with settings from the environment; with drift monitoring on, its handler publishes
  drift events and retraining requests to ``drift``.
- ``python -m streamlabel.stream._aggregator`` (``streamlabel aggregate``) merges the
  workers' label-model statistics; ``python -m streamlabel.stream._trainer``
  (``streamlabel train``) retrains the end model and publishes champions to ``models``.

This is the only package that imports faust, and it does so inside :func:`create_app`:
importing :mod:`streamlabel.stream` imports neither faust nor a Kafka client.
"""

from __future__ import annotations

from streamlabel.stream._app import (
    AUDIT_TOPICS,
    OUTPUT_TOPICS,
    TOPICS,
    BatchHandler,
    Output,
    RawEvent,
    RecordHandler,
    TopicSpec,
    create_app,
    echo_handler,
    ensure_topics,
    topic_configs,
)
from streamlabel.stream._predictor import PredictorHandler, PredictorService, serve_predictor
from streamlabel.stream._replay import (
    ReplayError,
    ReplayReport,
    ReplayRequest,
    run_replay,
    start_replay,
)
from streamlabel.stream._service import (
    INVALID_LFSET,
    SNAPSHOT_FORMAT,
    LabelerHandler,
    LabelerStart,
    LFSetLog,
    Snapshot,
    SnapshotError,
    StartupError,
    parse_lfset_record,
    parse_snapshot,
    prepare_labeler,
    publish_snapshot,
    read_lfsets,
    read_params,
    read_snapshot,
    snapshot_value,
)
from streamlabel.stream._settings import StreamSettings

__all__ = [
    "AUDIT_TOPICS",
    "INVALID_LFSET",
    "OUTPUT_TOPICS",
    "SNAPSHOT_FORMAT",
    "TOPICS",
    "BatchHandler",
    "LFSetLog",
    "LabelerHandler",
    "LabelerStart",
    "Output",
    "PredictorHandler",
    "PredictorService",
    "RawEvent",
    "RecordHandler",
    "ReplayError",
    "ReplayReport",
    "ReplayRequest",
    "Snapshot",
    "SnapshotError",
    "StartupError",
    "StreamSettings",
    "TopicSpec",
    "create_app",
    "echo_handler",
    "ensure_topics",
    "parse_lfset_record",
    "parse_snapshot",
    "prepare_labeler",
    "publish_snapshot",
    "read_lfsets",
    "read_params",
    "read_snapshot",
    "run_replay",
    "serve_predictor",
    "snapshot_value",
    "start_replay",
    "topic_configs",
]
