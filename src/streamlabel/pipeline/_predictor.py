"""The predictor: events in; predictions (or DLQ records) out, scored by a hot-swapped model.

Engine-free like the labeler: the stream adapter hands it batches of raw ``events``
values with their source offsets and ``models`` records (key = model name, value =
:func:`~streamlabel.models.encode_model_record`), and an HTTP front end hands it request
bodies. It knows nothing of Kafka or of a web framework.

Serving goes through :class:`~streamlabel.models.ServingModel`: a record's artifact is
loaded and verified against the registered SHA-256, smoke-tested, and only then swapped
in with one reference change; a batch or a request reads that reference once, so it is
scored by exactly one version, the one its records name.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray

from streamlabel.models import (
    ArtifactError,
    ModelRecordError,
    NoModelError,
    ServedModel,
    ServingModel,
    ShadowPrediction,
    decode_model_record,
    loads_model_artifact,
)
from streamlabel.pipeline._events import DEFAULT_MAX_BYTES, Event, InvalidEvent, parse_event
from streamlabel.pipeline._labeler import RawInput
from streamlabel.pipeline._records import DLQRecord, Source, _field, _source_or_none

__all__ = [
    "PREDICTION_FAILED",
    "ModelOutcome",
    "PredictOutcome",
    "PredictionRecord",
    "Predictor",
]

logger = logging.getLogger("streamlabel.pipeline")

#: DLQ reason of a valid event the served model raised on (the rest of its batch is scored).
PREDICTION_FAILED: Final = "prediction_failed"

#: What :meth:`Predictor.offer_model` did with a ``models`` record.
ModelAction = Literal["swapped", "shadowing", "unchanged", "cleared", "refused", "ignored"]

_F = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """The served model's prediction for one event (the ``predictions`` topic's value).

    Attributes
    ----------
    event_id, entity : str
        The event's id (the record key) and entity.
    model, version : str
        The model name (its key on ``models``) and the version that scored the event.
    proba : list of float
        Class probabilities.
    score : float or None
        ``proba[1]``, P(class 1), for a binary model; None otherwise.
    label : int
        ``argmax(proba)`` (the lowest class on ties).
    shadow_version : str or None
        The shadow candidate that scored the event alongside (None: no shadow).
    shadow_proba : list of float or None
        The shadow's probabilities (None without a shadow or when it failed).
    predicted_at : float
        Epoch seconds when the batch was scored.
    source : Source or None
        Where the event was read from.

    Examples
    --------
    >>> from streamlabel.pipeline import PredictionRecord
    >>> rec = PredictionRecord("tx1", "c1", "fraud", "v2", [0.9, 0.1], 0.1, 0, None, None,
    ...                        1.7e9, None)
    >>> PredictionRecord.from_dict(rec.to_dict()) == rec
    True
    """

    event_id: str
    entity: str
    model: str
    version: str
    proba: list[float]
    score: float | None
    label: int
    shadow_version: str | None
    shadow_proba: list[float] | None
    predicted_at: float
    source: Source | None

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-able dict."""
        return {
            "event_id": self.event_id,
            "entity": self.entity,
            "model": self.model,
            "version": self.version,
            "proba": list(self.proba),
            "score": self.score,
            "label": self.label,
            "shadow_version": self.shadow_version,
            "shadow_proba": None if self.shadow_proba is None else list(self.shadow_proba),
            "predicted_at": self.predicted_at,
            "source": None if self.source is None else self.source.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PredictionRecord:
        """Build the record from :meth:`to_dict`'s output."""
        c = "PredictionRecord"
        score = d.get("score")
        shadow_version = d.get("shadow_version")
        shadow_proba = d.get("shadow_proba")
        return cls(
            event_id=str(_field(d, "event_id", c)),
            entity=str(_field(d, "entity", c)),
            model=str(_field(d, "model", c)),
            version=str(_field(d, "version", c)),
            proba=[float(p) for p in _field(d, "proba", c)],
            score=None if score is None else float(score),
            label=int(_field(d, "label", c)),
            shadow_version=None if shadow_version is None else str(shadow_version),
            shadow_proba=None if shadow_proba is None else [float(p) for p in shadow_proba],
            predicted_at=float(_field(d, "predicted_at", c)),
            source=_source_or_none(d.get("source")),
        )


@dataclass(frozen=True, slots=True)
class PredictOutcome:
    """What one batch of events produced.

    Attributes
    ----------
    predictions : list of PredictionRecord
        One per valid event, in input order, all by ``version``.
    dlq : list of DLQRecord
        One per invalid event (or event the model raised on), in input order.
    version : str or None
        The version that scored the batch (None: no valid event in it).
    """

    predictions: list[PredictionRecord]
    dlq: list[DLQRecord]
    version: str | None


@dataclass(frozen=True, slots=True)
class ModelOutcome:
    """What :meth:`Predictor.offer_model` did with one ``models`` record.

    Attributes
    ----------
    action : {"swapped", "shadowing", "unchanged", "cleared", "refused", "ignored"}
        ``swapped``: it serves now; ``shadowing``: it scores alongside; ``unchanged``: that
        version (same hash) already serves or shadows; ``cleared``: a tombstone of the
        shadow's key removed the shadow; ``refused``: it failed to decode, load, verify or
        smoke-test, and what served before serves on; ``ignored``: another model's key, no
        key, or a tombstone of the served model (the served version stays).
    key : str or None
        The record key (the model name).
    version : str or None
        The version the record names, when it could be read.
    reason : str
        Why (for ``refused`` and ``ignored``), else a short note.
    """

    action: ModelAction
    key: str | None
    version: str | None
    reason: str

    @property
    def taken(self) -> bool:
        """True if the record settled its key (nothing older needs to be tried)."""
        return self.action != "refused"

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as a JSON-able dict."""
        return {
            "action": self.action,
            "key": self.key,
            "version": self.version,
            "reason": self.reason,
        }


def _argmax_rows(proba: _F) -> list[int]:
    return [int(i) for i in np.argmax(proba, axis=1)]


class Predictor:
    """Score events with the champion of one model name; take new versions from records.

    Parameters
    ----------
    model : str
        The model name served: the key of its records on ``models``.
    shadow : str, optional
        A second model name whose latest record is scored alongside the champion without
        being served (a challenger); its scores go into every prediction.
    serving : ServingModel, optional
        Where the verified models live; a new one by default.
    max_event_bytes : int, default=64000
        Largest event accepted; larger ones are ``oversized`` DLQ records.
    max_request_events : int, default=1000
        Most events one HTTP request may hold.
    clock : callable, default=time.time
        Epoch seconds for ``predicted_at`` and DLQ ``at``.

    Attributes
    ----------
    models_swapped_, models_refused_, models_ignored_ : int
        ``models`` records served (or shadowed), refused, and ignored. A refusal is also
        logged; ``last_refusal_`` holds its :class:`ModelOutcome`.
    predicted_, invalid_, failed_ : int
        Events predicted, sent to the DLQ as invalid, and sent there because the model
        raised on them.

    Examples
    --------
    >>> from streamlabel.models import (EndModel, Lineage, ModelRecord, ModelVersion,
    ...     PayloadFeaturizer, RegistryEntry, artifact_sha256, dumps_model_artifact,
    ...     encode_model_record)
    >>> f = PayloadFeaturizer(numeric_fields=["amount"], n_features=1)
    >>> m = EndModel(f).fit([{"amount": 1}, {"amount": 900}] * 4, [0, 1] * 4)
    >>> v = ModelVersion("v1", 1, 0.0, {}, Lineage("s", "1", "1", 8), None, "-",
    ...                  artifact_sha256(m), 2)
    >>> rec = ModelRecord("fraud", v, RegistryEntry("promote", "v1", None, "me", 0.0, "first"),
    ...                   dumps_model_artifact(m))
    >>> p = Predictor("fraud", clock=lambda: 5.0)
    >>> p.offer_model(b"fraud", encode_model_record(rec)).action
    'swapped'
    >>> out = p.process_many([(b'{"id": "t1", "ts": 1, "entity": "c", "payload": {"amount": 950}}',
    ...                        None), (b"oops", None)])
    >>> out.predictions[0].version, out.predictions[0].label, out.dlq[0].reason
    ('v1', 1, 'not_json')
    >>> import dataclasses  # v2 claims another hash than its artifact's: refused
    >>> v2 = dataclasses.replace(v, version="v2", number=2, sha256="0" * 64)
    >>> bad = ModelRecord("fraud", v2, dataclasses.replace(rec.entry, version="v2"), rec.artifact)
    >>> p.offer_model(b"fraud", encode_model_record(bad)).action, p.version
    ('refused', 'v1')
    """

    def __init__(
        self,
        model: str,
        *,
        shadow: str | None = None,
        serving: ServingModel | None = None,
        max_event_bytes: int = DEFAULT_MAX_BYTES,
        max_request_events: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not model:
            raise ValueError("model: the served model name must not be empty")
        if shadow == model:
            raise ValueError(f"shadow: {shadow!r} is the served model itself")
        self.model = model
        self.shadow = shadow
        self.serving = ServingModel() if serving is None else serving
        self.max_event_bytes = max_event_bytes
        self.max_request_events = max_request_events
        self.clock = clock
        self.models_swapped_ = 0
        self.models_refused_ = 0
        self.models_ignored_ = 0
        self.last_refusal_: ModelOutcome | None = None
        self.predicted_ = 0
        self.invalid_ = 0
        self.failed_ = 0

    # ----------------------------------------------------------------- status
    @property
    def version(self) -> str | None:
        """The version serving now (None before the first model)."""
        return self.serving.version

    @property
    def ready(self) -> bool:
        """True once a model serves."""
        return self.serving.current is not None

    def status(self) -> dict[str, Any]:
        """Return what serves, what shadows and the counters, JSON-able.

        Examples
        --------
        >>> Predictor("fraud").status()["version"] is None
        True
        """
        cur, shadow = self.serving.current, self.serving.shadow
        last = self.last_refusal_

        def described(served: ServedModel | None) -> dict[str, Any] | None:
            if served is None:
                return None
            return {
                "version": served.version,
                "sha256": served.sha256,
                "n_classes": served.model.n_classes_,
            }

        return {
            "model": self.model,
            "ready": cur is not None,
            "version": None if cur is None else cur.version,
            "sha256": None if cur is None else cur.sha256,
            "n_classes": None if cur is None else cur.model.n_classes_,
            "shadow_model": self.shadow,
            "shadow": described(shadow),
            "swaps": self.serving.swaps_,
            "models_swapped": self.models_swapped_,
            "models_refused": self.models_refused_,
            "models_ignored": self.models_ignored_,
            "last_refusal": None if last is None else last.to_dict(),
            "shadow_failures": self.serving.shadow_failures_,
            "predicted": self.predicted_,
            "invalid": self.invalid_,
            "failed": self.failed_,
        }

    # ----------------------------------------------------------------- models
    def _refuse(self, key: str, version: str | None, reason: str) -> ModelOutcome:
        self.models_refused_ += 1
        out = ModelOutcome("refused", key, version, reason)
        self.last_refusal_ = out
        logger.warning("model record %s %s refused: %s", key, version, reason)
        return out

    def _ignore(self, key: str | None, version: str | None, reason: str) -> ModelOutcome:
        self.models_ignored_ += 1
        return ModelOutcome("ignored", key, version, reason)

    def offer_model(self, key: bytes | str | None, value: bytes | str | None) -> ModelOutcome:
        """Take one ``models`` record: verify it and swap it in (or shadow it), or refuse it.

        Loading and verifying take tens of milliseconds: call this off the event loop
        (the adapter uses a thread). Predictions meanwhile keep using the old model.

        Parameters
        ----------
        key : bytes or str or None
            The record key: the model name.
        value : bytes or str or None
            :func:`~streamlabel.models.encode_model_record` bytes; empty or None is a
            tombstone.

        Returns
        -------
        ModelOutcome
        """
        if key is None:
            return self._ignore(None, None, "record without a key")
        name = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        if name not in (self.model, self.shadow):
            return self._ignore(name, None, "another model")
        shadow = name != self.model
        if not value:
            if shadow:
                self.serving.clear_shadow()
                return ModelOutcome("cleared", name, None, "tombstone: shadow removed")
            # Deleting a champion from the topic must not leave the service with nothing.
            logger.warning("tombstone for model %s: version %s keeps serving", name, self.version)
            return self._ignore(name, None, "tombstone: the served version stays")
        try:
            record = decode_model_record(value)
        except ModelRecordError as exc:
            return self._refuse(name, None, f"invalid record: {exc}")
        version = record.version.version
        if record.name != name:
            return self._refuse(name, version, f"record for {record.name!r} under key {name!r}")
        held = self.serving.shadow if shadow else self.serving.current
        if held is not None and held.version == version and held.sha256 == record.version.sha256:
            return ModelOutcome("unchanged", name, version, "already loaded")
        try:
            model = loads_model_artifact(record.artifact, expected_sha256=record.version.sha256)
        except ArtifactError as exc:
            return self._refuse(name, version, f"artifact: {exc}")
        if model.n_classes_ != record.version.n_classes:
            return self._refuse(
                name,
                version,
                f"artifact predicts {model.n_classes_} classes, "
                f"the version says {record.version.n_classes}",
            )
        if shadow:
            result = self.serving.set_shadow(model, version=version)
        else:
            result = self.serving.swap(model, version=version)
        if not result.ok:
            return self._refuse(name, version, result.reason)
        self.models_swapped_ += 1
        return ModelOutcome(
            "shadowing" if shadow else "swapped", name, version, record.entry.action
        )

    def offer_models(
        self, records: Sequence[tuple[bytes | str | None, bytes | str | None]]
    ) -> list[ModelOutcome]:
        """Take a run of ``models`` records in log order: per key, the newest valid one wins.

        As on the compacted topic, only the latest record of a key matters: it is tried
        first, and an older one of the same run only when every newer one was refused
        (older ones are then skipped without loading). Records of keys this predictor does
        not serve are counted as ignored.

        Returns
        -------
        list of ModelOutcome
            One per record tried, in the order tried.

        Examples
        --------
        >>> p = Predictor("fraud")
        >>> [o.action for o in p.offer_models([(b"other", b"{}"), (b"fraud", b"junk")])]
        ['ignored', 'refused']
        """
        by_key: dict[bytes | str | None, list[bytes | str | None]] = {}
        for key, value in records:
            by_key.setdefault(key, []).append(value)
        outcomes: list[ModelOutcome] = []
        for key, values in by_key.items():
            for value in reversed(values):
                outcome = self.offer_model(key, value)
                outcomes.append(outcome)
                if outcome.taken:
                    break
        return outcomes

    # ----------------------------------------------------------------- scoring
    def _score(self, payloads: Sequence[Mapping[str, Any]]) -> ShadowPrediction:
        """Score with the served model (read once) and the shadow; NoModelError if none."""
        return self.serving.predict_with_shadow(payloads)

    def process_many(self, raws: Sequence[RawInput]) -> PredictOutcome:
        """Parse and score a batch of raw ``events`` values; one output per input.

        Every valid event of the batch is scored by the same version. An event the model
        raises on (it should not: missing or odd fields read as neutral) is retried alone
        and, if it raises again, becomes a DLQ record with reason
        :data:`PREDICTION_FAILED`.

        Raises
        ------
        NoModelError
            No model serves yet (the adapter does not read events before one does).
        """
        now = self.clock()
        dlq: list[DLQRecord] = []
        events: list[tuple[Event, Source | None]] = []
        for raw, source in raws:
            try:
                events.append((parse_event(raw, max_bytes=self.max_event_bytes), source))
            except InvalidEvent as exc:
                self.invalid_ += 1
                dlq.append(DLQRecord.of(exc.reason, exc.detail, raw, source, now))
        if not events:
            return PredictOutcome([], dlq, None)
        try:
            scored = [(events, self._score([ev.payload for ev, _ in events]))]
        except NoModelError:
            raise
        except Exception:  # find the event(s) at fault; the rest are scored
            scored = []
            for ev, source in events:
                try:
                    scored.append(([(ev, source)], self._score([ev.payload])))
                except NoModelError:
                    raise
                except Exception as exc:
                    self.failed_ += 1
                    why = f"{type(exc).__name__}: {exc}"
                    dlq.append(DLQRecord.of(PREDICTION_FAILED, why, ev.model_dump(), source, now))
        predictions: list[PredictionRecord] = []
        version: str | None = None
        for group, pred in scored:
            version = pred.version
            labels = _argmax_rows(pred.proba)
            binary = pred.proba.shape[1] == 2
            for i, (ev, source) in enumerate(group):
                row = pred.proba[i]
                shadow_row = None if pred.shadow_proba is None else pred.shadow_proba[i].tolist()
                predictions.append(
                    PredictionRecord(
                        event_id=ev.id,
                        entity=ev.entity,
                        model=self.model,
                        version=pred.version,
                        proba=row.tolist(),
                        score=float(row[1]) if binary else None,
                        label=labels[i],
                        shadow_version=pred.shadow_version,
                        shadow_proba=shadow_row,
                        predicted_at=now,
                        source=source,
                    )
                )
        self.predicted_ += len(predictions)
        return PredictOutcome(predictions, dlq, version)

    def answer(self, body: bytes | str) -> tuple[int, dict[str, Any]]:
        """Answer an HTTP prediction request: (status code, JSON-able body).

        ``body`` is one event or a JSON list of events (the ``events`` topic's schema).
        200: ``{"model", "version", "predictions": [{"id", "proba", "score", "label"}]}``
        plus ``"shadow": {"version", "predictions"}`` (or ``{"version", "error"}``) when a
        shadow scores alongside; every prediction of a response comes from ``version``.
        422: ``{"error": "invalid_input", "errors": [{"index", "field", "reason",
        "detail"}]}`` (``index`` None for the body as a whole). 503: no model yet.

        Examples
        --------
        >>> Predictor("fraud").answer(b"[]")[1]["errors"][0]["detail"]
        'an empty list of events'
        >>> Predictor("fraud").answer(b'{"id": "x"}')[1]["errors"][0]["field"]
        'ts'
        """
        errors: list[dict[str, Any]] = []

        def invalid(index: int | None, exc: InvalidEvent) -> None:
            errors.append(
                {"index": index, "field": exc.field, "reason": exc.reason, "detail": exc.detail}
            )

        items: list[Any] = []
        is_list = False
        if len(body) > self.max_event_bytes * self.max_request_events:
            invalid(None, InvalidEvent("oversized", f"request body of {len(body)} bytes"))
        else:
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                invalid(None, InvalidEvent("not_json", f"request body: {exc}"))
            else:
                is_list = isinstance(data, list)
                items = data if is_list else [data]
                if not items:
                    invalid(None, InvalidEvent("invalid_value", "an empty list of events"))
                elif len(items) > self.max_request_events:
                    n, most = len(items), self.max_request_events
                    invalid(None, InvalidEvent("oversized", f"{n} events, at most {most}"))
                    items = []
        events: list[Event] = []
        for i, item in enumerate(items):
            try:
                if not isinstance(item, Mapping):
                    raise InvalidEvent("not_object", f"expected an event object, got {item!r:.40}")
                events.append(parse_event(item))
            except InvalidEvent as exc:
                invalid(i if is_list else None, exc)
        if errors:
            return 422, {"error": "invalid_input", "errors": errors}
        try:
            pred = self._score([ev.payload for ev in events])
        except NoModelError as exc:
            return 503, {"error": "no_model", "detail": str(exc)}
        binary = pred.proba.shape[1] == 2

        def rows(proba: _F) -> list[dict[str, Any]]:
            labels = _argmax_rows(proba)
            return [
                {
                    "id": ev.id,
                    "proba": proba[i].tolist(),
                    "score": float(proba[i, 1]) if binary else None,
                    "label": labels[i],
                }
                for i, ev in enumerate(events)
            ]

        out: dict[str, Any] = {
            "model": self.model,
            "version": pred.version,
            "predictions": rows(pred.proba),
        }
        if pred.shadow_version is not None:
            out["shadow"] = (
                {"version": pred.shadow_version, "predictions": rows(pred.shadow_proba)}
                if pred.shadow_proba is not None
                else {"version": pred.shadow_version, "error": pred.shadow_error}
            )
        return 200, out
