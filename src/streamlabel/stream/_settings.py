"""Settings of the stream adapter, read from the environment.

pydantic-settings is not a dependency: :meth:`StreamSettings.from_env` maps each field to
one ``<PREFIX><FIELD NAME IN UPPER CASE>`` variable and lets pydantic convert the strings.
"""

from __future__ import annotations

import math
import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["StreamSettings"]

_TOPIC_PREFIX = re.compile(r"[A-Za-z0-9._-]*")
_SCHEME = "kafka://"
#: Bounds of ``retention_hours`` (one minute, ten years) and ``retention_bytes`` (1 MiB).
MIN_RETENTION_HOURS = 1 / 60
MAX_RETENTION_HOURS = 87_600.0
MIN_RETENTION_BYTES = 1_048_576


class StreamSettings(BaseModel):
    """Settings of the labeler's Faust app.

    Parameters
    ----------
    brokers : list of str, default=["127.0.0.1:9092"]
        Bootstrap addresses, ``host:port`` or ``kafka://host:port``; from the environment a
        comma-separated list.
    topic_prefix : str, default=""
        Prepended to every topic name, to the consumer group and to Faust's internal topics
        (letters, digits, ``.``, ``_``, ``-``).
    app_id : str, default="streamlabel-labeler"
        Faust app id; the consumer group is ``topic_prefix + app_id``.
    batch_size : int, default=500
        Most events one micro-batch holds.
    batch_max_wait : float, default=0.25
        Seconds a partial micro-batch waits for more events before it is processed
        (finite, at most 300).
    partitions : int, default=1
        Partitions of the topics the app declares.
    replication_factor : int, default=1
        Replication factor of the topics the app declares.
    session_timeout_ms : int, default=6000
        Consumer-group session timeout. A group join takes about half of it; 6000 is the
        smallest the broker accepts by default (``group.min.session.timeout.ms``).
    processing_guarantee : {"at_least_once"}
        Only at-least-once: outputs are keyed by event id so consumers de-duplicate.
        Faust's ``exactly_once`` is refused until it is tested here (its users report
        duplicates and hangs, see ``../shared/notes/faust-and-kafka-clients.md``).
    datadir : Path, optional
        Faust's data folder; Faust's default (``<app id>-data`` in the working directory)
        when None.
    web_enabled : bool, default=False
        Whether Faust starts its own web server (port 6066 by default, so two workers on
        one host would collide).
    lfset : str, optional
        Name of the LF set the labeler serves: the key of its records on ``lfsets``.
        Defaults to the name inside ``lfset_file`` when only the file is given.
    lfset_file : Path, optional
        A declarative LF set (YAML or JSON) used at start-up when ``lfsets`` holds no
        valid version of the set yet; a version arriving on ``lfsets`` replaces it.
    half_life : float, default=50000
        The online label model's forgetting half-life, in events.
    prior_weight : float, default=0.5
        Exponent of the class balance in the label model's predictions (0 to 1; see
        ``OnlineLabelModel``): 1 makes the fewest label errors when the model is right
        (the fraud loop's setting in ``bench drift``), 0.5 keeps more of a skewed
        stream's rare class; the model raises it toward 1 where its two balance
        estimates agree (``balance_agreement_``). Applied to a restored snapshot and to
        merged parameters too.
    unanimous_weight : float, default=0.5
        How much of majority vote's verdict is mixed into the label model's posterior
        where one class has more votes than any other (0 to 1; see
        ``OnlineLabelModel``): from 0.5 up such a majority is never overruled (majority
        vote's answer there), and the model decides ties (an event without votes gets
        majority vote's class from the prior at any weight); 0
        lets the model overrule them all (the fraud loop's setting in ``bench drift``).
        Applied like ``prior_weight``.
    balance : {"majority", "cofiring"} or tuple of float, default="majority"
        The class balance the label model's moment fit assumes (see ``OnlineLabelModel``):
        majority vote's, or, for rule LFs that fire on their own class only and a rare
        class most events draw no vote for, also the balance same-class co-firing
        implies, whichever explains the moments better (wrong for rules that also fire
        on a few percent of the common class, as amount thresholds do); or a balance you
        know, one share per class of the LF set (``STREAMLABEL_BALANCE=0.94,0.06``,
        normalised), which the model then assumes throughout and gives every event
        without votes. A learning setting: start-up restores only a snapshot learned
        under the same balance, else starts fresh.
    feedback_cache : int, default=100000
        Recent events whose votes are kept for late gold labels (``feedback``).
    max_event_bytes : int, default=64000
        Largest event accepted; larger ones go to ``dlq`` as ``oversized``.
    lf_quarantine_threshold : float, default=0.5
        An LF whose calls raised at least this fraction of the time over its last
        ``lf_quarantine_window`` calls is quarantined (not called, votes ABSTAIN, reported
        in ``streamlabel_lf_quarantined``) until a new version of it is served; 0 never
        quarantines.
    lf_quarantine_window : int, default=200
        Calls an LF's fault rate is measured over (whole batches covering at least this).
    metrics_enabled : bool, default=True
        Whether the service serves Prometheus metrics at ``/metrics``.
    metrics_host : str, default="127.0.0.1"
        Address the ``/metrics`` server binds (a container sets ``0.0.0.0``).
    metrics_port : int, optional
        Port of the ``/metrics`` server; by default the service's own: labeler 9101,
        aggregator 9102, trainer 9103 (the predictor serves ``/metrics`` on its HTTP
        port and ignores this). 0: any free port, logged at start. A port that cannot be
        bound is logged and the service runs on without ``/metrics``.
    review_min_confidence : float, default=0.6
        Events whose top posterior is below this go to ``review`` as ``uncertain``.
    review_conflicts : bool, default=True
        Whether events on which LFs vote different classes go to ``review``.
    review_max_per_1000 : int, default=20
        Review items per 1000 events at most (0 turns review off).
    snapshot_every : int, default=20
        The worker's label model (its decayed statistics) is published to
        ``labelmodel-stats`` (key: :attr:`stats_key`) every this many ``events`` batches
        and when the worker stops cleanly; a starting worker restores its own latest
        record. 0 turns publishing and restoring off.
    worker_id : str, default: the host name
        This worker's name within the group: the key of its statistics. Give every worker
        of a group its own, stable across restarts (a StatefulSet ordinal, a compose
        service name); two workers on one host need it set.
    params_interval : float, default=5.0
        The aggregator publishes merged parameters at most this often (seconds).
    shadow_report_interval : float, default=10.0
        With a candidate LF set deployed, the labeler publishes its report on
        ``shadow-reports`` at most this often (seconds; after a batch or a gold label),
        and at once when the candidate is deployed or cleared.
    stats_max_age : float, default=86400
        The aggregator leaves out statistics last published longer ago than this (a worker
        that went away, or was renamed); seconds.
    events_reader : {"batched", "faust"}, default="batched"
        How ``events`` (and ``feedback``) are read: ``batched`` drives aiokafka's consumer
        and producer a batch at a time (:mod:`streamlabel.stream._reader`, several times
        faster); ``faust`` uses Faust agents over ``stream.take_events``. Both commit
        offsets only after the batch's outputs were delivered.
    predictor_model : str, optional
        The model name the predictor serves: the key of its champion's records on the
        compacted ``models`` topic. Required by ``streamlabel predict``.
    predictor_shadow : str, optional
        A second model name (e.g. ``fraud-challenger``) whose latest record on ``models``
        is scored alongside the champion without being served (shadow mode).
    predictor_host : str, default="127.0.0.1"
        Address the predictor's HTTP server binds (loopback unless set; a container sets
        ``0.0.0.0`` and publishes the port on the host's loopback).
    predictor_port : int, default=8080
        Its port (0: any free port, logged at start).
    predictor_model_wait : float, default=0
        Seconds the predictor waits at start for a first model before it exits with
        status 2; 0 waits without bound. Events are not read (nor committed) until a
        model serves.
    drift_enabled : bool, default=True
        Whether the labeler watches its labels (and late gold) for drift
        (:class:`~streamlabel.pipeline.DriftWatch`) and publishes drift events and
        retraining requests to ``drift``.
    drift_min_samples : int, default=1000
        Updates a drift monitor takes before it may report, and its grace after a report.
    drift_min_monitors, drift_window, drift_cooldown : int, default=2, 10000, 20000
        The trigger policy: drift on this many monitors within ``drift_window`` labeled
        events makes a retraining request (gold error alone is enough), none within
        ``drift_cooldown`` events of the previous one.
    model_name : str, default="default"
        The trainer's model: its key on the compacted ``models`` topic.
    registry_dir : Path, default="streamlabel-registry"
        The trainer's model registry folder (every challenger, the champion's history).
    train_window : int, default=10000
        Most recent labeled events the trainer keeps (its training window).
    train_max_pending : int, default=20000
        Events waiting for their label, labels for their event, gold for either: at most
        this many of each (the oldest are dropped and counted).
    train_every : int, default=5000
        Labeled events between scheduled training rounds; 0 trains on requests only.
    train_cooldown : int, default=2000
        Labeled events after a round during which retraining requests are dropped.
    train_min_events, train_min_holdout : int, default=500, 100
        Fewest training and held-out events a round needs.
    train_min_gold : int, default=100
        Held-out gold labels needed to score models against gold only.
    holdout_fraction : float, default=0.2
        Share of event ids (by hash) held out to compare champion and challenger.
    promote_margin : float, default=0.0
        Improvement a challenger needs to be promoted (a tie keeps the champion).
    promote_metric : str, default="accuracy"
        The metric compared (``accuracy``, ``macro_f1``, ``auc``, ``log_loss``).
    train_soft_labels : bool, default=False
        Train on the label model's posteriors instead of its top class with confidence
        weights.
    feature_text, feature_numeric, feature_categorical, feature_log : list of str
        The end model's payload fields (:class:`~streamlabel.models.PayloadFeaturizer`);
        from the environment comma-separated lists. The trainer needs at least one.
    feature_bits : int, default=16
        Hashed feature space of ``2 ** feature_bits`` columns.
    retention_hours : float, default=168
        How long ``labels``, ``review``, ``predictions`` and ``feedback`` (the event-id
        keyed topics ``streamlabel trace`` reads) keep their records: ``retention.ms``
        of those topics when :func:`~streamlabel.stream.ensure_topics` creates them
        (existing topics keep theirs). The audit trail's bound: a trace shows what these
        topics still hold. Between one minute (1/60) and 87600 (ten years).
    retention_bytes : int, optional
        Also cap each partition of those topics at this many bytes (``retention.bytes``;
        whichever limit is hit first deletes the oldest segments). At least 1 MiB; None
        caps by time only.

    Examples
    --------
    >>> s = StreamSettings.from_env(environ={
    ...     "STREAMLABEL_BROKERS": "127.0.0.1:9092, kafka://127.0.0.1:9094",
    ...     "STREAMLABEL_BATCH_SIZE": "64",
    ... })
    >>> s.broker_urls, s.bootstrap_servers, s.batch_size
    (['kafka://127.0.0.1:9092', 'kafka://127.0.0.1:9094'], ['127.0.0.1:9092', '127.0.0.1:9094'], 64)
    >>> StreamSettings(topic_prefix="t1.").topic("events"), StreamSettings().group_id
    ('t1.events', 'streamlabel-labeler')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    brokers: list[str] = Field(default_factory=lambda: ["127.0.0.1:9092"], min_length=1)
    topic_prefix: str = ""
    app_id: str = Field(default="streamlabel-labeler", min_length=1)
    batch_size: int = Field(default=500, ge=1)
    # Finite and bounded: the reader turns it into integer milliseconds of a poll.
    batch_max_wait: float = Field(default=0.25, gt=0, le=300, allow_inf_nan=False)
    partitions: int = Field(default=1, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    session_timeout_ms: int = Field(default=6000, ge=1000)
    processing_guarantee: Literal["at_least_once"] = "at_least_once"
    datadir: Path | None = None
    web_enabled: bool = False
    lfset: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
    lfset_file: Path | None = None
    half_life: float = Field(default=50_000.0, ge=1, allow_inf_nan=False)
    prior_weight: float = Field(default=0.5, ge=0, le=1, allow_inf_nan=False)
    unanimous_weight: float = Field(default=0.5, ge=0, le=1, allow_inf_nan=False)
    balance: Literal["majority", "cofiring"] | tuple[float, ...] = "majority"
    feedback_cache: int = Field(default=100_000, ge=0)
    max_event_bytes: int = Field(default=64_000, ge=1)
    lf_quarantine_threshold: float = Field(default=0.5, ge=0, le=1)
    lf_quarantine_window: int = Field(default=200, ge=1)
    metrics_enabled: bool = True
    metrics_host: str = Field(default="127.0.0.1", min_length=1)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    review_min_confidence: float = Field(default=0.6, ge=0, le=1)
    review_conflicts: bool = True
    review_max_per_1000: int = Field(default=20, ge=0, le=1000)
    snapshot_every: int = Field(default=20, ge=0)
    events_reader: Literal["batched", "faust"] = "batched"
    worker_id: str = Field(
        default_factory=lambda: _default_worker_id(), pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"
    )
    params_interval: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    shadow_report_interval: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    stats_max_age: float = Field(default=86_400.0, gt=0)
    predictor_model: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
    predictor_shadow: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
    predictor_host: str = Field(default="127.0.0.1", min_length=1)
    predictor_port: int = Field(default=8080, ge=0, le=65535)
    predictor_model_wait: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    drift_enabled: bool = True
    drift_min_samples: int = Field(default=1000, ge=1)
    drift_min_monitors: int = Field(default=2, ge=1)
    drift_window: int = Field(default=10_000, ge=1)
    drift_cooldown: int = Field(default=20_000, ge=0)
    model_name: str = Field(default="default", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
    registry_dir: Path = Path("streamlabel-registry")
    train_window: int = Field(default=10_000, ge=1)
    train_max_pending: int = Field(default=20_000, ge=1)
    train_every: int = Field(default=5_000, ge=0)
    train_cooldown: int = Field(default=2_000, ge=0)
    train_min_events: int = Field(default=500, ge=1)
    train_min_holdout: int = Field(default=100, ge=1)
    train_min_gold: int = Field(default=100, ge=1)
    holdout_fraction: float = Field(default=0.2, gt=0, lt=1)
    promote_margin: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    promote_metric: Literal["accuracy", "macro_f1", "auc", "log_loss"] = "accuracy"
    train_soft_labels: bool = False
    feature_text: list[str] = Field(default_factory=list)
    feature_numeric: list[str] = Field(default_factory=list)
    feature_categorical: list[str] = Field(default_factory=list)
    feature_log: list[str] = Field(default_factory=list)
    feature_bits: int = Field(default=16, ge=1, le=24)
    retention_hours: float = 168.0
    retention_bytes: int | None = None

    @field_validator("brokers", mode="before")
    @classmethod
    def _split_brokers(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            out = []
            for item in value:
                text = str(item).strip().removeprefix(_SCHEME)
                if text:
                    if not text.rpartition(":")[2].isdigit():
                        raise ValueError(f"broker {item!r} is not host:port")
                    out.append(text)
            return out
        return value

    @field_validator(
        "feature_text", "feature_numeric", "feature_categorical", "feature_log", mode="before"
    )
    @classmethod
    def _split_fields(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [f.strip() for f in value.split(",") if f.strip()]
        return value

    @field_validator("balance", mode="before")
    @classmethod
    def _split_balance(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip() not in ("majority", "cofiring"):
            try:
                return tuple(float(x) for x in value.split(","))
            except ValueError:
                raise ValueError(
                    "balance (STREAMLABEL_BALANCE) must be 'majority', 'cofiring' or the "
                    f"classes' shares separated by commas (0.94,0.06), got {value!r}"
                ) from None
        return value

    @field_validator("balance")
    @classmethod
    def _check_shares(cls, value: Any) -> Any:
        if not isinstance(value, str) and not (
            len(value) >= 2 and all(math.isfinite(x) and x > 0 for x in value)
        ):
            raise ValueError(
                "balance (STREAMLABEL_BALANCE) as class shares needs one positive, finite "
                f"share per class (two or more), got {value!r}"
            )
        return value

    @field_validator("retention_hours")
    @classmethod
    def _check_retention_hours(cls, value: float) -> float:
        if not (math.isfinite(value) and MIN_RETENTION_HOURS <= value <= MAX_RETENTION_HOURS):
            raise ValueError(
                "retention_hours (STREAMLABEL_RETENTION_HOURS: how long labels, review, "
                "predictions and feedback keep records, the audit trail's bound) must be "
                f"between 1/60 (one minute) and {MAX_RETENTION_HOURS:g} (ten years), got {value!r}"
            )
        return value

    @field_validator("retention_bytes")
    @classmethod
    def _check_retention_bytes(cls, value: int | None) -> int | None:
        if value is not None and value < MIN_RETENTION_BYTES:
            raise ValueError(
                "retention_bytes (STREAMLABEL_RETENTION_BYTES: the size cap of each partition "
                f"of labels, review, predictions and feedback) must be at least "
                f"{MIN_RETENTION_BYTES} (1 MiB), got {value!r}; leave it unset to cap by time only"
            )
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not _TOPIC_PREFIX.fullmatch(value):
            raise ValueError(
                f"topic_prefix may hold letters, digits, '.', '_' and '-' only, got {value!r}"
            )
        return value

    @classmethod
    def from_env(
        cls, prefix: str = "STREAMLABEL_", environ: Mapping[str, str] | None = None
    ) -> StreamSettings:
        """Build settings from environment variables.

        Parameters
        ----------
        prefix : str, default="STREAMLABEL_"
            Each field ``name`` is read from ``prefix + name.upper()``; unset or empty
            variables keep the default, other variables with the prefix are ignored.
        environ : mapping, optional
            Where to read; ``os.environ`` by default.

        Returns
        -------
        StreamSettings

        Raises
        ------
        pydantic.ValidationError
            A value that does not convert or is out of range.
        """
        env = os.environ if environ is None else environ
        data: dict[str, str] = {}
        for name in cls.model_fields:
            raw = env.get(prefix + name.upper(), "").strip()
            if raw:
                data[name] = raw
        return cls.model_validate(data)

    @property
    def bootstrap_servers(self) -> list[str]:
        """Broker addresses as ``host:port`` (kafka-python)."""
        return list(self.brokers)

    @property
    def broker_urls(self) -> list[str]:
        """Broker addresses as ``kafka://host:port`` (Faust)."""
        return [_SCHEME + b for b in self.brokers]

    @property
    def group_id(self) -> str:
        """The consumer group and Faust app id: ``topic_prefix + app_id``."""
        return self.topic_prefix + self.app_id

    @property
    def predictor_group_id(self) -> str:
        """The predictor's consumer group on ``events``: ``group_id + "-predictor"``.

        Examples
        --------
        >>> StreamSettings(topic_prefix="t.").predictor_group_id
        't.streamlabel-labeler-predictor'
        """
        return f"{self.group_id}-predictor"

    @property
    def stats_key(self) -> str:
        """Key of this worker's records on ``labelmodel-stats``: ``group_id/worker_id``."""
        return f"{self.group_id}/{self.worker_id}"

    @property
    def trainer_group_id(self) -> str:
        """The trainer's consumer group: ``group_id + "-trainer"``."""
        return self.group_id + "-trainer"

    def topic(self, name: str) -> str:
        """Return the full name of the logical topic ``name`` (prefix added)."""
        return self.topic_prefix + name

    @property
    def retention_ms(self) -> int:
        """:attr:`retention_hours` in milliseconds (the topics' ``retention.ms``).

        Examples
        --------
        >>> StreamSettings().retention_ms, StreamSettings(retention_hours=0.5).retention_ms
        (604800000, 1800000)
        """
        return round(self.retention_hours * 3_600_000)


def _default_worker_id() -> str:
    """Return the host name, reduced to the characters a worker id may hold."""
    name = re.sub(r"[^A-Za-z0-9_.\-]", "-", socket.gethostname()).lstrip(".-")
    return name or "worker"
