"""Records the labeler emits and reads: labels, DLQ entries, review items, feedback.

Each record is a frozen dataclass with ``to_dict()`` (JSON-able: str, int, float, list,
dict, None) and ``from_dict()`` (the inverse, also after a JSON round trip). Fields hold
plain Python types, so ``json.dumps(record.to_dict())`` needs no custom encoder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from streamlabel.pipeline._events import DEFAULT_MAX_BYTES, Key, Timestamp, parse_model

__all__ = [
    "MAX_RAW_CHARS",
    "DLQRecord",
    "FeedbackRecord",
    "LabelRecord",
    "ReviewReason",
    "ReviewRecord",
    "Source",
    "parse_feedback",
    "raw_text",
]

#: Characters of the offending input kept in a :class:`DLQRecord`.
MAX_RAW_CHARS: Final = 2_000

#: Why an event is sent for review.
ReviewReason = Literal["uncertain", "conflict"]


def _field(d: Mapping[str, Any], key: str, cls: str) -> Any:
    try:
        return d[key]
    except KeyError:
        raise ValueError(f"{cls}.from_dict: missing key {key!r}") from None


def _source_or_none(value: Any) -> Source | None:
    return None if value is None else Source.from_dict(value)


@dataclass(frozen=True, slots=True)
class Source:
    """Where an input came from: a Kafka topic, partition and offset.

    Examples
    --------
    >>> from streamlabel.pipeline import Source
    >>> Source.from_dict(Source("events", 0, 42).to_dict())
    Source(topic='events', partition=0, offset=42)
    """

    topic: str
    partition: int
    offset: int

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-able dict."""
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Source:
        """Build the record from :meth:`to_dict`'s output."""
        return cls(
            str(_field(d, "topic", "Source")),
            int(_field(d, "partition", "Source")),
            int(_field(d, "offset", "Source")),
        )


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """The probabilistic label of one event, with what produced it.

    Attributes
    ----------
    event_id, entity : str
        The event's id (the output key) and partition key.
    lfset, lfset_version : str
        Name and version of the LF set whose votes produced the label.
    votes : dict of str to int
        LF id -> vote, only LFs that did not abstain.
    posterior : list of float
        P(y | votes) for each class.
    label : int
        ``argmax(posterior)`` (the lowest class on ties).
    confidence : float
        ``max(posterior)``.
    labelmodel_version : str
        :attr:`~streamlabel.labelmodel.OnlineLabelModel.version_` of the parameters that
        computed the posterior.
    processed_at : float
        Epoch seconds when the batch finished (the labeler's clock).
    processing_seconds : float
        The batch's processing time divided by its number of inputs.
    source : Source or None
        Where the event was read from.

    Examples
    --------
    >>> from streamlabel.pipeline import LabelRecord
    >>> rec = LabelRecord("tx1", "c1", "fraud", "3", {"big@1": 1}, [0.2, 0.8], 1, 0.8,
    ...                   "2.640", 1.7e9, 1e-5, None)
    >>> LabelRecord.from_dict(rec.to_dict()) == rec
    True
    """

    event_id: str
    entity: str
    lfset: str
    lfset_version: str
    votes: dict[str, int]
    posterior: list[float]
    label: int
    confidence: float
    labelmodel_version: str
    processed_at: float
    processing_seconds: float
    source: Source | None

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-able dict."""
        return {
            "event_id": self.event_id,
            "entity": self.entity,
            "lfset": self.lfset,
            "lfset_version": self.lfset_version,
            "votes": dict(self.votes),
            "posterior": list(self.posterior),
            "label": self.label,
            "confidence": self.confidence,
            "labelmodel_version": self.labelmodel_version,
            "processed_at": self.processed_at,
            "processing_seconds": self.processing_seconds,
            "source": None if self.source is None else self.source.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LabelRecord:
        """Build the record from :meth:`to_dict`'s output."""
        c = "LabelRecord"
        return cls(
            event_id=str(_field(d, "event_id", c)),
            entity=str(_field(d, "entity", c)),
            lfset=str(_field(d, "lfset", c)),
            lfset_version=str(_field(d, "lfset_version", c)),
            votes={str(k): int(v) for k, v in _field(d, "votes", c).items()},
            posterior=[float(p) for p in _field(d, "posterior", c)],
            label=int(_field(d, "label", c)),
            confidence=float(_field(d, "confidence", c)),
            labelmodel_version=str(_field(d, "labelmodel_version", c)),
            processed_at=float(_field(d, "processed_at", c)),
            processing_seconds=float(_field(d, "processing_seconds", c)),
            source=_source_or_none(d.get("source")),
        )


def raw_text(raw: Any, limit: int = MAX_RAW_CHARS) -> str:
    r"""Return a printable prefix of ``raw`` (at most ``limit`` characters) for a DLQ record.

    Bytes are decoded as UTF-8 with ``errors="replace"``; a mapping is dumped as JSON
    (``repr`` for values JSON cannot hold); anything else is ``repr``'d.

    Examples
    --------
    >>> from streamlabel.pipeline import raw_text
    >>> raw_text(b"caf\xc3\xa9 \xff") == "café \N{REPLACEMENT CHARACTER}"
    True
    >>> len(raw_text("x" * 5000)), raw_text({"a": {1, 2}})
    (2000, '{"a": "{1, 2}"}')
    """
    if isinstance(raw, bytearray | memoryview):
        raw = bytes(raw)
    if isinstance(raw, bytes):
        # At most 4 bytes per character: decoding more than that cannot change the prefix.
        return raw[: 4 * limit].decode("utf-8", errors="replace")[:limit]
    if isinstance(raw, str):
        return raw[:limit]
    if isinstance(raw, Mapping):
        try:
            text = json.dumps(dict(raw), default=repr, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            text = repr(raw)
        return text[:limit]
    return repr(raw)[:limit]


@dataclass(frozen=True, slots=True)
class DLQRecord:
    """An input that could not be processed, with the reason.

    Attributes
    ----------
    reason : str
        For events and feedback one of :data:`~streamlabel.pipeline.INVALID_REASONS`.
    detail : str
        What exactly is wrong (names the field).
    source : Source or None
        Where the input was read from (the DLQ topic is keyed by it).
    raw : str
        The input's first :data:`MAX_RAW_CHARS` characters (see :func:`raw_text`).
    at : float
        Epoch seconds when the record was made.

    Examples
    --------
    >>> from streamlabel.pipeline import DLQRecord, Source
    >>> rec = DLQRecord("not_json", "Invalid JSON", Source("events", 1, 7), "{oops", 1.7e9)
    >>> DLQRecord.from_dict(rec.to_dict()) == rec
    True
    """

    reason: str
    detail: str
    source: Source | None
    raw: str
    at: float

    @classmethod
    def of(cls, reason: str, detail: str, raw: Any, source: Source | None, at: float) -> DLQRecord:
        """Build a record from the offending input, truncating it with :func:`raw_text`."""
        return cls(reason, detail, source, raw_text(raw), at)

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-able dict."""
        return {
            "reason": self.reason,
            "detail": self.detail,
            "source": None if self.source is None else self.source.to_dict(),
            "raw": self.raw,
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DLQRecord:
        """Build the record from :meth:`to_dict`'s output."""
        c = "DLQRecord"
        return cls(
            reason=str(_field(d, "reason", c)),
            detail=str(_field(d, "detail", c)),
            source=_source_or_none(d.get("source")),
            raw=str(_field(d, "raw", c)),
            at=float(_field(d, "at", c)),
        )


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """An event worth a human label: the model is unsure, or its LFs disagree.

    Attributes
    ----------
    event_id, entity : str
        The event.
    reason : {"uncertain", "conflict"}
        ``"uncertain"``: the top posterior is below the policy's ``min_confidence``;
        ``"conflict"``: LFs voted for different classes (uncertain wins when both hold).
    posterior : list of float
        The label's posterior.
    votes : dict of str to int
        The non-abstain votes.
    lfset_version : str
        The LF set version that voted.

    Examples
    --------
    >>> from streamlabel.pipeline import ReviewRecord
    >>> rec = ReviewRecord("tx1", "c1", "conflict", [0.3, 0.7], {"a@1": 0, "b@1": 1}, "2")
    >>> ReviewRecord.from_dict(rec.to_dict()) == rec
    True
    """

    event_id: str
    entity: str
    reason: ReviewReason
    posterior: list[float]
    votes: dict[str, int]
    lfset_version: str

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-able dict."""
        return {
            "event_id": self.event_id,
            "entity": self.entity,
            "reason": self.reason,
            "posterior": list(self.posterior),
            "votes": dict(self.votes),
            "lfset_version": self.lfset_version,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReviewRecord:
        """Build the record from :meth:`to_dict`'s output."""
        c = "ReviewRecord"
        reason = _field(d, "reason", c)
        if reason not in ("uncertain", "conflict"):
            raise ValueError(f"ReviewRecord.from_dict: unknown reason {reason!r}")
        return cls(
            event_id=str(_field(d, "event_id", c)),
            entity=str(_field(d, "entity", c)),
            reason=reason,
            posterior=[float(p) for p in _field(d, "posterior", c)],
            votes={str(k): int(v) for k, v in _field(d, "votes", c).items()},
            lfset_version=str(_field(d, "lfset_version", c)),
        )


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """A late gold label for an event (a chargeback, an investigator's verdict).

    Attributes
    ----------
    event_id : str
        The labeled event.
    label : int
        The true class (checked against the labeler's cardinality when applied).
    source : str
        Who says so, e.g. ``"chargeback"`` or ``"investigator"``.
    at : float
        Epoch seconds of the verdict.

    Examples
    --------
    >>> from streamlabel.pipeline import FeedbackRecord
    >>> rec = FeedbackRecord("tx1", 1, "chargeback", 1.7e9)
    >>> FeedbackRecord.from_dict(rec.to_dict()) == rec
    True
    """

    event_id: str
    label: int
    source: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-able dict."""
        return {
            "event_id": self.event_id,
            "label": self.label,
            "source": self.source,
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeedbackRecord:
        """Build the record from :meth:`to_dict`'s output (no validation: see parse_feedback)."""
        c = "FeedbackRecord"
        return cls(
            event_id=str(_field(d, "event_id", c)),
            label=int(_field(d, "label", c)),
            source=str(_field(d, "source", c)),
            at=float(_field(d, "at", c)),
        )


class _Feedback(BaseModel):
    """Schema of a message on the ``feedback`` topic."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    event_id: Key
    label: Annotated[int, Field(ge=0, le=1_000_000)]
    source: Annotated[
        str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")
    ]
    at: Timestamp


def parse_feedback(
    raw: bytes | str | Mapping[str, Any], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> FeedbackRecord:
    """Parse and validate one feedback message (JSON bytes, text or a mapping).

    The message is ``{"event_id": str, "label": int >= 0, "source": str, "at": ts}`` with
    ``at`` as epoch seconds or ISO-8601, nothing else. Errors are
    :class:`~streamlabel.pipeline.InvalidEvent` with the same reasons as events.

    Examples
    --------
    >>> from streamlabel.pipeline import InvalidEvent, parse_feedback
    >>> parse_feedback('{"event_id": "tx1", "label": 1, "source": "chargeback", "at": 5}')
    FeedbackRecord(event_id='tx1', label=1, source='chargeback', at=5.0)
    >>> try:
    ...     parse_feedback({"event_id": "tx1", "label": "1", "source": "x", "at": 5})
    ... except InvalidEvent as e:
    ...     print(e.reason, e.field)
    wrong_type label
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be >= 1, got {max_bytes!r}")
    fb = parse_model(_Feedback, raw, max_bytes)
    return FeedbackRecord(fb.event_id, fb.label, fb.source, fb.at)
