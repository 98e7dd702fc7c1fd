"""Retraining on a window of recent labeled events: champion/challenger, registry, record.

:class:`TrainingWindow` joins event payloads (``events``) with their probabilistic labels
(``labels``) by event id, late gold labels (``feedback``) taking precedence; memory is
bounded everywhere. :class:`Trainer` fits a challenger on the window's training side,
compares it with the registry's champion on the held-out side and, if it is better,
promotes it and returns the :class:`~streamlabel.models.ModelRecord` to publish on the
compacted ``models`` topic.

The holdout is a deterministic hash of the event id, not "the most recent events": an
event is then on the same side for every model ever trained, so a champion is never
evaluated on events it was trained on (with a recency split, the holdout of today was the
training data of yesterday's champion, which would flatter it).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from streamlabel.drift import RetrainRequest
from streamlabel.models import (
    METRICS,
    Decision,
    EndModel,
    Lineage,
    ModelRecord,
    ModelRegistry,
    ModelVersion,
    PayloadFeaturizer,
    decide,
    evaluate,
)
from streamlabel.pipeline._records import FeedbackRecord, LabelRecord

__all__ = ["Example", "Trainer", "TrainingResult", "TrainingWindow"]

_HASH_SPACE = 1 << 64


@dataclass(frozen=True, slots=True)
class Example:
    """One labeled event of the window.

    Attributes
    ----------
    event_id : str
        The event.
    payload : mapping
        What the end model reads.
    posterior : tuple of float
        The label model's class probabilities.
    label : int
        Its top class.
    confidence : float
        Its top probability.
    gold : int or None
        A late gold label, when one arrived (it wins over ``label``).
    lfset, lfset_version, labelmodel_version : str
        Where the label came from (the model's lineage).
    holdout : bool
        Whether it is on the held-out side (:meth:`TrainingWindow.is_holdout`).
    """

    event_id: str
    payload: Mapping[str, Any]
    posterior: tuple[float, ...]
    label: int
    confidence: float
    gold: int | None
    lfset: str
    lfset_version: str
    labelmodel_version: str
    holdout: bool = False


@dataclass(frozen=True, slots=True)
class _Label:
    posterior: tuple[float, ...]
    label: int
    confidence: float
    lfset: str
    lfset_version: str
    labelmodel_version: str


def _bounded_put(d: OrderedDict[str, Any], key: str, value: Any, cap: int) -> int:
    """Insert or refresh ``key`` (most recent last); return how many old entries fell out."""
    d[key] = value
    d.move_to_end(key)
    dropped = 0
    while len(d) > cap:
        d.popitem(last=False)
        dropped += 1
    return dropped


class TrainingWindow:
    """The most recent labeled events, joined from three topics, with a holdout split.

    Events and labels arrive on different topics in any order: each waits (bounded, least
    recently added dropped first, counted) for the other; once both are in, the event
    joins the window, which keeps the ``max_events`` most recently joined ones. A gold
    label (``feedback``) replaces the label model's label; the first gold label of an
    event wins (a redelivered message changes nothing); gold that arrives before its
    event waits like the rest.

    Parameters
    ----------
    max_events
        Joined events kept (the training window).
    max_pending
        Events waiting for their label, labels waiting for their event and gold labels
        waiting for either: at most this many of each.
    holdout_fraction
        Share of event ids on the held-out side (a hash of the id decides: see
        :meth:`is_holdout`).
    n_classes
        Classes of the labels; a label record with another posterior length is ignored.
    lfset
        When given, label records of other LF sets are ignored.

    Attributes
    ----------
    joined_ : int
        Events that joined so far (the trainer's clock).
    events_in_, labels_in_, gold_in_ : int
        Records offered.
    evicted_ : int
        Joined events pushed out of the window by newer ones.
    dropped_events_, dropped_labels_, dropped_gold_ : int
        Pending items dropped because ``max_pending`` was reached.
    duplicates_ : int
        Re-deliveries: an event already joined or waiting, a label for a joined event
        (the newer label replaces the older), a second gold label.
    ignored_ : int
        Labels of another LF set or with the wrong number of classes, gold labels
        outside the classes.

    Examples
    --------
    >>> from streamlabel.pipeline import FeedbackRecord, LabelRecord, TrainingWindow
    >>> w = TrainingWindow(max_events=100, holdout_fraction=0.5)
    >>> w.add_event("tx1", {"amount": 5.0})
    False
    >>> rec = LabelRecord("tx1", "c1", "fraud", "1", {}, [0.8, 0.2], 0, 0.8, "1.0", 0.0,
    ...                   1e-5, None)
    >>> w.add_label(rec), len(w)
    (True, 1)
    >>> w.add_gold(FeedbackRecord("tx1", 1, "chargeback", 1.0)), w.examples()[0].gold
    (True, 1)
    """

    def __init__(
        self,
        max_events: int = 10_000,
        *,
        max_pending: int = 10_000,
        holdout_fraction: float = 0.2,
        n_classes: int = 2,
        lfset: str | None = None,
    ) -> None:
        for name, value, minimum in (
            ("max_events", max_events, 1),
            ("max_pending", max_pending, 1),
            ("n_classes", n_classes, 2),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
        if not 0.0 < holdout_fraction < 1.0:
            raise ValueError(f"holdout_fraction must be in (0, 1), got {holdout_fraction!r}")
        self.max_events = max_events
        self.max_pending = max_pending
        self.holdout_fraction = float(holdout_fraction)
        self.n_classes = n_classes
        self.lfset = lfset
        self._threshold = int(self.holdout_fraction * _HASH_SPACE)
        self._joined: OrderedDict[str, Example] = OrderedDict()
        self._events: OrderedDict[str, Mapping[str, Any]] = OrderedDict()
        self._labels: OrderedDict[str, _Label] = OrderedDict()
        self._gold: OrderedDict[str, int] = OrderedDict()
        self.joined_ = 0
        self.events_in_ = self.labels_in_ = self.gold_in_ = 0
        self.evicted_ = 0
        self.dropped_events_ = self.dropped_labels_ = self.dropped_gold_ = 0
        self.duplicates_ = 0
        self.ignored_ = 0

    def __len__(self) -> int:
        return len(self._joined)

    @property
    def pending(self) -> dict[str, int]:
        """How many events, labels and gold labels wait for their counterpart."""
        return {"events": len(self._events), "labels": len(self._labels), "gold": len(self._gold)}

    def is_holdout(self, event_id: str) -> bool:
        """Whether ``event_id`` is on the held-out side (BLAKE2b of the id, stable).

        Examples
        --------
        >>> w = TrainingWindow(holdout_fraction=0.2)
        >>> w.is_holdout("tx1") == w.is_holdout("tx1")
        True
        >>> sum(w.is_holdout(f"tx{i}") for i in range(100_000)) / 100_000
        0.20101
        """
        digest = hashlib.blake2b(event_id.encode("utf-8"), digest_size=8).digest()
        return int.from_bytes(digest, "big") < self._threshold

    # ------------------------------------------------------------------ input
    def add_event(self, event_id: str, payload: Mapping[str, Any]) -> bool:
        """Offer an event's payload; return whether it joined the window now."""
        self.events_in_ += 1
        if event_id in self._joined or event_id in self._events:
            self.duplicates_ += 1
            return False
        label = self._labels.pop(event_id, None)
        if label is None:
            self.dropped_events_ += _bounded_put(self._events, event_id, payload, self.max_pending)
            return False
        self._join(event_id, payload, label)
        return True

    def add_label(self, record: LabelRecord | Mapping[str, Any]) -> bool:
        """Offer a label record (or its dict); return whether its event joined now.

        Raises
        ------
        ValueError
            A dict that is not a label record (missing or malformed fields).
        """
        rec = record if isinstance(record, LabelRecord) else LabelRecord.from_dict(record)
        self.labels_in_ += 1
        k = self.n_classes
        if (self.lfset is not None and rec.lfset != self.lfset) or len(rec.posterior) != k:
            self.ignored_ += 1
            return False
        if not 0 <= rec.label < k:
            self.ignored_ += 1
            return False
        label = _Label(
            tuple(rec.posterior),
            rec.label,
            rec.confidence,
            rec.lfset,
            rec.lfset_version,
            rec.labelmodel_version,
        )
        eid = rec.event_id
        old = self._joined.get(eid)
        if old is not None:  # a re-delivery or a re-label after a labeler restart
            self.duplicates_ += 1
            self._joined[eid] = dataclasses.replace(
                old,
                posterior=label.posterior,
                label=label.label,
                confidence=label.confidence,
                lfset=label.lfset,
                lfset_version=label.lfset_version,
                labelmodel_version=label.labelmodel_version,
            )
            return False
        payload = self._events.pop(eid, None)
        if payload is None:
            if eid in self._labels:
                self.duplicates_ += 1
            self.dropped_labels_ += _bounded_put(self._labels, eid, label, self.max_pending)
            return False
        self._join(eid, payload, label)
        return True

    def add_gold(self, record: FeedbackRecord) -> bool:
        """Offer a late gold label; return whether it was applied to a joined event now.

        Gold for an event not joined yet waits (bounded) and is applied when it joins.
        """
        self.gold_in_ += 1
        eid, gold = record.event_id, record.label
        if isinstance(gold, bool) or not 0 <= gold < self.n_classes:
            self.ignored_ += 1
            return False
        ex = self._joined.get(eid)
        if ex is not None:
            if ex.gold is not None:
                self.duplicates_ += 1
                return False
            self._joined[eid] = dataclasses.replace(ex, gold=gold)
            return True
        if eid in self._gold:
            self.duplicates_ += 1
            return False
        self.dropped_gold_ += _bounded_put(self._gold, eid, gold, self.max_pending)
        return False

    def _join(self, eid: str, payload: Mapping[str, Any], label: _Label) -> None:
        gold = self._gold.pop(eid, None)
        self._joined[eid] = Example(
            eid,
            payload,
            label.posterior,
            label.label,
            label.confidence,
            gold,
            label.lfset,
            label.lfset_version,
            label.labelmodel_version,
            self.is_holdout(eid),
        )
        self.joined_ += 1
        while len(self._joined) > self.max_events:
            self._joined.popitem(last=False)
            self.evicted_ += 1

    # ------------------------------------------------------------------ output
    def examples(self) -> list[Example]:
        """Return the joined events, oldest first."""
        return list(self._joined.values())

    def split(self) -> tuple[list[Example], list[Example]]:
        """Return ``(train, holdout)``, each oldest first (see :meth:`is_holdout`)."""
        train: list[Example] = []
        holdout: list[Example] = []
        for ex in self._joined.values():
            (holdout if ex.holdout else train).append(ex)
        return train, holdout


@dataclass(frozen=True)
class TrainingResult:
    """What one training round did.

    Attributes
    ----------
    trigger : {"schedule", "request", "manual"}
        What started it.
    reason : str
        Why it ran (the schedule, the retraining request's reason) and, when nothing was
        trained, why not.
    trained : bool
        Whether a challenger was fitted and registered.
    promoted : bool
        Whether it became the champion.
    truth : {"gold", "labels"} or None
        What the holdout was scored against: gold labels only (enough of them), or every
        held-out event with gold where known and the label model's label elsewhere.
    n_train, n_holdout : int
        Events trained on and scored on.
    at : int
        :attr:`TrainingWindow.joined_` when it ran.
    challenger, champion : dict of str to float, optional
        :func:`~streamlabel.models.evaluate` metrics on the holdout (``champion`` is None
        without a champion).
    decision : Decision, optional
        The champion/challenger decision.
    version : ModelVersion, optional
        The registered challenger.
    record : ModelRecord, optional
        The ``models`` record to publish: only when promoted.
    """

    trigger: Literal["schedule", "request", "manual"]
    reason: str
    trained: bool
    promoted: bool = False
    truth: Literal["gold", "labels"] | None = None
    n_train: int = 0
    n_holdout: int = 0
    at: int = 0
    challenger: dict[str, float] | None = None
    champion: dict[str, float] | None = None
    decision: Decision | None = None
    version: ModelVersion | None = None
    record: ModelRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-able dict (the record's artifact left out)."""
        return {
            "trigger": self.trigger,
            "reason": self.reason,
            "trained": self.trained,
            "promoted": self.promoted,
            "truth": self.truth,
            "n_train": self.n_train,
            "n_holdout": self.n_holdout,
            "at": self.at,
            "challenger": self.challenger,
            "champion": self.champion,
            "decision": None if self.decision is None else self.decision.to_dict(),
            "version": None if self.version is None else self.version.version,
        }


class Trainer:
    """Fit challengers on a :class:`TrainingWindow`; promote the better ones in a registry.

    A round (:meth:`train`) fits an :class:`~streamlabel.models.EndModel` on the window's
    training side, scores it and the registry's champion on the holdout, registers it
    (every challenger is kept: the registry is the audit trail) and promotes it when
    :func:`~streamlabel.models.decide` says so; the result then carries the
    :class:`~streamlabel.models.ModelRecord` to publish. Rounds start on a schedule
    (:meth:`poll`: every ``every`` joined events) or on a retraining request
    (:meth:`offer_request`), which is dropped within ``cooldown`` joined events of the
    previous round, and waits (the latest one) while the window is too small to train:
    :meth:`poll` runs it once it is big enough (a round of any kind answers it). Time is
    :attr:`TrainingWindow.joined_`, never a clock, so a replay decides the same.

    Training labels default to the label model's top class weighted by its confidence,
    gold labels with weight 1: the online label model's class balance can be poorly
    calibrated, and soft labels then teach its bias (``docs/architecture.md``, end
    models). ``soft_labels=True`` trains on the posteriors instead (gold as one-hot).

    Parameters
    ----------
    window
        Where the labeled events are.
    registry
        Where challengers are registered and the champion is kept.
    featurizer
        The end models' features (its configuration; each model fits a copy).
    name
        Model name: the ``models`` topic key.
    every
        Joined events between scheduled rounds; 0 turns the schedule off.
    cooldown
        Joined events after a round during which retraining requests are dropped.
    min_train, min_holdout
        Fewest training and held-out events a round needs (else it is skipped).
    min_gold
        Held-out gold labels needed to score against gold only (``truth="gold"``).
    margin, metric
        Passed to :func:`~streamlabel.models.decide`.
    soft_labels
        Train on posteriors rather than top class with confidence weights.
    C, max_iter
        Passed to :class:`~streamlabel.models.EndModel`.
    actor
        Who promotes, in the registry's history.

    Attributes
    ----------
    results_ : list of TrainingResult
        Every round, in order (the record's artifact bytes are not kept).
    requests_ : int
        Retraining requests offered.
    requests_suppressed_ : int
        Requests dropped in the cooldown.
    requests_deferred_ : int
        Requests that had to wait for the window to fill.
    promotions_ : int
        Rounds that promoted their challenger.

    Examples
    --------
    >>> import tempfile
    >>> from streamlabel.models import ModelRegistry, PayloadFeaturizer
    >>> from streamlabel.pipeline import LabelRecord, Trainer, TrainingWindow
    >>> w = TrainingWindow(holdout_fraction=0.3)
    >>> for i in range(200):
    ...     y = i % 2
    ...     w.add_event(f"e{i}", {"x": float(y)})
    ...     _ = w.add_label(LabelRecord(f"e{i}", "c", "s", "1", {}, [1.0 - y, float(y)], y,
    ...                                 1.0, "0.5", 0.0, 0.0, None))
    False...
    >>> with tempfile.TemporaryDirectory() as d:
    ...     t = Trainer(w, ModelRegistry(d), PayloadFeaturizer(numeric_fields=["x"],
    ...                 n_features=1), name="toy", min_train=50, min_holdout=20)
    ...     first = t.train()
    ...     again = t.train()  # the same data: a tie keeps the champion
    >>> first.promoted, first.record.name, first.challenger["accuracy"], first.truth
    (True, 'toy', 1.0, 'labels')
    >>> again.trained, again.promoted, again.record
    (True, False, None)
    """

    def __init__(
        self,
        window: TrainingWindow,
        registry: ModelRegistry,
        featurizer: PayloadFeaturizer,
        *,
        name: str = "default",
        every: int = 0,
        cooldown: int = 0,
        min_train: int = 200,
        min_holdout: int = 50,
        min_gold: int = 50,
        margin: float = 0.0,
        metric: str = "accuracy",
        soft_labels: bool = False,
        C: float = 1.0,
        max_iter: int = 1000,
        actor: str = "trainer",
    ) -> None:
        for label, value in (
            ("every", every),
            ("cooldown", cooldown),
            ("min_train", min_train),
            ("min_holdout", min_holdout),
            ("min_gold", min_gold),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{label} must be an int >= 0, got {value!r}")
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
        if not name:
            raise ValueError("name must not be empty")
        self.window = window
        self.registry = registry
        self.featurizer = featurizer
        self.name = name
        self.every = every
        self.cooldown = cooldown
        self.min_train = max(1, min_train)
        self.min_holdout = max(1, min_holdout)
        self.min_gold = max(1, min_gold)
        self.margin = float(margin)
        self.metric = metric
        self.soft_labels = soft_labels
        self.C = C
        self.max_iter = max_iter
        self.actor = actor
        self.results_: list[TrainingResult] = []
        self.requests_ = 0
        self.requests_suppressed_ = 0
        self.requests_deferred_ = 0
        self._waiting: RetrainRequest | None = None
        self._schedule_from = 0
        self.promotions_ = 0
        self._last_round: int | None = None
        self._champion: tuple[str, EndModel] | None = None

    # ------------------------------------------------------------------ triggers
    def due(self) -> bool:
        """Whether the schedule asks for a round now."""
        if not self.every:
            return False
        since = self.window.joined_ - max(self._last_round or 0, self._schedule_from)
        return since >= self.every

    def reset_schedule(self) -> None:
        """Count the schedule from now, e.g. after the window was refilled at start-up.

        Refilled events were (mostly) seen by the champion's round already; without this
        the schedule would train again at once. The cooldown of requests is unchanged.
        """
        self._schedule_from = self.window.joined_

    @property
    def waiting(self) -> RetrainRequest | None:
        """A retraining request waiting for the window to be big enough, if any."""
        return self._waiting

    def poll(self) -> TrainingResult | None:
        """Run a waiting request or a due scheduled round if the window is big enough.

        Returns None when nothing ran.
        """
        if (self._waiting is None and not self.due()) or not self._enough(*self.window.split()):
            return None
        if self._waiting is not None:
            return self.train("request", f"retraining request: {self._waiting.reason}")
        n = self.window.joined_ - max(self._last_round or 0, self._schedule_from)
        return self.train("schedule", f"schedule: {n} labeled events since the last round")

    def offer_request(self, request: RetrainRequest) -> TrainingResult | None:
        """Run a round for a retraining request now.

        Returns None when the request falls in the cooldown (dropped) or when the window
        is too small (it waits: :meth:`poll` runs it later).
        """
        self.requests_ += 1
        now = self.window.joined_
        if self._last_round is not None and now - self._last_round < self.cooldown:
            self.requests_suppressed_ += 1
            return None
        if not self._enough(*self.window.split()):
            self.requests_deferred_ += 1
            self._waiting = request
            return None
        return self.train("request", f"retraining request: {request.reason}")

    # ------------------------------------------------------------------ the round
    def _enough(self, train: Sequence[Example], holdout: Sequence[Example]) -> bool:
        return len(train) >= self.min_train and len(holdout) >= self.min_holdout

    def champion(self) -> tuple[ModelVersion, EndModel] | None:
        """Return the registry's champion and its model (loaded once per version, hash-checked)."""
        mv = self.registry.champion
        if mv is None:
            return None
        if self._champion is None or self._champion[0] != mv.version:
            self._champion = (mv.version, self.registry.load(mv))
        return mv, self._champion[1]

    def _labels(self, train: Sequence[Example]) -> tuple[Any, Any]:
        k = self.window.n_classes
        if self.soft_labels:
            soft = np.array([ex.posterior for ex in train], dtype=np.float64).reshape(-1, k)
            soft = soft / soft.sum(axis=1, keepdims=True)
            for i, ex in enumerate(train):
                if ex.gold is not None:
                    soft[i] = np.eye(k)[ex.gold]
            return soft, None
        y = np.array([ex.label if ex.gold is None else ex.gold for ex in train], dtype=np.int64)
        w = np.array([ex.confidence if ex.gold is None else 1.0 for ex in train])
        return y, w

    def train(
        self, trigger: Literal["schedule", "request", "manual"] = "manual", why: str = "manual"
    ) -> TrainingResult:
        """Run one round now (see the class description) and return what it did."""
        window = self.window
        at = window.joined_
        train, holdout = window.split()
        if not self._enough(train, holdout):
            return self._done(
                TrainingResult(
                    trigger,
                    f"{why}; skipped: {len(train)} training and {len(holdout)} held-out "
                    f"events, {self.min_train} and {self.min_holdout} needed",
                    False,
                    n_train=len(train),
                    n_holdout=len(holdout),
                    at=at,
                ),
                ran=False,
            )
        k = window.n_classes
        y, w = self._labels(train)
        try:
            model = EndModel(self.featurizer, C=self.C, max_iter=self.max_iter).fit(
                [ex.payload for ex in train], y, sample_weight=w, n_classes=k
            )
        except ValueError as exc:  # e.g. one class only in the window
            return self._done(
                TrainingResult(
                    trigger,
                    f"{why}; training failed: {exc}",
                    False,
                    n_train=len(train),
                    n_holdout=len(holdout),
                    at=at,
                ),
                ran=True,
            )
        gold = [ex for ex in holdout if ex.gold is not None]
        truth: Literal["gold", "labels"]
        if len(gold) >= self.min_gold:
            scored, truth = gold, "gold"
        else:
            scored, truth = holdout, "labels"
        payloads = [ex.payload for ex in scored]
        target = [ex.label if ex.gold is None else ex.gold for ex in scored]
        challenger = evaluate(model, payloads, target)
        if self.metric not in challenger:  # AUC is undefined on a one-class holdout
            return self._done(
                TrainingResult(
                    trigger,
                    f"{why}; not compared: no {self.metric} on a holdout of one class",
                    False,
                    truth=truth,
                    n_train=len(train),
                    n_holdout=len(scored),
                    at=at,
                    challenger=challenger,
                ),
                ran=True,
            )
        found = self.champion()
        champion = None if found is None else evaluate(found[1], payloads, target)
        decision = decide(champion, challenger, margin=self.margin, metric=self.metric)
        newest = train[-1]
        lineage = Lineage(newest.lfset, newest.lfset_version, newest.labelmodel_version, len(train))
        parent = None if found is None else found[0].version
        version = self.registry.register(model, challenger, lineage, parent=parent)
        record = None
        if decision.promote:
            entry = self.registry.promote(
                version.version, f"{why}; {decision.reason}", actor=self.actor, decision=decision
            )
            self._champion = (version.version, model)
            self.promotions_ += 1
            record = ModelRecord(
                self.name, version, entry, self.registry.path_of(version).read_bytes()
            )
        return self._done(
            TrainingResult(
                trigger,
                f"{why}; {decision.reason}",
                True,
                promoted=decision.promote,
                truth=truth,
                n_train=len(train),
                n_holdout=len(scored),
                at=at,
                challenger=challenger,
                champion=champion,
                decision=decision,
                version=version,
                record=record,
            ),
            ran=True,
        )

    def _done(self, result: TrainingResult, *, ran: bool) -> TrainingResult:
        if ran:
            self._last_round = result.at
            self._waiting = None  # this round answers a waiting request too
        self.results_.append(dataclasses.replace(result, record=None))
        return result

    def champion_record(self) -> ModelRecord | None:
        """Return the ``models`` record of the registry's champion now (None without one).

        Its entry is the registry's latest (the promotion or rollback that made it
        champion): what a trainer republishes at start-up.
        """
        mv = self.registry.champion
        if mv is None:
            return None
        entry = self.registry.history[-1]
        return ModelRecord(self.name, mv, entry, self.registry.path_of(mv).read_bytes())
