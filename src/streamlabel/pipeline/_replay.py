"""Replay: relabel past events with another LF set version; emit revisions where labels flip.

When analysts fix an LF set after a drift, the labels already emitted for the drifted
hours are wrong too. :class:`Relabeler` re-applies LF set version ``V`` to past events
with a *read-only copy* of the current label model and returns a :class:`RevisionRecord`
for every event whose label changes; :class:`ReplaySummary` counts the flips per class
pair and per LF whose vote changed. :func:`replay_log` does the whole replay over an
in-process event log (the embedded mode); ``streamlabel.stream`` drives the same core
over Kafka.

*A label changes* when the top class (``argmax`` of the posterior, the lowest class on
ties, as in :class:`~streamlabel.pipeline.LabelRecord`) differs from the previous label
of the event. A posterior that moves without changing the top class is **not** a
revision: only flips are published, so a replay's output is exact (no tolerance to tune)
and idempotent -- once a revision is the latest label of an event, replaying the same
range with the same version and model finds nothing new.

Nothing here imports Faust, Kafka clients or a web framework.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from streamlabel.labelmodel import OnlineLabelModel, dumps_model, loads_model
from streamlabel.lf import LFApplier, LFSet
from streamlabel.pipeline._events import DEFAULT_MAX_BYTES, Event, InvalidEvent, parse_event
from streamlabel.pipeline._labeler import RawInput
from streamlabel.pipeline._records import LabelRecord, Source, _field, _source_or_none
from streamlabel.pipeline._tracking import check_pair

__all__ = [
    "REVISION_KEY",
    "Relabeler",
    "ReplayBatch",
    "ReplayResult",
    "ReplaySummary",
    "RevisionRecord",
    "parse_label_value",
    "replay_log",
]

#: Key of the revision in a ``labels`` record value that carries one (see
#: :meth:`RevisionRecord.label_value`).
REVISION_KEY: Final = "revision"


def _lf_name(lf_id: str) -> str:
    return lf_id.rsplit("@", 1)[0]


@dataclass(frozen=True, slots=True)
class RevisionRecord:
    """A label that a replay changed: the previous label, the new one, and why.

    Attributes
    ----------
    event_id, entity : str
        The event (``labels`` is keyed by ``event_id``).
    lfset : str
        The LF set's name (the previous label is of the same set).
    previous_label, label : int
        The top class before and after (they differ: only flips are revisions).
    previous_posterior, posterior : list of float
        The posteriors before and after.
    previous_votes, votes : dict of str to int
        The non-abstain votes before (under the previous set version) and after.
    previous_lfset_version, lfset_version : str
        LF set versions before and after.
    previous_labelmodel_version, labelmodel_version : str
        Label-model versions before and after.
    reason : str
        Why the history was relabeled (the analyst's words, or a default naming the
        versions).
    replay_id : str
        The replay that made it.
    revised_at : float
        Epoch seconds (the replay's clock).
    source : Source or None
        Where the replayed event was read from.

    Examples
    --------
    >>> from streamlabel.pipeline import RevisionRecord
    >>> rev = RevisionRecord("tx1", "c1", "fraud", 1, [0.3, 0.7], {"gc@1": 1}, "1", "4.1",
    ...                      0, [0.9, 0.1], {}, "2", "4.1", "gift cards fixed", "r1", 1.7e9)
    >>> RevisionRecord.from_dict(rev.to_dict()) == rev
    True
    >>> rev.flip, rev.changed_lfs()
    ('1->0', ['gc'])
    """

    event_id: str
    entity: str
    lfset: str
    previous_label: int
    previous_posterior: list[float]
    previous_votes: dict[str, int]
    previous_lfset_version: str
    previous_labelmodel_version: str
    label: int
    posterior: list[float]
    votes: dict[str, int]
    lfset_version: str
    labelmodel_version: str
    reason: str
    replay_id: str
    revised_at: float
    source: Source | None = None

    @property
    def flip(self) -> str:
        """``"previous->new"`` class pair, e.g. ``"1->0"``."""
        return f"{self.previous_label}->{self.label}"

    def changed_lfs(self) -> list[str]:
        """LF *names* whose vote differs between the previous and the new votes (sorted).

        LFs are matched by name, so ``gc@1`` voting 1 and ``gc@2`` abstaining counts as
        a change of ``gc``; an LF voting the same class under two versions does not.
        """
        before = {_lf_name(i): v for i, v in self.previous_votes.items()}
        after = {_lf_name(i): v for i, v in self.votes.items()}
        return sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))

    def to_label_record(self) -> LabelRecord:
        """Return the new label as a :class:`LabelRecord` (``processing_seconds`` 0).

        Examples
        --------
        >>> from streamlabel.pipeline import RevisionRecord
        >>> rev = RevisionRecord("tx1", "c1", "fraud", 1, [0.3, 0.7], {}, "1", "a", 0,
        ...                      [0.9, 0.1], {}, "2", "a", "fix", "r1", 5.0)
        >>> rec = rev.to_label_record()
        >>> rec.label, rec.confidence, rec.lfset_version, rec.processed_at
        (0, 0.9, '2', 5.0)
        """
        return LabelRecord(
            self.event_id,
            self.entity,
            self.lfset,
            self.lfset_version,
            dict(self.votes),
            list(self.posterior),
            self.label,
            max(self.posterior),
            self.labelmodel_version,
            self.revised_at,
            0.0,
            self.source,
        )

    def label_value(self) -> dict[str, Any]:
        """Return the ``labels`` record value of the revision: the new label plus ``"revision"``.

        It is a :class:`LabelRecord` dict (so every consumer of ``labels``, the trainer's
        window included, reads the revised label as the event's latest label) with the
        whole revision under :data:`REVISION_KEY`; :func:`parse_label_value` reads both.
        """
        value = self.to_label_record().to_dict()
        value[REVISION_KEY] = self.to_dict()
        return value

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-able dict."""
        return {
            "event_id": self.event_id,
            "entity": self.entity,
            "lfset": self.lfset,
            "previous_label": self.previous_label,
            "previous_posterior": list(self.previous_posterior),
            "previous_votes": dict(self.previous_votes),
            "previous_lfset_version": self.previous_lfset_version,
            "previous_labelmodel_version": self.previous_labelmodel_version,
            "label": self.label,
            "posterior": list(self.posterior),
            "votes": dict(self.votes),
            "lfset_version": self.lfset_version,
            "labelmodel_version": self.labelmodel_version,
            "reason": self.reason,
            "replay_id": self.replay_id,
            "revised_at": self.revised_at,
            "source": None if self.source is None else self.source.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RevisionRecord:
        """Build the record from :meth:`to_dict`'s output."""
        c = "RevisionRecord"

        def votes(key: str) -> dict[str, int]:
            return {str(k): int(v) for k, v in _field(d, key, c).items()}

        def floats(key: str) -> list[float]:
            return [float(p) for p in _field(d, key, c)]

        return cls(
            event_id=str(_field(d, "event_id", c)),
            entity=str(_field(d, "entity", c)),
            lfset=str(_field(d, "lfset", c)),
            previous_label=int(_field(d, "previous_label", c)),
            previous_posterior=floats("previous_posterior"),
            previous_votes=votes("previous_votes"),
            previous_lfset_version=str(_field(d, "previous_lfset_version", c)),
            previous_labelmodel_version=str(_field(d, "previous_labelmodel_version", c)),
            label=int(_field(d, "label", c)),
            posterior=floats("posterior"),
            votes=votes("votes"),
            lfset_version=str(_field(d, "lfset_version", c)),
            labelmodel_version=str(_field(d, "labelmodel_version", c)),
            reason=str(_field(d, "reason", c)),
            replay_id=str(_field(d, "replay_id", c)),
            revised_at=float(_field(d, "revised_at", c)),
            source=_source_or_none(d.get("source")),
        )


def parse_label_value(d: Mapping[str, Any]) -> tuple[LabelRecord, RevisionRecord | None]:
    """Read a ``labels`` record value: the label, and the revision when it is one.

    Raises
    ------
    ValueError
        Not a label record (missing or malformed fields).

    Examples
    --------
    >>> from streamlabel.pipeline import RevisionRecord, parse_label_value
    >>> rev = RevisionRecord("tx1", "c1", "fraud", 1, [0.3, 0.7], {}, "1", "a", 0,
    ...                      [0.9, 0.1], {}, "2", "a", "fix", "r1", 5.0)
    >>> label, revision = parse_label_value(rev.label_value())
    >>> label.label, revision == rev
    (0, True)
    >>> parse_label_value(label.to_dict())[1] is None
    True
    """
    try:
        label = LabelRecord.from_dict(d)
        raw = d.get(REVISION_KEY)
        return label, None if raw is None else RevisionRecord.from_dict(raw)
    except (TypeError, AttributeError) as exc:
        raise ValueError(f"not a label record: {exc}") from None


@dataclass
class ReplaySummary:
    """What a replay found: events read, labels kept, labels flipped (per class, per LF).

    Attributes
    ----------
    events : int
        Events read from the range.
    invalid : int
        Events that do not parse (the labeler sent them to the DLQ; nothing to revise).
    unlabeled : int
        Valid events without a previous label of the set (the live labeler has not
        labeled them, e.g. it lags): left to the live labeler.
    unchanged : int
        Events whose top class stays (their posterior may move: not a revision).
    duplicates : int
        Events whose id already occurred earlier in the same batch (relabeled once).
    revised : int
        Revisions emitted (labels that flipped).
    flips : dict of str to int
        Revisions per ``"previous->new"`` class pair.
    lf_changes : dict of str to int
        Per LF name, the revisions on which that LF's vote differs between the previous
        and the new votes (see :meth:`RevisionRecord.changed_lfs`).

    Examples
    --------
    >>> from streamlabel.pipeline import ReplaySummary
    >>> s = ReplaySummary(events=3, unchanged=2, revised=1, flips={"1->0": 1})
    >>> s.merge(ReplaySummary(events=1, unlabeled=1)).to_dict()["events"]
    4
    """

    events: int = 0
    invalid: int = 0
    unlabeled: int = 0
    unchanged: int = 0
    duplicates: int = 0
    revised: int = 0
    flips: dict[str, int] = field(default_factory=dict)
    lf_changes: dict[str, int] = field(default_factory=dict)

    def add(self, revision: RevisionRecord) -> None:
        """Count one revision."""
        self.revised += 1
        self.flips[revision.flip] = self.flips.get(revision.flip, 0) + 1
        for name in revision.changed_lfs():
            self.lf_changes[name] = self.lf_changes.get(name, 0) + 1

    def merge(self, other: ReplaySummary) -> ReplaySummary:
        """Add ``other``'s counts into this summary; return it."""
        self.events += other.events
        self.invalid += other.invalid
        self.unlabeled += other.unlabeled
        self.unchanged += other.unchanged
        self.duplicates += other.duplicates
        self.revised += other.revised
        for k, v in other.flips.items():
            self.flips[k] = self.flips.get(k, 0) + v
        for k, v in other.lf_changes.items():
            self.lf_changes[k] = self.lf_changes.get(k, 0) + v
        return self

    def to_dict(self) -> dict[str, Any]:
        """Return the counts as a JSON-able dict (keys sorted)."""
        return {
            "events": self.events,
            "invalid": self.invalid,
            "unlabeled": self.unlabeled,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "revised": self.revised,
            "flips": dict(sorted(self.flips.items())),
            "lf_changes": dict(sorted(self.lf_changes.items(), key=lambda kv: (-kv[1], kv[0]))),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReplaySummary:
        """Build the summary from :meth:`to_dict`'s output."""
        return cls(
            events=int(d.get("events", 0)),
            invalid=int(d.get("invalid", 0)),
            unlabeled=int(d.get("unlabeled", 0)),
            unchanged=int(d.get("unchanged", 0)),
            duplicates=int(d.get("duplicates", 0)),
            revised=int(d.get("revised", 0)),
            flips={str(k): int(v) for k, v in d.get("flips", {}).items()},
            lf_changes={str(k): int(v) for k, v in d.get("lf_changes", {}).items()},
        )

    def to_table(self, label_names: Sequence[str] | None = None) -> str:
        """Return a short text report: counts, flips per class pair, changed LFs.

        Examples
        --------
        >>> from streamlabel.pipeline import ReplaySummary
        >>> s = ReplaySummary(events=10, unchanged=8, revised=2, flips={"1->0": 2},
        ...                   lf_changes={"gift_card_cashout": 2})
        >>> print(s.to_table(["legit", "fraud"]))
        events 10: revised 2, unchanged 8, unlabeled 0, invalid 0
        flips: fraud->legit 2
        changed LFs: gift_card_cashout 2
        """

        def name(c: str) -> str:
            if label_names is None:
                return c
            i = int(c)
            return label_names[i] if 0 <= i < len(label_names) else c

        lines = [
            f"events {self.events}: revised {self.revised}, unchanged {self.unchanged}, "
            f"unlabeled {self.unlabeled}, invalid {self.invalid}"
        ]
        flips = []
        for pair, n in sorted(self.flips.items()):
            a, b = pair.split("->")
            flips.append(f"{name(a)}->{name(b)} {n}")
        lines.append("flips: " + (", ".join(flips) if flips else "none"))
        lfs = self.to_dict()["lf_changes"]
        lines.append("changed LFs: " + (", ".join(f"{k} {v}" for k, v in lfs.items()) or "none"))
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class ReplayBatch:
    """What :meth:`Relabeler.relabel_many` found in one batch.

    Attributes
    ----------
    revisions : list of RevisionRecord
        One per event whose label flips, in input order.
    summary : ReplaySummary
        The batch's counts.
    """

    revisions: list[RevisionRecord]
    summary: ReplaySummary


class Relabeler:
    """Relabel past events with LF set version ``lfset`` and a frozen label model.

    Parameters
    ----------
    lfset
        The LF set version to apply (``V``).
    model
        The current label model. The relabeler predicts with a **copy** (it never
        learns: replaying history must not move the live model, and the copy keeps
        every batch of one replay on the same parameters, which makes it reproducible).
        LFs of ``lfset`` the model does not know are added to the copy as the live
        labeler's hot reload adds them: a new version of a known LF inherits its
        estimate, a new LF starts at the prior.
    replay_id
        Names the replay in every revision.
    reason
        Why (stored in every revision); default ``"replay with <set> v<V>"``.
    clock
        Epoch seconds for ``revised_at``.
    max_bytes
        Largest event parsed (larger ones count as invalid).

    Attributes
    ----------
    labelmodel_version : str
        Version of the copy's parameters (the new labels' ``labelmodel_version``).

    Examples
    --------
    >>> from streamlabel.labelmodel import OnlineLabelModel
    >>> from streamlabel.lf import load_lfset
    >>> from streamlabel.pipeline import LabelRecord, Relabeler
    >>> def lfset(version, value):
    ...     return load_lfset({"name": "fraud", "version": version, "cardinality": 2,
    ...         "lfs": [{"name": "big", "label": 1, "version": version, "when":
    ...         {"kind": "threshold", "field": "amount", "op": "gt", "value": value}}]})
    >>> relabeler = Relabeler(lfset("2", 5000), OnlineLabelModel(cardinality=2),
    ...                       replay_id="r1", clock=lambda: 0.0)
    >>> event = {"id": "tx1", "ts": 0, "entity": "c1", "payload": {"amount": 1500}}
    >>> before = LabelRecord("tx1", "c1", "fraud", "1", {"big@1": 1}, [0.2, 0.8], 1, 0.8,
    ...                      "0", 0.0, 0.0, None)
    >>> out = relabeler.relabel_many([(event, None)], {"tx1": before})
    >>> [(r.event_id, r.flip, r.changed_lfs()) for r in out.revisions]
    [('tx1', '1->0', ['big'])]
    >>> relabeler.relabel_many([(event, None)], {"tx1": out.revisions[0].to_label_record()}
    ...                        ).summary.revised
    0
    """

    def __init__(
        self,
        lfset: LFSet,
        model: OnlineLabelModel,
        *,
        replay_id: str,
        reason: str | None = None,
        clock: Callable[[], float] = time.time,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        check_pair(lfset, model)
        if not replay_id:
            raise ValueError("replay_id must be a non-empty string")
        self.lfset = lfset
        # The npz round trip is the model's own exact copy (no shared arrays).
        self.model = loads_model(dumps_model(model))
        known = set(self.model.lf_ids_) if self.model.n_lfs_ else set()
        for lf_id in lfset.ids:
            if lf_id not in known:
                self.model.add_lf(lf_id)  # inherits from a known version of the same name
        self.labelmodel_version = self.model.version_
        self.replay_id = replay_id
        self.reason = reason or f"replay with {lfset.name} v{lfset.version}"
        self.clock = clock
        self.max_bytes = max_bytes
        self._applier = LFApplier(lfset).reset()

    def relabel_many(
        self,
        events: Sequence[RawInput],
        previous: Mapping[str, LabelRecord] | Callable[[list[str]], Mapping[str, LabelRecord]],
    ) -> ReplayBatch:
        """Relabel a batch; return revisions for the events whose top class changes.

        Parameters
        ----------
        events
            ``(value, source)`` pairs as for :meth:`Labeler.process_many`.
        previous
            The latest label per event id (an original label or an earlier revision's
            new label), or a function called once with the batch's valid event ids that
            returns them (a look-up in an index); only labels of this set's name are
            compared (others count as unlabeled).

        Returns
        -------
        ReplayBatch
            The revisions and the batch's summary.
        """
        summary = ReplaySummary(events=len(events))
        valid: list[tuple[Event, Source | None]] = []
        seen: set[str] = set()
        for raw, source in events:
            try:
                event = parse_event(raw, max_bytes=self.max_bytes)
            except InvalidEvent:
                summary.invalid += 1
                continue
            if event.id in seen:
                summary.duplicates += 1
                continue
            seen.add(event.id)
            valid.append((event, source))
        found = previous([e.id for e, _ in valid]) if callable(previous) else previous
        parsed: list[tuple[Event, Source | None, LabelRecord]] = []
        for event, source in valid:
            prev = found.get(event.id)
            if prev is None or prev.lfset != self.lfset.name:
                summary.unlabeled += 1
                continue
            parsed.append((event, source, prev))
        revisions: list[RevisionRecord] = []
        if parsed:
            ids = self.lfset.ids
            L = self._applier.apply_many([e.payload for e, _, _ in parsed])
            P = self.model.predict_proba_many(L, ids)
            top: list[int] = np.argmax(P, axis=1).tolist()
            at = self.clock()
            for row, ((event, source, prev), y) in enumerate(zip(parsed, top, strict=True)):
                if y == prev.label:
                    summary.unchanged += 1
                    continue
                votes = {i: int(v) for i, v in zip(ids, L[row].tolist(), strict=True) if v >= 0}
                rev = RevisionRecord(
                    event.id,
                    event.entity,
                    self.lfset.name,
                    prev.label,
                    list(prev.posterior),
                    dict(prev.votes),
                    prev.lfset_version,
                    prev.labelmodel_version,
                    y,
                    P[row].tolist(),
                    votes,
                    self.lfset.version,
                    self.labelmodel_version,
                    self.reason,
                    self.replay_id,
                    at,
                    source,
                )
                revisions.append(rev)
                summary.add(rev)
        return ReplayBatch(revisions, summary)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What :func:`replay_log` did: the revisions (in log order) and the summary."""

    revisions: list[RevisionRecord]
    summary: ReplaySummary


def replay_log(
    events: Iterable[Mapping[str, Any] | bytes | str],
    labels: Iterable[LabelRecord | Mapping[str, Any]],
    lfset: LFSet,
    model: OnlineLabelModel,
    *,
    replay_id: str,
    reason: str | None = None,
    batch_size: int = 1_000,
    clock: Callable[[], float] = time.time,
) -> ReplayResult:
    """Replay an in-process event log (the embedded mode) with LF set version ``lfset``.

    Parameters
    ----------
    events
        The events to relabel, in log order: what :func:`parse_event` reads (dicts, or
        the raw message values of a log; malformed ones count as ``invalid``).
    labels
        The label records emitted so far (records or their dicts; revisions of earlier
        replays included, as :meth:`RevisionRecord.label_value` dicts or their
        :meth:`RevisionRecord.to_label_record`), in emission order: the last one per
        event id is the previous label.
    lfset, model, replay_id, reason, clock
        As for :class:`Relabeler` (the model is copied, never trained).
    batch_size
        Events per :meth:`Relabeler.relabel_many` call.

    Returns
    -------
    ReplayResult
        The revisions to append to the label log, and the summary. Appending them and
        replaying again yields no revision (idempotent).

    Examples
    --------
    >>> from streamlabel.datasets import fraud_lfsets, make_fraud_stream
    >>> from streamlabel.labelmodel import OnlineLabelModel
    >>> from streamlabel.pipeline import Labeler, replay_log
    >>> v1, v2 = fraud_lfsets()[:2]
    >>> stream = make_fraud_stream(4000, seed=0)
    >>> labeler = Labeler(v1, OnlineLabelModel(cardinality=2))
    >>> labels = [r for i in range(0, 4000, 500)
    ...           for r in labeler.process_many([(e, None) for e in stream.events[i:i + 500]]
    ...                                         ).labels]
    >>> drifted = stream.events[800:1600]  # the tactic_change phase
    >>> first = replay_log(drifted, labels, v2, labeler.model, replay_id="r1")
    >>> first.summary.revised > 0, first.summary.lf_changes["gift_card_cashout"] > 0
    (True, True)
    >>> labels += [r.label_value() for r in first.revisions]
    >>> replay_log(drifted, labels, v2, labeler.model, replay_id="r2").summary.revised
    0
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    previous: dict[str, LabelRecord] = {}
    for rec in labels:
        label = rec if isinstance(rec, LabelRecord) else parse_label_value(rec)[0]
        previous[label.event_id] = label
    relabeler = Relabeler(lfset, model, replay_id=replay_id, reason=reason, clock=clock)
    revisions: list[RevisionRecord] = []
    summary = ReplaySummary()
    batch: list[RawInput] = []

    def flush() -> None:
        out = relabeler.relabel_many(batch, previous)
        for rev in out.revisions:
            # An event met twice in the log is compared with its revision the second time.
            previous[rev.event_id] = rev.to_label_record()
        revisions.extend(out.revisions)
        summary.merge(out.summary)
        batch.clear()

    for event in events:
        batch.append((event, None))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return ReplayResult(revisions, summary)
