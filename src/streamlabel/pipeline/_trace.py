"""The audit chain of one event: where it came from and everything said about it.

Every output of streamlabel is keyed by event id (labels, predictions, feedback, review,
revisions), so the topics themselves are the audit store: kept for their retention
(bounded storage), and one event's records all sit in one partition of each topic. A
:class:`Trace` is assembled from those records; the stream adapter finds them
(``streamlabel trace EVENT_ID``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Trace", "TraceRecord", "build_trace"]

#: Logical topics whose records enter a trace, in chain order.
TRACE_TOPICS = ("events", "labels", "revisions", "predictions", "feedback", "review")


@dataclass(frozen=True)
class TraceRecord:
    """One record of the chain: where it was read and its decoded value.

    Attributes
    ----------
    topic : str
        Logical topic (``labels``, ``predictions``, ...).
    partition, offset : int
        Its position.
    timestamp : float or None
        The broker's timestamp, epoch seconds.
    value : dict
        The decoded JSON value.
    """

    topic: str
    partition: int
    offset: int
    timestamp: float | None
    value: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-able dict."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp,
            "value": dict(self.value),
        }


@dataclass(frozen=True)
class Trace:
    """Everything known about one event, in chain order.

    Attributes
    ----------
    event_id : str
        The event.
    event : TraceRecord or None
        The event as read from ``events`` (at the source its label names), if retained.
    labels, revisions, predictions, feedback, review : tuple of TraceRecord
        Its records on each topic, in offset order (a redelivered batch may have labeled
        it twice; consumers de-duplicate by event id, the trace shows both).
    """

    event_id: str
    event: TraceRecord | None = None
    labels: tuple[TraceRecord, ...] = ()
    revisions: tuple[TraceRecord, ...] = ()
    predictions: tuple[TraceRecord, ...] = ()
    feedback: tuple[TraceRecord, ...] = ()
    review: tuple[TraceRecord, ...] = field(default=())

    @property
    def found(self) -> bool:
        """Whether any record of the event was found."""
        return any(
            (self.event, self.labels, self.revisions, self.predictions, self.feedback, self.review)
        )

    def current_label(self) -> dict[str, Any] | None:
        """Return the label that stands now: the newest revision, else the first label."""
        if self.revisions:
            rev = self.revisions[-1].value
            return {**dict(rev), "source": "revision"}
        if self.labels:
            return {"source": "labels", **dict(self.labels[0].value)}
        return None

    def to_dict(self) -> dict[str, Any]:
        """Return the trace as a JSON-able dict."""
        return {
            "event_id": self.event_id,
            "found": self.found,
            "event": None if self.event is None else self.event.to_dict(),
            "labels": [r.to_dict() for r in self.labels],
            "revisions": [r.to_dict() for r in self.revisions],
            "predictions": [r.to_dict() for r in self.predictions],
            "feedback": [r.to_dict() for r in self.feedback],
            "review": [r.to_dict() for r in self.review],
            "current_label": self.current_label(),
        }

    def render(self) -> str:
        """Return a readable, one line per link, account of the chain.

        Examples
        --------
        >>> t = build_trace("tx1", [
        ...     TraceRecord("labels", 0, 7, 1.0, {"event_id": "tx1", "label": 1,
        ...         "posterior": [0.1, 0.9], "lfset": "s", "lfset_version": "2",
        ...         "labelmodel_version": "3.1", "votes": {"big@1": 1},
        ...         "source": {"topic": "events", "partition": 1, "offset": 41}}),
        ...     TraceRecord("feedback", 0, 3, 2.0, {"event_id": "tx1", "label": 1,
        ...         "source": "chargeback"})])
        >>> print(t.render())
        event tx1
          read from events[1]@41 (not retained or not read)
          labels[0]@7: label 1 (0.100, 0.900), LF set s v2, label model 3.1, votes big@1=1
          feedback[0]@3: gold 1 (chargeback)
        """
        lines = [f"event {self.event_id}" + ("" if self.found else ": no record found")]
        first = self.labels[0].value if self.labels else None
        src = first.get("source") if first else None
        if isinstance(src, Mapping):
            where = f"{src.get('topic')}[{src.get('partition')}]@{src.get('offset')}"
            got = "" if self.event is not None else " (not retained or not read)"
            lines.append(f"  read from {where}{got}")
        if self.event is not None:
            payload = json.dumps(self.event.value.get("payload"), sort_keys=True)
            lines.append(f"  payload {payload[:200]}")

        def at(r: TraceRecord) -> str:
            return f"  {r.topic}[{r.partition}]@{r.offset}:"

        for r in self.labels:
            v = r.value
            post = ", ".join(f"{p:.3f}" for p in v.get("posterior", []))
            votes = " ".join(f"{k}={x}" for k, x in sorted(v.get("votes", {}).items())) or "none"
            lines.append(
                f"{at(r)} label {v.get('label')} ({post}), LF set {v.get('lfset')} "
                f"v{v.get('lfset_version')}, label model {v.get('labelmodel_version')}, "
                f"votes {votes}"
            )
        for r in self.review:
            lines.append(f"{at(r)} review ({r.value.get('reason')})")
        for r in self.revisions:
            v = r.value
            lines.append(
                f"{at(r)} revised {v.get('previous_label')} -> {v.get('label')} by LF set "
                f"v{v.get('lfset_version')} (replay {v.get('replay_id')}: {v.get('reason')})"
            )
        for r in self.predictions:
            v = r.value
            lines.append(
                f"{at(r)} predicted {v.get('label')} (score {v.get('score')}) by model "
                f"{v.get('model')} {v.get('version')}"
            )
        for r in self.feedback:
            v = r.value
            lines.append(f"{at(r)} gold {v.get('label')} ({v.get('source')})")
        return "\n".join(lines)


def build_trace(event_id: str, records: Iterable[TraceRecord]) -> Trace:
    """Assemble the trace of ``event_id`` from records found for it.

    Records of other events and of other topics are ignored; each topic's records are
    sorted by (partition, offset). The ``events`` record is the one at the source the
    first label names, if given.

    Examples
    --------
    >>> t = build_trace("a", [TraceRecord("predictions", 0, 2, None, {"event_id": "a"}),
    ...                       TraceRecord("predictions", 0, 1, None, {"event_id": "b"})])
    >>> [r.offset for r in t.predictions], t.found
    ([2], True)
    """
    by_topic: dict[str, list[TraceRecord]] = {t: [] for t in TRACE_TOPICS}
    for r in records:
        if r.topic not in by_topic:
            continue
        if r.topic == "events":
            if r.value.get("id") == event_id:
                by_topic["events"].append(r)
        elif r.value.get("event_id") == event_id:
            # Replay writes revisions to `labels` (the new label plus a "revision" object):
            # they are links of their own in the chain.
            rev = r.value.get("revision") if r.topic == "labels" else None
            if isinstance(rev, Mapping):
                by_topic["revisions"].append(
                    TraceRecord("labels", r.partition, r.offset, r.timestamp, rev)
                )
            else:
                by_topic[r.topic].append(r)
    for rs in by_topic.values():
        rs.sort(key=lambda r: (r.partition, r.offset))
    return Trace(
        event_id,
        by_topic["events"][0] if by_topic["events"] else None,
        tuple(by_topic["labels"]),
        tuple(by_topic["revisions"]),
        tuple(by_topic["predictions"]),
        tuple(by_topic["feedback"]),
        tuple(by_topic["review"]),
    )
