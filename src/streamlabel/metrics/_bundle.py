"""streamlabel's Prometheus metric families, created on an explicit registry.

Nothing is registered at import: a :class:`Metrics` bundle creates its families on the
registry it is given (a fresh one by default), so tests, the embedded demo and every
service process own their metrics. The pipeline never imports this module; services
and the demo feed the bundle from the plain counters and records the core returns.
"""

from __future__ import annotations

import collections
import contextlib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["LATENCY_BUCKETS", "Metrics"]

#: Histogram buckets (seconds) for per-event and per-request latencies.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
_RETRAIN_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def _split_id(lf_id: str) -> tuple[str, str]:
    """``name@version`` -> (name, version); bounded labels, one series per LF version."""
    name, _, version = lf_id.rpartition("@")
    return (name, version) if name else (lf_id, "")


class Metrics:
    """The metric families of streamlabel, on one registry.

    Parameters
    ----------
    registry : CollectorRegistry, optional
        Where the families are registered; a new, private registry by default (never
        the process-global ``REGISTRY``, so two bundles never collide).
    label_names : sequence of str, optional
        Class names used as the ``label`` label (default ``"0"``, ``"1"``, ...).
    coverage_window : int, default=10000
        Events the ``streamlabel_lf_coverage`` gauge is computed over: the most recent
        batches given to :meth:`observe_labels` that hold at least this many events.

    Notes
    -----
    Label values are bounded: LF name and version come from the served LF sets,
    ``reason`` from closed vocabularies, ``monitor`` from the monitor set, ``topic`` and
    ``partition`` from the consumer's assignment. Counters fed from the core's cumulative
    counters (``sync_labeler``) add only the increase since the previous call.

    Examples
    --------
    >>> m = Metrics(label_names=["legit", "fraud"])
    >>> m.events_processed.inc(3)
    >>> m.set_class_balance([0.9, 0.1])
    >>> text = m.render().decode()
    >>> "streamlabel_events_processed_total 3.0" in text
    True
    >>> 'streamlabel_labelmodel_class_balance{label="fraud"} 0.1' in text
    True
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        label_names: Sequence[str] | None = None,
        coverage_window: int = 10_000,
    ) -> None:
        if coverage_window < 1:
            raise ValueError(f"coverage_window must be >= 1, got {coverage_window}")
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.label_names = list(label_names) if label_names is not None else None
        self.coverage_window = coverage_window
        r = self.registry
        lf = ["lf", "version"]
        self.events_processed = Counter(
            "streamlabel_events_processed",
            "Events read and processed (labeled or DLQ).",
            registry=r,
        )
        self.labels_emitted = Counter(
            "streamlabel_labels_emitted", "Label records emitted.", registry=r
        )
        self.dlq = Counter(
            "streamlabel_dlq", "Inputs sent to the DLQ, by reason.", ["reason"], registry=r
        )
        self.lf_votes = Counter(
            "streamlabel_lf_votes",
            "Non-abstain votes per LF version and class.",
            [*lf, "label"],
            registry=r,
        )
        self.lf_abstains = Counter(
            "streamlabel_lf_abstains", "Abstains per LF version (valid events).", lf, registry=r
        )
        self.lf_faults = Counter(
            "streamlabel_lf_faults", "LF calls that raised (counted as abstain).", lf, registry=r
        )
        self.lf_invalid = Counter(
            "streamlabel_lf_invalid",
            "Events an LF could not read (field missing or mistyped; abstain).",
            lf,
            registry=r,
        )
        self.lf_coverage = Gauge(
            "streamlabel_lf_coverage", "Fraction of recent events the LF voted on.", lf, registry=r
        )
        self.lf_estimated_accuracy = Gauge(
            "streamlabel_lf_estimated_accuracy",
            "Label model's estimate of P(vote correct | LF votes).",
            lf,
            registry=r,
        )
        self.lf_quarantined = Gauge(
            "streamlabel_lf_quarantined", "1 while the LF is quarantined.", lf, registry=r
        )
        self.lf_quarantines = Counter(
            "streamlabel_lf_quarantines",
            "Times the LF was quarantined (it kept raising).",
            lf,
            registry=r,
        )
        self.lf_relearned = Counter(
            "streamlabel_lf_relearned",
            "Times a drift alarm on the LF made the label model re-learn it.",
            lf,
            registry=r,
        )
        self.class_balance = Gauge(
            "streamlabel_labelmodel_class_balance",
            "Label model's estimated class balance.",
            ["label"],
            registry=r,
        )
        self.cofiring_ratio = Gauge(
            "streamlabel_labelmodel_cofiring_ratio",
            "How often LFs voting different classes fire together, relative to chance "
            "(above 1: a per-event intensity; the label model's guard turns on).",
            registry=r,
        )
        self.intensity_weight = Gauge(
            "streamlabel_labelmodel_intensity_weight",
            "Weight of the label model's intensity guard, 0 (off) to 1.",
            registry=r,
        )
        self.pair_inflation = Gauge(
            "streamlabel_labelmodel_pair_inflation",
            "Factor by which LF pairs co-fire beyond conditional independence, as the "
            "label model's guarded moment fit models it (1 while the guard is off).",
            registry=r,
        )
        self.unexplained_pairs = Gauge(
            "streamlabel_labelmodel_unexplained_pairs",
            "Pairs of LFs the label model's moment fit leaves out: their co-firing lies on "
            "the side of chance no fit of the model reaches (two classes), or the two lie "
            "in one view (LFs that read one field: one always votes, or one votes only "
            "where the other does, and the LFs such pairs join).",
            registry=r,
        )
        self.views = Gauge(
            "streamlabel_labelmodel_views",
            "Informative views of an event the label model's LFs give (an LF, or LFs that "
            "read one field, whose votes go with another view's more or less often than "
            "chance); below 3 it settles ties as majority vote does.",
            registry=r,
        )
        self.balance_agreement = Gauge(
            "streamlabel_labelmodel_balance_agreement",
            "How far the label model's two class-balance estimates (majority vote's and "
            "the co-firing of same-class LFs) agree, 0 to 1; it raises the prior's weight "
            "from prior_weight toward 1.",
            registry=r,
        )
        self.mean_confidence = Gauge(
            "streamlabel_labelmodel_mean_confidence",
            "Mean top posterior of the labels of the last batch.",
            registry=r,
        )
        self.review_items = Counter(
            "streamlabel_review_items",
            "Events routed to review, by reason.",
            ["reason"],
            registry=r,
        )
        self.feedback = Counter(
            "streamlabel_feedback",
            "Late gold labels, by outcome (applied, unmatched, duplicate).",
            ["outcome"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "streamlabel_batch_duration_seconds",
            "Time to process one micro-batch.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.drift_detections = Counter(
            "streamlabel_drift_detections",
            "Drift monitor detections, by monitor and kind (warning, drift).",
            ["monitor", "kind"],
            registry=r,
        )
        self.retrain_requests = Counter(
            "streamlabel_retrain_requests", "Retraining requests raised.", registry=r
        )
        self.retrain_runs = Counter(
            "streamlabel_retrain_runs",
            "Retraining runs, by outcome (promoted, kept, failed).",
            ["outcome"],
            registry=r,
        )
        self.retrain_seconds = Histogram(
            "streamlabel_retrain_duration_seconds",
            "Duration of one retraining run.",
            buckets=_RETRAIN_BUCKETS,
            registry=r,
        )
        self.model_info = Gauge(
            "streamlabel_model_info",
            "1 for the model version being served.",
            ["model", "version"],
            registry=r,
        )
        self.model_swaps = Counter(
            "streamlabel_model_swaps", "Model versions swapped into serving.", ["model"], registry=r
        )
        self.model_load_failures = Counter(
            "streamlabel_model_load_failures",
            "Model versions refused (failed to load or verify); the old one kept serving.",
            ["model"],
            registry=r,
        )
        self.predictions = Counter(
            "streamlabel_predictions", "Predictions served.", ["path"], registry=r
        )
        self.prediction_seconds = Histogram(
            "streamlabel_prediction_latency_seconds",
            "Prediction latency per request (http) or per event (stream).",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "streamlabel_consumer_lag",
            "Messages between the consumer's position and the partition's end.",
            ["topic", "partition"],
            registry=r,
        )
        self.aggregator_workers = Gauge(
            "streamlabel_aggregator_workers",
            "Workers whose label-model statistics the last merge summed.",
            registry=r,
        )
        self.params_published = Counter(
            "streamlabel_labelmodel_params_published",
            "Merged label-model parameters published by the aggregator.",
            registry=r,
        )
        self.stats_records = Counter(
            "streamlabel_labelmodel_stats_records",
            "labelmodel-stats records read by the aggregator, by outcome (taken, ignored).",
            ["outcome"],
            registry=r,
        )
        # Label quality (issue 6): ratios in [0, 1]; ``label`` is the emitted class.
        self.quality_accuracy = Gauge(
            "streamlabel_label_quality_estimated_accuracy",
            "Estimated accuracy (ratio) of the recent emitted labels, without gold: "
            "calibrated by late gold, or raw (mean top posterior).",
            ["estimate"],
            registry=r,
        )
        self.quality_precision = Gauge(
            "streamlabel_label_quality_estimated_precision",
            "Calibrated estimated precision (ratio) of the recent labels of each class.",
            ["label"],
            registry=r,
        )
        self.quality_gold_accuracy = Gauge(
            "streamlabel_label_quality_gold_accuracy",
            "Accuracy (ratio) of the emitted labels on the most recent late gold labels "
            "(NaN before any).",
            registry=r,
        )
        self.quality_gold_accuracy.set(math.nan)  # no gold yet is not "all wrong"
        self.quality_gold_precision = Gauge(
            "streamlabel_label_quality_gold_precision",
            "Precision (ratio) of the emitted labels of each class on the recent late gold.",
            ["label"],
            registry=r,
        )
        self.quality_gold_weight = Gauge(
            "streamlabel_label_quality_calibration_gold",
            "Late gold labels (decayed count) behind the calibration of the estimate.",
            registry=r,
        )
        # Control API (``streamlabel api``): ``route`` is the route's template (e.g.
        # ``/lfsets/{name}/candidate/promote``) or ``unmatched``, so the labels stay bounded.
        self.api_requests = Counter(
            "streamlabel_api_requests",
            "Control API requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=r,
        )
        self.api_seconds = Histogram(
            "streamlabel_api_request_duration_seconds",
            "Control API request duration by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.replay_jobs = Counter(
            "streamlabel_replay_jobs",
            "Replay jobs of the control API that ended, by outcome (done, partial, failed).",
            ["outcome"],
            registry=r,
        )
        self.replay_running = Gauge(
            "streamlabel_replay_jobs_running", "1 while a replay job runs.", registry=r
        )
        self.replay_revisions = Counter(
            "streamlabel_replay_revisions",
            "Label revisions written by the control API's replay jobs.",
            registry=r,
        )
        self._seen: dict[tuple[str, str], float] = {}
        self._served: dict[str, str] = {}
        # Coverage window: per batch (events, {lf id: events it voted on}), and the sums.
        self._cov_batches: collections.deque[tuple[int, dict[str, int]]] = collections.deque()
        self._cov_n = 0
        self._cov_fired: dict[str, int] = {}
        self._lf_ids: tuple[str, ...] = ()

    # ------------------------------------------------------------------ helpers
    def _label(self, y: int) -> str:
        names = self.label_names
        return names[y] if names is not None and 0 <= y < len(names) else str(y)

    def _delta(self, key: tuple[str, str], total: float) -> float:
        """Increase of a cumulative counter since the last call (0 after a reset)."""
        prev = self._seen.get(key, 0.0)
        self._seen[key] = total
        return total - prev if total >= prev else total

    def render(self) -> bytes:
        """Return the registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)

    # ------------------------------------------------------------------ feeding
    def observe_labels(self, records: Iterable[Any], lf_ids: Sequence[str]) -> None:
        """Count the votes and abstains of a batch of label records.

        ``records`` are :class:`~streamlabel.pipeline.LabelRecord` (anything with
        ``votes`` (LF id -> vote, non-abstain only) and ``confidence``); ``lf_ids`` are
        the LFs of the set that labeled them.

        Examples
        --------
        >>> from types import SimpleNamespace as R
        >>> m = Metrics()
        >>> m.observe_labels([R(votes={"kw@1": 1}, confidence=0.9),
        ...                   R(votes={}, confidence=0.5)], ["kw@1", "th@2"])
        >>> m.registry.get_sample_value("streamlabel_lf_abstains_total",
        ...                             {"lf": "th", "version": "2"})
        2.0
        >>> m.registry.get_sample_value("streamlabel_labelmodel_mean_confidence")
        0.7
        """
        votes: dict[tuple[str, int], int] = {}
        fired: dict[str, int] = dict.fromkeys(lf_ids, 0)
        n = 0
        conf = 0.0
        for rec in records:
            n += 1
            conf += float(rec.confidence)
            for lf_id, v in rec.votes.items():
                votes[(lf_id, int(v))] = votes.get((lf_id, int(v)), 0) + 1
                if lf_id in fired:
                    fired[lf_id] += 1
        self._served_lfs(lf_ids)
        if n == 0:
            return
        for (lf_id, v), c in votes.items():
            self.lf_votes.labels(*_split_id(lf_id), self._label(v)).inc(c)
        for lf_id, c in fired.items():
            if n - c:
                self.lf_abstains.labels(*_split_id(lf_id)).inc(n - c)
        self.mean_confidence.set(conf / n)
        self._cover(n, fired)

    def _served_lfs(self, lf_ids: Sequence[str]) -> None:
        """Follow the served LF ids: retire the gauges of LFs that left the set."""
        ids = tuple(lf_ids)
        if ids == self._lf_ids:
            return
        gone = [i for i in self._lf_ids if i not in ids]
        self._lf_ids = ids
        if gone:
            self.retire_lfs(gone)
            for batch in self._cov_batches:
                for i in gone:
                    batch[1].pop(i, None)
            for i in gone:
                self._cov_fired.pop(i, None)

    def _cover(self, n: int, fired: dict[str, int]) -> None:
        """Add a batch to the coverage window and set the coverage gauges."""
        batches = self._cov_batches
        batches.append((n, fired))
        self._cov_n += n
        sums = self._cov_fired
        for i, c in fired.items():
            sums[i] = sums.get(i, 0) + c
        while len(batches) > 1 and self._cov_n - batches[0][0] >= self.coverage_window:
            old_n, old = batches.popleft()
            self._cov_n -= old_n
            for i, c in old.items():
                if i in sums:
                    sums[i] -= c
        total = self._cov_n
        self.set_lf_coverage({i: sums.get(i, 0) / total for i in self._lf_ids})

    def sync_labeler(self, labeler: Any) -> None:
        """Add the increase of a :class:`~streamlabel.pipeline.Labeler`'s counters.

        Reads ``events_in_``, ``labels_out_``, ``dlq_by_reason_``, ``review_by_reason_``,
        ``feedback_*_``, ``lf_faults_``, ``lf_invalid_``, ``lf_forgotten_`` and
        ``quarantined_``; sets the
        label model's class balance and LF accuracy estimates, the quarantine gauge of
        every LF of the served set, and the label-quality gauges from the labeler's
        ``quality`` (:meth:`set_label_quality`). Call it after each batch and after late
        gold.
        """
        self.events_processed.inc(self._delta(("events", ""), labeler.events_in_))
        self.labels_emitted.inc(self._delta(("labels", ""), labeler.labels_out_))
        for reason, c in labeler.dlq_by_reason_.items():
            self.dlq.labels(reason).inc(self._delta(("dlq", reason), c))
        for reason, c in labeler.review_by_reason_.items():
            self.review_items.labels(reason).inc(self._delta(("review", reason), c))
        for outcome in ("applied", "unmatched", "duplicate"):
            c = getattr(labeler, f"feedback_{outcome}_")
            self.feedback.labels(outcome).inc(self._delta(("feedback", outcome), c))
        for lf_id, c in labeler.lf_faults_.items():
            self.lf_faults.labels(*_split_id(lf_id)).inc(self._delta(("fault", lf_id), c))
        for lf_id, c in labeler.lf_invalid_.items():
            self.lf_invalid.labels(*_split_id(lf_id)).inc(self._delta(("invalid", lf_id), c))
        for lf_id, c in getattr(labeler, "lf_forgotten_", {}).items():
            self.lf_relearned.labels(*_split_id(lf_id)).inc(self._delta(("relearn", lf_id), c))
        quarantined = getattr(labeler, "quarantined_", {})
        lfset = getattr(labeler, "lfset", None)
        for lf_id in lfset.ids if lfset is not None else quarantined:
            self.lf_quarantined.labels(*_split_id(lf_id)).set(1 if lf_id in quarantined else 0)
        for lf_id, q in quarantined.items():
            # One count per quarantine, keyed by the batch that tipped it (a release and
            # a new quarantine of the same id count again).
            if self._seen.get(("quarantine", lf_id)) != q.batch:
                self._seen[("quarantine", lf_id)] = q.batch
                self.lf_quarantines.labels(*_split_id(lf_id)).inc()
        model = getattr(labeler, "model", None)
        if model is not None and model.n_lfs_ > 0:
            self.set_class_balance(model.class_balance_)
            self.set_lf_accuracies(model.lf_accuracies())
            if hasattr(model, "intensity_weight_"):  # OnlineLabelModel, not majority vote
                self.cofiring_ratio.set(model.cofiring_ratio_)
                self.intensity_weight.set(model.intensity_weight_)
                self.pair_inflation.set(model.pair_inflation_)
                self.unexplained_pairs.set(model.unexplained_pairs_)
                self.views.set(model.views_)
                self.balance_agreement.set(model.balance_agreement_)
        quality = getattr(labeler, "quality", None)
        if quality is not None:
            self.set_label_quality(quality.estimate())

    def set_label_quality(self, estimate: Mapping[str, Any]) -> None:
        """Set the label-quality gauges from :meth:`LabelQuality.estimate`'s dict.

        Values that are None (nothing to average yet) leave their gauge as it was.

        Examples
        --------
        >>> import numpy as np
        >>> from streamlabel.analysis import LabelQuality
        >>> q = LabelQuality(2)
        >>> q.learn_many(np.array([[0.6, 0.4]] * 100))
        >>> m = Metrics(label_names=["legit", "fraud"])
        >>> m.set_label_quality(q.estimate())
        >>> m.registry.get_sample_value("streamlabel_label_quality_estimated_accuracy",
        ...                             {"estimate": "raw"})
        0.6
        >>> q.learn_gold_many(np.array([[0.6, 0.4]] * 100), np.zeros(100, dtype=int))
        >>> m.set_label_quality(q.estimate())
        >>> m.registry.get_sample_value("streamlabel_label_quality_gold_accuracy")
        1.0
        >>> m.registry.get_sample_value("streamlabel_label_quality_estimated_accuracy",
        ...                             {"estimate": "calibrated"}) > 0.95
        True
        """

        def put(gauge: Any, value: Any, *labels: str) -> None:
            # A series is created only with a value: none is better than a false 0.
            if value is not None:
                (gauge.labels(*labels) if labels else gauge).set(float(value))

        put(self.quality_accuracy, estimate.get("expected_accuracy"), "calibrated")
        put(self.quality_accuracy, estimate.get("raw_confidence"), "raw")
        put(self.quality_gold_accuracy, estimate.get("gold_accuracy"))
        put(self.quality_gold_weight, estimate.get("gold_weight"))
        for y, c in enumerate(estimate.get("per_class") or []):
            put(self.quality_precision, c.get("expected_precision"), self._label(y))
            put(self.quality_gold_precision, c.get("gold_precision"), self._label(y))

    def set_class_balance(self, balance: Sequence[float] | Any) -> None:
        """Set the label model's class balance gauge, one series per class."""
        for y, p in enumerate(balance):
            self.class_balance.labels(self._label(y)).set(float(p))

    def set_lf_accuracies(self, accuracies: Mapping[str, float]) -> None:
        """Set the estimated accuracy gauge of each LF id."""
        for lf_id, a in accuracies.items():
            self.lf_estimated_accuracy.labels(*_split_id(lf_id)).set(float(a))

    def set_lf_coverage(self, coverage: Mapping[str, float]) -> None:
        """Set the recent-window coverage gauge of each LF id."""
        for lf_id, c in coverage.items():
            self.lf_coverage.labels(*_split_id(lf_id)).set(float(c))

    def retire_lfs(self, lf_ids: Iterable[str]) -> None:
        """Drop the gauge series of LFs that left the served set (counters are kept)."""
        for lf_id in lf_ids:
            key = _split_id(lf_id)
            for g in (self.lf_coverage, self.lf_estimated_accuracy, self.lf_quarantined):
                with contextlib.suppress(KeyError):
                    g.remove(*key)

    def observe_drift(self, events: Iterable[Any]) -> None:
        """Count drift events (anything with ``monitor`` and ``kind``)."""
        for e in events:
            self.drift_detections.labels(e.monitor, e.kind).inc()

    def set_consumer_lag(self, topic: str, partition: int, lag: float) -> None:
        """Set the lag (messages behind the partition's end) of one assigned partition."""
        self.consumer_lag.labels(topic, str(partition)).set(max(0.0, float(lag)))

    def drop_consumer_lag(self, topic: str, partition: int) -> None:
        """Remove the lag series of a partition no longer assigned to this consumer."""
        with contextlib.suppress(KeyError):
            self.consumer_lag.remove(topic, str(partition))

    def observe_api_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one control API request (``route``: its template, or ``unmatched``)."""
        self.api_requests.labels(route, method, str(status)).inc()
        self.api_seconds.labels(route).observe(seconds)

    def observe_replay_job(self, job: Mapping[str, Any]) -> None:
        """Count a replay job of the control API (its dict, as ``GET /replays/{id}``).

        A running job sets ``streamlabel_replay_jobs_running``; an ended one (``state``
        ``done``, ``partial`` or ``failed``) counts its outcome and the revisions it wrote.

        Examples
        --------
        >>> m = Metrics()
        >>> m.observe_replay_job({"state": "running"})
        >>> m.observe_replay_job({"state": "done", "progress": {"revised": 7}})
        >>> get = m.registry.get_sample_value
        >>> get("streamlabel_replay_jobs_total", {"outcome": "done"}), get(
        ...     "streamlabel_replay_revisions_total"), get("streamlabel_replay_jobs_running")
        (1.0, 7.0, 0.0)
        """
        state = str(job.get("state"))
        if state == "running":
            self.replay_running.set(1)
            return
        self.replay_running.set(0)
        self.replay_jobs.labels(state).inc()
        revised = (job.get("progress") or {}).get("revised") or 0
        self.replay_revisions.inc(float(revised))

    def observe_training(self, result: Any, seconds: float) -> None:
        """Count one retraining round by outcome and observe its duration.

        ``result`` is a :class:`~streamlabel.pipeline.TrainingResult` (anything with
        ``trained`` and ``promoted``): ``promoted``, ``kept`` (trained, the champion
        stays) or ``skipped`` (nothing trained, e.g. one class in the window).

        Examples
        --------
        >>> from types import SimpleNamespace as R
        >>> m = Metrics()
        >>> m.observe_training(R(trained=True, promoted=False), 2.0)
        >>> m.registry.get_sample_value("streamlabel_retrain_runs_total", {"outcome": "kept"})
        1.0
        >>> m.registry.get_sample_value("streamlabel_retrain_duration_seconds_sum")
        2.0
        """
        outcome = "promoted" if result.promoted else "kept" if result.trained else "skipped"
        self.retrain_runs.labels(outcome).inc()
        self.retrain_seconds.observe(seconds)

    def sync_predictor(self, predictor: Any) -> None:
        """Add the increase of a :class:`~streamlabel.pipeline.Predictor`'s model counters.

        Refused ``models`` records count as load failures of the served model name; the
        version serving is marked in ``streamlabel_model_info`` (a change counts a swap).
        """
        name = predictor.model
        refused = self._delta(("refused", name), predictor.models_refused_)
        self.model_load_failures.labels(name).inc(refused)
        if predictor.version is not None:
            self.set_served_model(name, predictor.version)

    def set_served_model(self, model: str, version: str) -> None:
        """Mark ``version`` as the one serving ``model`` (the previous series is removed).

        Examples
        --------
        >>> m = Metrics()
        >>> m.set_served_model("fraud", "v1"); m.set_served_model("fraud", "v2")
        >>> m.registry.get_sample_value("streamlabel_model_info", {"model": "fraud",
        ...                                                        "version": "v1"}) is None
        True
        >>> m.registry.get_sample_value("streamlabel_model_swaps_total", {"model": "fraud"})
        2.0
        """
        self.model_load_failures.labels(model)  # the series exists (0) once a model serves
        old = self._served.get(model)
        if old == version:
            return
        if old is not None:
            self.model_info.remove(model, old)
        self.model_info.labels(model, version).set(1)
        self._served[model] = version
        self.model_swaps.labels(model).inc()
