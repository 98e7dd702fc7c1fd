"""The embedded closed loop: every pipeline part in one process, no external services."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamlabel.analysis import LFAnalysis
from streamlabel.datasets import FRAUD_PUSHES, fraud_push_points, make_fraud_stream
from streamlabel.demo._lfsets import demo_lfsets
from streamlabel.demo._log import EventLog, LogRecord
from streamlabel.drift import TriggerPolicy
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import LFSet
from streamlabel.metrics import Metrics
from streamlabel.models import ModelRegistry, PayloadFeaturizer, ServingModel
from streamlabel.pipeline import (
    DriftWatch,
    FeedbackRecord,
    Labeler,
    LabelRecord,
    ReviewPolicy,
    Source,
    Trainer,
    TrainingResult,
    TrainingWindow,
    replay_log,
)

__all__ = ["PUSHES", "DemoConfig", "DemoRun", "malformed_input"]

#: The phases the analyst answers with an LF set push, and the pushed set's index.
PUSHES = FRAUD_PUSHES
#: Topic name of the in-process log (the ``topic`` label of the consumer-lag metric).
TOPIC = "events"
#: A country the legacy ``country_risk`` LF does not know (makes it fault).
NEW_MARKET = "XK"


@dataclass(frozen=True)
class DemoConfig:
    """Settings of a demo run.

    Attributes
    ----------
    events
        Events of the generated fraud stream (five drift phases of 20% each).
    seed
        Seed of the stream and of the injected faults.
    speed
        Events per second the producer writes (the demo waits for them); ``None`` or 0:
        as fast as the pipeline goes. The results do not depend on it.
    batch_size
        Events per micro-batch.
    partitions
        Partitions of the in-process event log.
    gold_every
        One event in ``gold_every`` gets a late gold label (a chargeback).
    bad_every
        About one malformed input injected per ``bad_every`` events (seeded; DLQ).
    new_market_every
        About one event in ``new_market_every`` comes from a country the legacy LF does
        not know (seeded; LF faults).
    missing_amount_every
        About one event in ``missing_amount_every`` has no amount (``null``; seeded): the
        LFs that read it abstain and count it as invalid input.
    push_delay
        Fraction of the stream between a phase's start and the analyst's push.
    train_window
        Most recent labeled events the end model is trained on.
    first_model
        Fraction of the stream after which the first end model is trained.
    history_points
        Points kept per chart series of the status snapshot (bounded).
    model_name
        Name of the served model.
    replay
        After each push, replay the phase's events labeled so far (from the phase's start
        to the push) through the pushed version and give the revisions to the trainer's
        window (the embedded ``streamlabel replay``).
    prior_weight
        The label model's ``prior_weight`` (the library's 0.5). ``bench drift`` runs the
        loop at 1, its fewest label errors; at 0.5 a push's new rare-class LFs flip more
        of the replayed range (v3's wallet top-ups: 15 revisions instead of none).
    """

    events: int = 30_000
    seed: int = 0
    speed: float | None = None
    batch_size: int = 250
    partitions: int = 3
    gold_every: int = 5
    bad_every: int = 400
    new_market_every: int = 300
    missing_amount_every: int = 500
    push_delay: float = 0.02
    train_window: int = 6_000
    first_model: float = 0.1
    history_points: int = 150
    model_name: str = "fraud-demo"
    replay: bool = True
    prior_weight: float = 0.5

    def __post_init__(self) -> None:
        for name in ("events", "batch_size", "partitions", "gold_every", "bad_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.new_market_every < 1 or self.missing_amount_every < 1:
            raise ValueError("new_market_every and missing_amount_every must be >= 1")
        if self.speed is not None and (not math.isfinite(self.speed) or self.speed < 0):
            raise ValueError(f"speed must be a finite number >= 0, got {self.speed!r}")
        if not 0 < self.first_model < 1 or not 0 <= self.push_delay < 0.2:
            raise ValueError("first_model must lie in (0, 1) and push_delay in [0, 0.2)")
        if not 0 <= self.prior_weight <= 1:
            raise ValueError(f"prior_weight must lie in [0, 1], got {self.prior_weight!r}")


def malformed_input(rng: np.random.Generator, k: int) -> bytes:
    """Return a malformed input of one of several kinds (each a DLQ reason).

    Examples
    --------
    >>> from streamlabel.pipeline import InvalidEvent, parse_event
    >>> rng = np.random.default_rng(0)
    >>> reasons = set()
    >>> for k in range(20):
    ...     try:
    ...         parse_event(malformed_input(rng, k))
    ...     except InvalidEvent as exc:
    ...         reasons.add(exc.reason)
    >>> sorted(reasons)
    ['invalid_value', 'missing_field', 'not_json', 'not_utf8']
    """
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return b'{"id": "tx-broken", "ts": 17'  # truncated JSON
    if kind == 1:
        return json.dumps({"ts": 1.7e9, "entity": "card_x", "payload": {}}).encode()
    if kind == 2:
        return json.dumps(
            {"id": f"bad{k}", "ts": "yesterday", "entity": "c", "payload": {}}
        ).encode()
    return b"\xff\xfe not utf-8"


def _series(points: list[list[float | None]], limit: int) -> list[list[float | None]]:
    """Return ``points`` with room for one more of ``limit``: halve the resolution when full."""
    if len(points) >= limit:
        points[:] = points[::2]
    return points


class DemoRun:
    """Run the whole pipeline over the generated drifting fraud stream, in one process.

    A producer appends the events (and a few malformed inputs) of
    :func:`~streamlabel.datasets.make_fraud_stream` to an in-process :class:`EventLog`;
    each micro-batch read from it is scored by the serving end model
    (:class:`~streamlabel.models.ServingModel`), labeled by a
    :class:`~streamlabel.pipeline.Labeler` (LF set v1 of :func:`demo_lfsets`, online
    label model, review routing), watched by a :class:`~streamlabel.pipeline.DriftWatch`,
    and joined into a :class:`~streamlabel.pipeline.TrainingWindow`; one event in
    ``gold_every`` gets its true class back as late gold. A
    :class:`~streamlabel.pipeline.Trainer` trains the first model after ``first_model``
    of the stream, then once a phase and on every retraining request; its champions are
    hot-swapped into serving. The analyst pushes LF set v2, v3 and v4 ``push_delay``
    after the phases they answer start. Everything is counted in a
    :class:`~streamlabel.metrics.Metrics` bundle, and :meth:`snapshot` is the status
    page's input.

    The run is deterministic for a seed (batches are cut by count, never by time;
    wall-clock figures such as throughput aside).

    Parameters
    ----------
    config
        The settings.
    metrics
        The bundle to feed (a fresh one by default).
    registry_dir
        Where the model registry lives; a temporary folder (removed by :meth:`close`)
        by default.

    Examples
    --------
    >>> run = DemoRun(DemoConfig(events=3_000, batch_size=250, train_window=1_000))
    >>> run.run()
    >>> r = run.report()
    >>> r["events"], [p["lfset_version"] for p in r["pushes"]]
    (3000, ['2', '3', '4'])
    >>> r["dlq"] > 0, r["lf_faults"]["country_risk@1"] > 0, len(r["models"]) > 0
    (True, True, True)
    >>> run.close()
    """

    def __init__(
        self,
        config: DemoConfig | None = None,
        *,
        metrics: Metrics | None = None,
        registry_dir: str | Path | None = None,
    ) -> None:
        cfg = config if config is not None else DemoConfig()
        self.config = cfg
        stream = make_fraud_stream(cfg.events, seed=cfg.seed)
        self.stream = stream
        self.n = n = len(stream)
        self.y: NDArray[np.int64] = np.asarray(stream.y, dtype=np.int64)
        self.label_names = list(stream.label_names)
        self.metrics = metrics if metrics is not None else Metrics(label_names=self.label_names)
        self.lfsets = demo_lfsets()
        rng = np.random.default_rng([cfg.seed, 5])  # the injections' own stream of numbers
        # Events from the new market: still valid events with their truth; the legacy LF
        # faults on them.
        for j in np.flatnonzero(rng.random(n) < 1.0 / cfg.new_market_every).tolist():
            stream.events[j]["payload"]["country"] = NEW_MARKET
        missing = np.random.default_rng([cfg.seed, 6]).random(n) < 1.0 / cfg.missing_amount_every
        for j in np.flatnonzero(missing).tolist():
            stream.events[j]["payload"]["amount"] = None
        self.payloads = stream.payloads()
        self.log = EventLog(cfg.partitions)
        self._inputs: list[tuple[str, bytes, int]] = []
        # Log position of each stream event (the producer appends _inputs in order).
        self._position = np.zeros(n + 1, dtype=np.int64)
        bad_after = set(np.flatnonzero(rng.random(n) < 1.0 / cfg.bad_every).tolist())
        for i, e in enumerate(stream.events):
            self._position[i] = len(self._inputs)
            self._inputs.append((e["entity"], json.dumps(e).encode(), i))
            if i in bad_after:
                self._inputs.append((f"bad-{i}", malformed_input(rng, i), -1))
        self._position[n] = len(self._inputs)
        self._index_of = {e["id"]: i for i, e in enumerate(stream.events)}
        points = fraud_push_points(stream, round(cfg.push_delay * n))
        self.push_at: dict[int, LFSet] = {at: self.lfsets[k] for at, k in points}
        # The phase each push answers: where its replay starts.
        answers = {k: name for name, k in PUSHES}
        self.push_phase: dict[int, str] = {at: answers[k] for at, k in points}
        half_life = max(1.0, n / 5)
        lfset = self.lfsets[0]
        self.labeler = Labeler(
            lfset,
            OnlineLabelModel(2, half_life=half_life, prior_weight=cfg.prior_weight),
            review=ReviewPolicy(),
            clock=lambda: 0.0,
        )
        per_phase = max(cfg.batch_size, n // 5)
        self.watch = DriftWatch(
            lfset.ids,
            policy=TriggerPolicy(
                critical=["gold_error"], cooldown=per_phase // 2, window=per_phase
            ),
            min_samples=max(50, n // 100),
            grace=max(50, n // 100),
            on_lf_drift=self.labeler.forget_lf,
        )
        self._tmp: str | None = None
        if registry_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="streamlabel-demo-")
            registry_dir = self._tmp
        self.registry = ModelRegistry(registry_dir, clock=lambda: 0.0)
        self.window = TrainingWindow(cfg.train_window, holdout_fraction=0.2)
        self.trainer = Trainer(
            self.window,
            self.registry,
            PayloadFeaturizer(
                text_fields=["descriptor"],
                numeric_fields=["amount", "hour", "tx_last_hour", "tx_last_day"],
                categorical_fields=["merchant_category", "country", "device"],
                log_fields=["amount", "tx_last_hour", "tx_last_day"],
                n_features=2**12,
            ),
            name=cfg.model_name,
            every=per_phase,
            cooldown=max(cfg.batch_size, per_phase // 4),
            min_train=min(500, max(50, n // 50)),
            min_holdout=min(100, max(20, n // 200)),
            min_gold=min(50, max(10, n // 400)),
            margin=0.002,
        )
        self.serving = ServingModel(registry=self.registry)
        self.n_first = max(cfg.batch_size, round(cfg.first_model * n))
        # Per event: emitted label and confidence, the serving model's score (NaN: none).
        self.label = np.full(n, -1, dtype=np.int64)
        self.served = np.full(n, np.nan)
        self.analysis = LFAnalysis(2, window=max(200, n // 25))
        self.phase_analysis: dict[str, LFAnalysis] = {
            p.name: LFAnalysis(2, 1) for p in stream.phases
        }
        self.phase_estimates: dict[str, dict[str, float]] = {}
        self.done = 0  # stream events labeled
        self.read = 0  # inputs read from the log
        self.pushes: list[dict[str, Any]] = []
        self.models: list[dict[str, Any]] = []
        self.drift: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.replays: list[dict[str, Any]] = []
        # The latest label record per event id (revisions included), what a replay
        # compares with; bounded to the events the training window can still hold.
        self._latest: OrderedDict[str, LabelRecord] = OrderedDict()
        self._latest_cap = 2 * cfg.train_window
        self.history: dict[str, list[list[float | None]]] = {
            "throughput": [],
            "label_accuracy": [],
            "serving_accuracy": [],
            "fraud_share": [],
            "lag": [],
        }
        self.lf_history: dict[str, list[list[float | None]]] = {}
        self._sample_every = max(cfg.batch_size, n // cfg.history_points)
        self._next_sample = self._sample_every
        self._lock = threading.Lock()
        self._started: float | None = None
        self._finished: float | None = None
        self._last_sample: tuple[float, int] | None = None

    # ------------------------------------------------------------------ producing
    @property
    def finished(self) -> bool:
        """Whether every input was read and processed."""
        return self.read >= len(self._inputs)

    def _produce(self, now: float) -> None:
        """Append what the producer has written by ``now`` (all of a batch when unthrottled)."""
        total = len(self._inputs)
        speed = self.config.speed
        if speed:
            assert self._started is not None
            upto = min(total, int((now - self._started) * speed) + 1)
        else:  # keep a few batches ahead: the log holds a backlog, as a topic would
            upto = min(total, self.read + 4 * self.config.batch_size)
        for key, value, tag in self._inputs[self.log.appended : upto]:
            self.log.append(key, value, tag=tag)

    def _wait_for_batch(self) -> None:
        """Block (bounded by the producer's pace) until a whole batch or the rest is there."""
        need = min(len(self._inputs), self.read + self.config.batch_size)
        speed = self.config.speed
        while True:
            self._produce(time.monotonic())
            if self.log.appended >= need or not speed:
                return
            missing = need - self.log.appended
            time.sleep(min(0.25, missing / speed))

    # ------------------------------------------------------------------ one batch
    def step(self) -> bool:
        """Process the next micro-batch; return False once the stream is done."""
        if self.finished:
            return False
        if self._started is None:
            self._started = time.monotonic()
        self._wait_for_batch()
        t0 = time.perf_counter()
        records = self.log.read(self.config.batch_size)
        with self._lock:
            self._batch(records)
            self.metrics.batch_seconds.observe(time.perf_counter() - t0)
            if self.finished:
                self._finished = time.monotonic()
                self._sample(force=True)
        return not self.finished

    def _batch(self, records: Sequence[LogRecord]) -> None:
        m = self.metrics
        good = [r.tag for r in records if r.tag >= 0]
        self.read += len(records)
        for p, lag in enumerate(self.log.lag()):
            m.consumer_lag.labels(TOPIC, str(p)).set(lag)
        if good:
            first = good[0]
            self._push_due(first)
            self._serve(good)
        out = self.labeler.process_many(
            [(r.value, Source(TOPIC, r.partition, r.offset)) for r in records]
        )
        if len(out.labels) != len(good):  # the stream's own events are all valid
            raise RuntimeError(f"{len(good) - len(out.labels)} generated events were rejected")
        lfset = self.labeler.lfset
        m.observe_labels(out.labels, lfset.ids)
        requests = self.watch.observe(out.labels)
        L = np.full((len(good), len(lfset.ids)), -1, dtype=np.int64)
        col = {lf: j for j, lf in enumerate(lfset.ids)}
        latest = self._latest
        for row, (i, rec) in enumerate(zip(good, out.labels, strict=True)):
            self.label[i] = rec.label
            latest[rec.event_id] = rec
            for lf, v in rec.votes.items():
                if lf in col:
                    L[row, col[lf]] = v
            self.window.add_event(rec.event_id, self.payloads[i])
            self.window.add_label(rec)
        while len(latest) > self._latest_cap:
            latest.popitem(last=False)
        if good:
            idx = np.asarray(good)
            self.analysis.update_many(L, lfset.ids, self.y[idx])
            for ph in self.stream.phases:
                sel = (idx >= ph.start) & (idx < ph.stop)
                if sel.any():
                    self.phase_analysis[ph.name].update_many(L[sel], lfset.ids, self.y[idx[sel]])
        for i, rec in zip(good, out.labels, strict=True):  # late gold, after the batch
            if i % self.config.gold_every == 0:
                fb = FeedbackRecord(rec.event_id, int(self.y[i]), "chargeback", 0.0)
                self.labeler.learn_feedback(fb)
                self.window.add_gold(fb)
                requests += self.watch.observe_gold(rec.label, int(self.y[i]))
        self.done += len(good)
        m.sync_labeler(self.labeler)
        m.set_lf_coverage({s.lf: s.coverage for s in self.analysis.summary(window=True)})
        new_drift = self.watch.events_[len(self.drift) :]
        m.observe_drift(new_drift)
        for e in new_drift:
            self.drift.append(
                {"index": e.index, "monitor": e.monitor, "signal": e.signal, "kind": e.kind}
            )
        for ph in self.stream.phases:  # estimates at each phase's end, for the report
            if good and good[0] < ph.stop <= good[-1] + 1:
                self.phase_estimates[ph.name] = dict(self.labeler.model.lf_accuracies())
        self._train(requests)
        self._sample()

    def _push_due(self, first: int) -> None:
        """Push the analyst's LF set whose time has come (before the batch is labeled)."""
        pushed = {p["index"] for p in self.pushes}
        for at in sorted(self.push_at):
            if at <= first and at not in pushed:
                new = self.push_at[at]
                old = self.labeler.lfset
                diff = old.diff(new)
                self.labeler.set_lfset(new)
                self.watch.set_lfs(new.ids)
                self.metrics.retire_lfs(sorted(set(old.ids) - set(new.ids)))
                self.pushes.append(
                    {
                        "index": at,
                        "at": first,
                        "lfset_version": new.version,
                        "added": list(diff.added),
                        "removed": list(diff.removed),
                        "changed": [list(c) for c in diff.changed],
                    }
                )
                if self.config.replay:
                    phase = self.stream.phase(self.push_phase[at])
                    self.replay(phase.start, first, reason=f"{phase.name}: v{new.version}")

    def replay(self, start: int, stop: int, *, reason: str | None = None) -> dict[str, Any]:
        """Replay stream events ``[start, stop)`` through the served LF set version.

        The embedded ``streamlabel replay``: the records of the range are re-read from
        the in-process log (malformed inputs included; they count as invalid) without
        moving the consumer, and :func:`~streamlabel.pipeline.replay_log` relabels them
        with a frozen copy of the live label model, compared with the latest label of
        each event. Every revision becomes the event's latest label and is offered to
        the trainer's window (it replaces the label the window held), so the next model
        trains on the corrected history. The result is appended to :attr:`replays` and
        returned: the summary (flips per class pair and per changed LF), and the accuracy
        of the replayed range against the generator's truth before and after.

        Events whose label is no longer held (older than twice the training window)
        count as unlabeled; replaying a range again revises nothing (idempotent).
        """
        lfset = self.labeler.lfset
        lo, hi = int(self._position[start]), int(self._position[min(stop, self.n)])
        values = [r.value for r in self.log.records(lo, hi)]
        replay_id = f"demo-{lfset.name}-v{lfset.version}-{start}-{stop}"
        # The previous label of each event in the range, for the before/after accuracy.
        before: dict[int, int] = {}
        for i in range(start, min(stop, self.n)):
            rec = self._latest.get(self.stream.events[i]["id"])
            if rec is not None:
                before[i] = rec.label
        res = replay_log(
            values,
            self._latest.values(),
            lfset,
            self.labeler.model,
            replay_id=replay_id,
            reason=reason,
            clock=lambda: 0.0,
        )
        after = dict(before)
        for rev in res.revisions:
            rec = rev.to_label_record()
            self._latest[rev.event_id] = rec
            self.window.add_label(rec)  # the event's label in the window is replaced
            after[self._index_of[rev.event_id]] = rev.label
        idx = np.fromiter(before, dtype=np.int64, count=len(before))
        truth = self.y[idx]

        def accuracy(labels: dict[int, int]) -> float | None:
            if not len(idx):
                return None
            return float((np.fromiter(labels.values(), np.int64, len(labels)) == truth).mean())

        entry: dict[str, Any] = {
            "replay_id": replay_id,
            "lfset_version": lfset.version,
            "at": self.done,
            "from": start,
            "to": min(stop, self.n),
            "reason": res.revisions[0].reason if res.revisions else reason,
            "summary": res.summary.to_dict(),
            "compared": len(idx),
            "accuracy_before": accuracy(before),
            "accuracy_after": accuracy(after),
        }
        self.replays.append(entry)
        return entry

    def _serve(self, good: Sequence[int]) -> None:
        """Score the batch with the serving model before it is labeled (prequential)."""
        if self.serving.version is None:
            return
        payloads = [self.payloads[i] for i in good]
        t0 = time.perf_counter()
        proba = self.serving.predict_proba_many(payloads)
        per_event = (time.perf_counter() - t0) / len(payloads)
        self.served[np.asarray(good)] = proba[:, 1]
        hist = self.metrics.prediction_seconds.labels("stream")
        for _ in payloads:  # per event: what one event's prediction cost in the batch
            hist.observe(per_event)
        self.metrics.predictions.labels("stream").inc(len(payloads))

    def _train(self, requests: Sequence[Any]) -> None:
        m = self.metrics
        trainer = self.trainer
        results: list[tuple[TrainingResult, float, str]] = []
        for r in requests:
            m.retrain_requests.inc()
            self.requests.append({"index": r.index, "at": self.done, "reason": r.reason})
            t0 = time.perf_counter()
            res = trainer.offer_request(r)
            if res is not None:
                results.append((res, time.perf_counter() - t0, "request"))
        if self.registry.champion is None and self.done >= self.n_first and not trainer.waiting:
            t0 = time.perf_counter()
            res = trainer.train("manual", "first model")
            results.append((res, time.perf_counter() - t0, "first"))
        else:
            t0 = time.perf_counter()
            res_poll = trainer.poll()
            if res_poll is not None:
                results.append((res_poll, time.perf_counter() - t0, res_poll.trigger))
        for res, seconds, trigger in results:
            self._trained(res, seconds, trigger)

    def _trained(self, res: TrainingResult, seconds: float, trigger: str) -> None:
        m = self.metrics
        if not res.trained:
            if "skipped" not in res.reason:
                m.retrain_runs.labels("failed").inc()
            return
        m.retrain_seconds.observe(seconds)
        outcome = "promoted" if res.promoted else "kept"
        m.retrain_runs.labels(outcome).inc()
        entry: dict[str, Any] = {
            "version": None if res.version is None else res.version.version,
            "at": self.done,
            "trigger": trigger,
            "reason": res.reason,
            "promoted": res.promoted,
            "served": False,
            "truth": res.truth,
            "n_train": res.n_train,
            "n_holdout": res.n_holdout,
            "seconds": seconds,
            "accuracy": None if res.challenger is None else res.challenger.get("accuracy"),
            "auc": None if res.challenger is None else res.challenger.get("auc"),
            "champion_accuracy": None if res.champion is None else res.champion.get("accuracy"),
        }
        if res.promoted and res.version is not None:
            swap = self.serving.swap(res.version)
            entry["served"] = swap.ok
            if swap.ok:
                m.set_served_model(self.config.model_name, res.version.version)
            else:
                m.model_load_failures.labels(self.config.model_name).inc()
        self.models.append(entry)

    # ------------------------------------------------------------------ history
    def _sample(self, *, force: bool = False) -> None:
        """Add a point to every chart series every ``_sample_every`` events."""
        if not force and self.done < self._next_sample:
            return
        if force and self._last_sample is not None and self._last_sample[1] == self.done:
            return  # the batch's own sample already has this point
        self._next_sample = self.done + self._sample_every
        x = float(self.done)
        now = time.monotonic()
        limit = self.config.history_points
        h = self.history
        last = self._last_sample
        if last is not None and now > last[0] and self.done > last[1]:
            rate = (self.done - last[1]) / (now - last[0])
            _series(h["throughput"], limit).append([x, rate])
        if last is None or self.done > last[1]:
            self._last_sample = (now, self.done)
        lo = max(0, self.done - self._sample_every)
        seg = slice(lo, self.done)
        if self.done > lo:
            acc = float((self.label[seg] == self.y[seg]).mean())
            _series(h["label_accuracy"], limit).append([x, acc])
            scored = ~np.isnan(self.served[seg])
            if scored.any():
                pred = (self.served[seg][scored] >= 0.5).astype(np.int64)
                sacc = float((pred == self.y[seg][scored]).mean())
                _series(h["serving_accuracy"], limit).append([x, sacc])
        model = self.labeler.model
        if model.n_lfs_ > 0:
            _series(h["fraud_share"], limit).append([x, float(model.class_balance_[1])])
        _series(h["lag"], limit).append([x, float(self.log.backlog)])
        est = model.lf_accuracies() if model.n_lfs_ > 0 else {}
        cover = {s.lf: s.coverage for s in self.analysis.summary(window=True)}
        for lf in self.labeler.lfset.ids:
            series = _series(self.lf_history.setdefault(lf, []), limit)
            a = est.get(lf)
            c = cover.get(lf)
            series.append([x, None if a is None else float(a), None if c is None else float(c)])

    # ------------------------------------------------------------------ running
    def run(
        self,
        on_batch: Callable[[DemoRun], None] | None = None,
        *,
        stop: threading.Event | None = None,
    ) -> None:
        """Process batches until the stream is done (or ``stop`` is set).

        ``on_batch`` is called after every batch (progress display).
        """
        for _ in range(len(self._inputs) + 1):  # bounded: one batch reads >= 1 input
            if stop is not None and stop.is_set():
                return
            more = self.step()
            if on_batch is not None:
                on_batch(self)
            if not more:
                return

    def close(self) -> None:
        """Remove the temporary model registry (if the run made one)."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # ------------------------------------------------------------------ reading
    def phase_of(self, index: int) -> str:
        """Name of the phase of stream position ``index``."""
        for ph in self.stream.phases:
            if ph.start <= index < ph.stop:
                return ph.name
        return self.stream.phases[-1].name

    def summary_line(self) -> str:
        """One line for the terminal: phase, LF set, serving model, accuracy, counts."""
        h = self.history["label_accuracy"]
        acc = f"{h[-1][1]:.3f}" if h and h[-1][1] is not None else "-"
        return (
            f"{self.phase_of(max(0, self.done - 1))} | LF set v{self.labeler.lfset.version}"
            f" | model {self.serving.version or '-'} | label acc {acc}"
            f" | drifts {sum(1 for d in self.drift if d['kind'] == 'drift')}"
            f" | swaps {sum(1 for x in self.models if x['served'])}"
            f" | dlq {sum(self.labeler.dlq_by_reason_.values())}"
        )

    def snapshot(self) -> dict[str, Any]:
        """Return the status page's input: a JSON-able dict (taken under the run's lock).

        Keys: ``title``, ``state``, ``stream`` (events total and done, phases),
        ``lfset``, ``lfs`` (per LF of the served set: estimated and true accuracy,
        coverage, history), ``drift``, ``pushes``, ``requests``, ``models``, ``serving``,
        ``series`` (throughput, label and serving accuracy, fraud share, backlog),
        ``counters``, ``class_balance``, ``label_names``.
        """
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        model = self.labeler.model
        est = model.lf_accuracies() if model.n_lfs_ > 0 else {}
        window = {s.lf: s for s in self.analysis.summary(window=True)}
        lfs = []
        for lf in self.labeler.lfset.ids:
            s = window.get(lf)
            lfs.append(
                {
                    "id": lf,
                    "estimated_accuracy": _num(est.get(lf)),
                    "true_accuracy": None if s is None else _num(s.emp_acc),
                    "coverage": None if s is None else _num(s.coverage),
                    "faults": self.labeler.lf_faults_.get(lf, 0),
                    "history": [list(p) for p in self.lf_history.get(lf, [])],
                }
            )
        elapsed = None
        if self._started is not None:
            elapsed = (self._finished or time.monotonic()) - self._started
        balance = model.class_balance_.tolist() if model.n_lfs_ > 0 else None
        state = "finished" if self.finished else ("running" if self._started else "starting")
        return {
            "title": "streamlabel demo",
            "state": state,
            "stream": {
                "name": "fraud",
                "seed": self.config.seed,
                "events_total": self.n,
                "events_done": self.done,
                "elapsed_s": elapsed,
                "phases": [
                    {"name": p.name, "start": p.start, "stop": p.stop} for p in self.stream.phases
                ],
            },
            "lfset": {"name": self.labeler.lfset.name, "version": self.labeler.lfset.version},
            "lfs": lfs,
            "drift": [dict(d) for d in self.drift],
            "pushes": [dict(p) for p in self.pushes],
            "requests": [dict(r) for r in self.requests],
            "models": [dict(x) for x in self.models],
            "serving": {"model": self.config.model_name, "version": self.serving.version},
            "series": {k: [list(p) for p in v] for k, v in self.history.items()},
            "counters": {
                "events_in": self.labeler.events_in_,
                "labels": self.labeler.labels_out_,
                "dlq": {k: v for k, v in self.labeler.dlq_by_reason_.items() if v},
                "review": {k: v for k, v in self.labeler.review_by_reason_.items() if v},
                "feedback": self.labeler.feedback_applied_,
                "lf_faults": sum(self.labeler.lf_faults_.values()),
                "drifts": sum(1 for d in self.drift if d["kind"] == "drift"),
                "retrain_requests": len(self.requests),
                "swaps": sum(1 for x in self.models if x["served"]),
                "backlog": self.log.backlog,
            },
            "class_balance": balance,
            "label_names": list(self.label_names),
        }

    def report(self) -> dict[str, Any]:
        """Return the final summary, JSON-able (see the class description).

        Keys: ``demo``, ``events``, ``seed``, ``phases`` (per phase: label accuracy, the
        serving model's accuracy, and per LF its estimated accuracy at the phase's end
        next to its true accuracy in the phase), ``drift`` (detections), ``pushes``,
        ``retrain_requests``, ``models``, ``replays`` (per replay after a push: the range,
        the summary, the range's accuracy against the truth before and after),
        ``label_quality`` (the label-free estimate over the last labels and its check on
        late gold), ``dlq``, ``dlq_by_reason``, ``review``, ``lf_faults``, ``elapsed_s``,
        ``settings``.
        """
        with self._lock:
            return self._report()

    def _report(self) -> dict[str, Any]:
        phases = []
        for ph in self.stream.phases:
            seg = slice(ph.start, min(ph.stop, self.done))
            if seg.start >= seg.stop:
                continue
            scored = ~np.isnan(self.served[seg])
            pred = (self.served[seg][scored] >= 0.5).astype(np.int64)
            est = self.phase_estimates.get(ph.name, {})
            stats = self.phase_analysis[ph.name].summary()
            phases.append(
                {
                    "phase": ph.name,
                    "start": ph.start,
                    "stop": ph.stop,
                    "label_accuracy": float((self.label[seg] == self.y[seg]).mean()),
                    "serving_accuracy": float((pred == self.y[seg][scored]).mean())
                    if scored.any()
                    else None,
                    "served": int(scored.sum()),
                    "lf_accuracy": {
                        s.lf: {"estimated": _num(est.get(s.lf)), "true": _num(s.emp_acc)}
                        for s in stats
                        if s.n_active
                    },
                }
            )
        elapsed = None
        if self._started is not None:
            elapsed = (self._finished or time.monotonic()) - self._started
        return {
            "demo": "embedded",
            "events": self.done,
            "seed": self.config.seed,
            "phases": phases,
            "drift": [dict(d) for d in self.drift if d["kind"] == "drift"],
            "pushes": [dict(p) for p in self.pushes],
            "retrain_requests": [dict(r) for r in self.requests],
            "models": [dict(x) for x in self.models],
            "replays": [dict(r) for r in self.replays],
            "label_quality": self.labeler.quality.estimate(),
            "label_names": list(self.label_names),
            "dlq": sum(self.labeler.dlq_by_reason_.values()),
            "dlq_by_reason": {k: v for k, v in self.labeler.dlq_by_reason_.items() if v},
            "review": dict(self.labeler.review_by_reason_),
            "lf_faults": {k: v for k, v in self.labeler.lf_faults_.items() if v},
            "elapsed_s": elapsed,
            "settings": asdict(self.config),
        }


def _num(x: float | None) -> float | None:
    """Return a JSON-safe float: NaN and None become None."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x
