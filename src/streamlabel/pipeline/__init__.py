"""The labeler core: parse events, vote, label, route to review or the DLQ; no engine.

Nothing here imports Faust, Kafka clients or a web framework; the stream adapter
(``streamlabel.stream``) feeds batches of raw message values in and publishes what
comes out.

- :class:`Event` / :func:`parse_event` / :class:`InvalidEvent`: the event schema and its
  parser with a bounded error vocabulary (:data:`INVALID_REASONS`);
- :class:`LabelRecord`, :class:`DLQRecord`, :class:`ReviewRecord`, :class:`FeedbackRecord`
  (with :func:`parse_feedback`) and :class:`Source`: the records in and out, JSON-able;
- :class:`ReviewPolicy`: which events go to review (uncertain / conflicting), rate-limited
  by event count;
- :class:`Labeler`: batches in, :class:`BatchOutcome` out; hot LF-set reloads; late gold;
  LFs that keep failing are quarantined (:class:`Quarantine`).
- :class:`Predictor`: batches of events in, :class:`PredictionRecord` (or DLQ records)
  out, scored by the champion of a model name taken from ``models`` records (verified,
  hot-swapped, refused when bad), with an optional shadow; also answers HTTP bodies.
- :class:`DriftWatch`: drift monitors fed from the label records (and the serving model,
  and late gold), with a trigger policy that turns alarms into retraining requests.
- :class:`ShadowLFSet`: a candidate LF set version scored on every batch beside the active
  one (its own copy of the label model, agreement, flips, LF analysis, gold accuracy of
  both, a McNemar verdict), emitting nothing; ``Labeler.set_candidate`` /
  ``promote_candidate`` (a candidate gold shows worse needs ``confirm=True``) /
  ``discard_candidate``.
- :class:`Trace` (:func:`build_trace`): one event's audit chain from its keyed records.
- :class:`Relabeler`, :func:`replay_log`, :class:`RevisionRecord`, :class:`ReplaySummary`:
  replay past events with another LF set version (read-only label model) and emit
  revisions for the labels that flip.
- :class:`TrainingWindow` and :class:`Trainer`: recent events joined with their labels
  (gold first), a hash holdout, challengers fitted and promoted in a model registry only
  when they beat the champion; the promoted one's ``models`` record.

Examples
--------
>>> from streamlabel.labelmodel import OnlineLabelModel
>>> from streamlabel.lf import load_lfset
>>> from streamlabel.pipeline import Labeler
>>> lfset = load_lfset({"name": "fraud", "cardinality": 2, "lfs": [
...     {"name": "casino", "label": 1,
...      "when": {"kind": "keyword", "field": "descriptor", "keywords": ["casino"]}}]})
>>> labeler = Labeler(lfset, OnlineLabelModel(cardinality=2))
>>> out = labeler.process_one(
...     b'{"id": "tx1", "ts": 1.7e9, "entity": "c1", "payload": {"descriptor": "Casino"}}')
>>> out.labels[0].votes, out.labels[0].label
({'casino@1': 1}, 1)
"""

from __future__ import annotations

from streamlabel.pipeline._events import (
    DEFAULT_MAX_BYTES,
    INVALID_REASONS,
    Event,
    InvalidEvent,
    InvalidReason,
    parse_event,
)
from streamlabel.pipeline._labeler import BatchOutcome, Labeler, Quarantine, RawInput
from streamlabel.pipeline._predictor import (
    PREDICTION_FAILED,
    ModelOutcome,
    PredictionRecord,
    Predictor,
    PredictOutcome,
)
from streamlabel.pipeline._records import (
    MAX_RAW_CHARS,
    DLQRecord,
    FeedbackRecord,
    LabelRecord,
    ReviewReason,
    ReviewRecord,
    Source,
    parse_feedback,
    raw_text,
)
from streamlabel.pipeline._replay import (
    REVISION_KEY,
    Relabeler,
    ReplayBatch,
    ReplayResult,
    ReplaySummary,
    RevisionRecord,
    parse_label_value,
    replay_log,
)
from streamlabel.pipeline._review import REVIEW_REASONS, ReviewPolicy
from streamlabel.pipeline._shadow import (
    CANDIDATE_FORMAT,
    SHADOW_REPORT_FORMAT,
    CandidateRecord,
    ShadowLFSet,
    merge_shadow_reports,
)
from streamlabel.pipeline._trace import Trace, TraceRecord, build_trace
from streamlabel.pipeline._training import Example, Trainer, TrainingResult, TrainingWindow
from streamlabel.pipeline._watch import (
    DRIFT_RECORD_FORMAT,
    DriftWatch,
    drift_record,
    parse_drift_record,
)

__all__ = [
    "CANDIDATE_FORMAT",
    "DEFAULT_MAX_BYTES",
    "DRIFT_RECORD_FORMAT",
    "INVALID_REASONS",
    "MAX_RAW_CHARS",
    "PREDICTION_FAILED",
    "REVIEW_REASONS",
    "REVISION_KEY",
    "SHADOW_REPORT_FORMAT",
    "BatchOutcome",
    "CandidateRecord",
    "DLQRecord",
    "DriftWatch",
    "Event",
    "Example",
    "FeedbackRecord",
    "InvalidEvent",
    "InvalidReason",
    "LabelRecord",
    "Labeler",
    "ModelOutcome",
    "PredictOutcome",
    "PredictionRecord",
    "Predictor",
    "Quarantine",
    "RawInput",
    "Relabeler",
    "ReplayBatch",
    "ReplayResult",
    "ReplaySummary",
    "ReviewPolicy",
    "ReviewReason",
    "ReviewRecord",
    "RevisionRecord",
    "ShadowLFSet",
    "Source",
    "Trace",
    "TraceRecord",
    "Trainer",
    "TrainingResult",
    "TrainingWindow",
    "build_trace",
    "drift_record",
    "merge_shadow_reports",
    "parse_drift_record",
    "parse_event",
    "parse_feedback",
    "parse_label_value",
    "raw_text",
    "replay_log",
]
