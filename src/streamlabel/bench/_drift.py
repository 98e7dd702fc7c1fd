"""``streamlabel bench drift``: the closed loop on the drifting fraud stream, no Kafka.

One generated stream (:func:`streamlabel.datasets.make_fraud_stream`) is replayed in
batches through three pipelines, side by side:

- ``static``: an :class:`~streamlabel.labelmodel.OnlineLabelModel` (``half_life=None``)
  learns the first window only (predict-then-learn, batch by batch), then labels the
  rest unchanged; one end model is trained on its labels of that window and serves the
  rest unchanged;
- ``streamlabel``: a :class:`~streamlabel.pipeline.Labeler` (LF set v1, label model
  learning every batch) labels every batch; a :class:`~streamlabel.pipeline.DriftWatch`
  watches its label records (LF coverage and agreement) and late gold for one event in
  five (the emitted label against the true one). An end model is trained after the
  first window and again on every retraining request, on the most recent
  ``train_window`` labeled events (gold replacing the label model's label where known),
  minus the held-out evaluation events: the ``n_eval`` most recent gold-labeled events.
  The challenger is compared with the champion on those with
  :func:`~streamlabel.models.decide` and swapped in through
  :class:`~streamlabel.models.ServingModel` only if better by ``margin``;
- ``streamlabel_pushes``: the same plus the analyst's LF set pushes (v2, v3, v4 of
  :func:`~streamlabel.datasets.fraud_lfsets`) ``push_delay`` events after the start of
  ``tactic_change``, ``new_pattern`` and ``amount_shift``.

Every event is predicted by the serving model (when one serves) before it is labeled
(prequential); a prediction that raises is counted in ``predictions_failed``. End models
are trained on the label model's top class weighted by its confidence (its class balance
is poorly calibrated on this stream, so soft labels train a worse model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamlabel.datasets import fraud_lfsets, make_fraud_stream
from streamlabel.drift import TriggerPolicy
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import LFApplier, LFSet
from streamlabel.models import EndModel, PayloadFeaturizer, ServingModel, decide, evaluate
from streamlabel.pipeline import DriftWatch, Labeler

__all__ = ["PIPELINES", "bench_drift"]

#: The pipelines compared, in report order.
PIPELINES = ("static", "streamlabel", "streamlabel_pushes")
#: The phases answered by an LF set push, with the index of the pushed set in fraud_lfsets().
_PUSHES = (("tactic_change", 1), ("new_pattern", 2), ("amount_shift", 3))


def _featurizer(n_features: int) -> PayloadFeaturizer:
    return PayloadFeaturizer(
        text_fields=["descriptor"],
        numeric_fields=["amount", "hour", "tx_last_hour", "tx_last_day"],
        categorical_fields=["merchant_category", "country", "device"],
        log_fields=["amount", "tx_last_hour", "tx_last_day"],
        n_features=n_features,
    )


def _auc(y: NDArray[np.int64], score: NDArray[np.float64]) -> float | None:
    if y.size == 0 or np.unique(y).size < 2:
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def _mean(x: NDArray[Any]) -> float | None:
    return None if x.size == 0 else float(x.mean())


@dataclass
class _Run:
    """What one pipeline emitted and served, per event, plus its counters."""

    n: int
    label: NDArray[np.int64] = field(init=False)
    conf: NDArray[np.float64] = field(init=False)
    served: NDArray[np.bool_] = field(init=False)
    score: NDArray[np.float64] = field(init=False)
    predictions_failed: int = 0
    deployments: int = 0
    swaps: int = 0
    refused: int = 0
    trainings_failed: int = 0
    retrains: list[dict[str, Any]] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    drift_events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.label = np.full(self.n, -1, dtype=np.int64)
        self.conf = np.zeros(self.n)
        self.served = np.zeros(self.n, dtype=bool)
        self.score = np.zeros(self.n)

    def serve(self, serving: ServingModel, lo: int, payloads: Sequence[dict[str, Any]]) -> None:
        """Predict events ``lo..`` with the serving model before they are labeled."""
        if serving.version is None:
            return
        try:
            proba = serving.predict_proba_many(payloads)
        except Exception:  # counted, never raised: the benchmark reports it
            self.predictions_failed += len(payloads)
            return
        hi = lo + len(payloads)
        self.served[lo:hi] = True
        self.score[lo:hi] = proba[:, 1]


def _fit(
    n_features: int, payloads: Sequence[dict[str, Any]], y: NDArray[np.int64], w: NDArray[Any]
) -> EndModel | None:
    try:
        return EndModel(_featurizer(n_features)).fit(payloads, y, sample_weight=w, n_classes=2)
    except ValueError:  # one class only in the window: nothing to train
        return None


def _static(
    payloads: list[dict[str, Any]], lfset: LFSet, n_first: int, batch: int, n_features: int
) -> _Run:
    n = len(payloads)
    run = _Run(n)
    L = LFApplier(lfset).apply_many(payloads)
    lm = OnlineLabelModel(2, half_life=None)
    serving = ServingModel()
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        run.serve(serving, lo, payloads[lo:hi])
        P = lm.predict_proba_many(L[lo:hi], lfset.ids)
        run.label[lo:hi] = P.argmax(axis=1)
        run.conf[lo:hi] = P.max(axis=1)
        if hi <= n_first:
            lm.learn_many(L[lo:hi], lfset.ids)
            if hi == n_first:
                model = _fit(n_features, payloads[:hi], run.label[:hi], run.conf[:hi])
                if model is None:
                    run.trainings_failed += 1
                elif serving.swap(model, version="static").ok:
                    run.deployments += 1
    return run


def _streamlabel(
    events: list[dict[str, Any]],
    payloads: list[dict[str, Any]],
    y: NDArray[np.int64],
    gold: NDArray[np.bool_],
    pushes: dict[int, LFSet],
    *,
    n_first: int,
    batch: int,
    half_life: float,
    monitor_samples: int,
    cooldown: int,
    train_window: int,
    n_eval: int,
    margin: float,
    n_features: int,
) -> _Run:
    n = len(events)
    run = _Run(n)
    lfset = fraud_lfsets()[0]
    labeler = Labeler(lfset, OnlineLabelModel(2, half_life=half_life), clock=lambda: 0.0)
    policy = TriggerPolicy(critical=["gold_error"], cooldown=cooldown, window=cooldown)
    watch = DriftWatch(lfset.ids, policy=policy, min_samples=monitor_samples, grace=monitor_samples)
    serving = ServingModel()
    champion: EndModel | None = None
    version = 0

    def train(hi: int, request: dict[str, Any] | None) -> None:
        nonlocal champion, version
        lo = max(0, hi - train_window)
        gold_idx = lo + np.flatnonzero(gold[lo:hi])
        held = gold_idx[-n_eval:] if champion is not None else gold_idx[:0]
        keep = np.ones(hi - lo, dtype=bool)
        keep[held - lo] = False
        idx = lo + np.flatnonzero(keep)
        labels = np.where(gold[idx], y[idx], run.label[idx])
        weights = np.where(gold[idx], 1.0, run.conf[idx])
        model = _fit(n_features, [payloads[i] for i in idx], labels, weights)
        if model is None:
            run.trainings_failed += 1
            if request is not None:
                request["action"] = "training failed"
            return
        if champion is None:
            decision_promote, why = True, "first model"
        else:
            eval_payloads = [payloads[i] for i in held]
            truth = y[held]
            d = decide(
                evaluate(champion, eval_payloads, truth),
                evaluate(model, eval_payloads, truth),
                margin=margin,
            )
            decision_promote, why = d.promote, d.reason
        if decision_promote:
            version += 1
            swap = serving.swap(model, version=f"v{version}")
            if swap.ok:
                champion = model
                if version == 1:
                    run.deployments += 1
                else:
                    run.swaps += 1
            else:
                run.refused += 1
                why = f"swap refused: {swap.reason}"
        else:
            run.refused += 1
        if request is not None:
            request["action"] = "swapped" if decision_promote and champion is model else "kept"
            request["decision"] = why

    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        if lo in pushes:
            new = pushes[lo]
            labeler.set_lfset(new)
            watch.set_lfs(new.ids)
            run.pushes.append({"index": lo, "lfset_version": new.version})
        run.serve(serving, lo, payloads[lo:hi])
        out = labeler.process_many([(e, None) for e in events[lo:hi]])
        if len(out.labels) != hi - lo:
            raise RuntimeError(f"{hi - lo - len(out.labels)} events of the stream were rejected")
        run.label[lo:hi] = [r.label for r in out.labels]
        run.conf[lo:hi] = [r.confidence for r in out.labels]
        requests = watch.observe(out.labels)
        for i in lo + np.flatnonzero(gold[lo:hi]):  # late gold, after the batch
            requests += watch.observe_gold(int(run.label[i]), int(y[i]))
        if hi == n_first or (hi > n_first and champion is None and lo < n_first):
            train(hi, None)
        for r in requests:
            entry: dict[str, Any] = {"index": r.index, "at": hi, "reason": r.reason}
            run.retrains.append(entry)
            if hi >= n_first:
                train(hi, entry)
            else:
                entry["action"] = "before the first window: ignored"
    run.drift_events = [
        {"index": e.index, "monitor": e.monitor, "signal": e.signal}
        for e in watch.events_
        if e.kind == "drift"
    ]
    return run


def _recovery(
    correct: NDArray[np.bool_], start: int, stop: int, level: float, window: int, step: int
) -> int | None:
    """Events after ``start`` until the windowed accuracy is within 2 points of ``level``.

    The windows are the ``window`` events before each batch boundary ``end`` with
    ``start + window <= end <= stop`` (whole windows after ``start``, so at least
    ``window``); ``None`` if none is within 2 points.
    """
    first = start + min(window, stop - start)
    for end in range(first, stop + 1, step):
        if float(correct[end - min(window, end - start) : end].mean()) >= level - 0.02:
            return end - start
    return None


def bench_drift(
    n_events: int = 100_000,
    seed: int = 0,
    *,
    batch_size: int = 500,
    window: int = 2_000,
    first_window: float = 0.1,
    gold_every: int = 5,
    train_window: int = 10_000,
    n_eval: int = 500,
    margin: float = 0.005,
    push_delay: int = 1_000,
    half_life: float | None = None,
    n_features: int = 2**12,
) -> dict[str, Any]:
    """Run the static, streamlabel and streamlabel-with-pushes loops on one drifting stream.

    Parameters
    ----------
    n_events
        Events of the generated fraud stream (five phases of 20% each).
    seed
        Seed of the stream.
    batch_size
        Events per batch (labeler micro-batch, serving request, retraining granularity).
    window
        Events per reporting window, and width of the windowed accuracy of the
        time-to-recover.
    first_window
        Fraction of the stream the static label model learns, and after which the first
        end models are trained (rounded to whole batches).
    gold_every
        One event in ``gold_every`` gets a late gold label (streamlabel pipelines only).
    train_window
        Most recent labeled events an end model is trained on.
    n_eval
        Most recent gold-labeled events the challenger and champion are compared on (held
        out of the challenger's training).
    margin
        Accuracy gain a challenger needs to be swapped in.
    push_delay
        Events after a phase start when the analyst pushes the answering LF set.
    half_life
        Half-life of the streamlabel label models, in events; default: one phase
        (``n_events / 5``).
    n_features
        Width of the end model's hashed feature space.

    Returns
    -------
    dict
        JSON-able: ``windows`` (per window and pipeline: ``label_accuracy``,
        ``serving_accuracy``, ``serving_auc``, ``served``), ``phases`` (per phase and
        pipeline: ``label_accuracy``, ``serving_accuracy``, ``serving_auc``; for the
        streamlabel pipelines ``detection_delay``; for every drift phase
        ``time_to_recover`` and, for the pushes, ``recover_from``), ``pipelines`` (per
        pipeline: ``predictions_failed``, ``deployments``, ``swaps``, ``swaps_refused``,
        ``retrain_requests``, ``retrain_reasons``, ``false_alarms``,
        ``false_alarms_per_100k``, ``drift_events``, ``pushes``, ...) and the settings.

    Examples
    --------
    >>> r = bench_drift(n_events=2_000, seed=1, batch_size=100, window=400, train_window=1_000,
    ...                 n_eval=100, push_delay=100, n_features=2**8)
    >>> sorted(r["pipelines"]) == sorted(PIPELINES), len(r["windows"])
    (True, 5)
    >>> [r["pipelines"][p]["predictions_failed"] for p in PIPELINES]
    [0, 0, 0]
    >>> [p["lfset_version"] for p in r["pipelines"]["streamlabel_pushes"]["pushes"]]
    ['2', '3', '4']
    """
    if n_events < 1 or batch_size < 1 or window < 1 or gold_every < 1 or n_eval < 1:
        raise ValueError("n_events, batch_size, window, gold_every and n_eval must be >= 1")
    if not 0 < first_window < 1:
        raise ValueError(f"first_window must be in (0, 1), got {first_window}")
    stream = make_fraud_stream(n_events, seed=seed)
    events, y = stream.events, np.asarray(stream.y, dtype=np.int64)
    payloads = stream.payloads()
    n = len(events)
    n_first = min(n, max(batch_size, round(first_window * n / batch_size) * batch_size))
    gold = np.arange(n) % gold_every == 0
    lfsets = fraud_lfsets()
    hl = float(half_life) if half_life is not None else max(1.0, n / 5)
    push_at: dict[int, LFSet] = {}
    for name, k in _PUSHES:
        at = stream.phase(name).start + push_delay
        at = -(-at // batch_size) * batch_size  # the next batch boundary
        if at < n:
            push_at[at] = lfsets[k]
    common: dict[str, Any] = {
        "n_first": n_first,
        "batch": batch_size,
        "half_life": hl,
        "monitor_samples": max(50, n // 100),
        "cooldown": max(batch_size, n // 10),
        "train_window": train_window,
        "n_eval": n_eval,
        "margin": margin,
        "n_features": n_features,
    }
    runs = {
        "static": _static(payloads, lfsets[0], n_first, batch_size, n_features),
        "streamlabel": _streamlabel(events, payloads, y, gold, {}, **common),
        "streamlabel_pushes": _streamlabel(events, payloads, y, gold, push_at, **common),
    }

    def scores(run: _Run, lo: int, hi: int) -> dict[str, Any]:
        served = np.flatnonzero(run.served[lo:hi]) + lo
        pred = (run.score[served] >= 0.5).astype(np.int64)
        return {
            "label_accuracy": _mean(run.label[lo:hi] == y[lo:hi]),
            "serving_accuracy": _mean(pred == y[served]),
            "serving_auc": _auc(y[served], run.score[served]),
            "served": int(served.size),
        }

    windows = [
        {"start": lo, "stop": min(n, lo + window)}
        | {p: scores(r, lo, min(n, lo + window)) for p, r in runs.items()}
        for lo in range(0, n, window)
    ]
    baseline = stream.phase("baseline")
    pushed = {name: at for at, s in push_at.items() for name, k in _PUSHES if lfsets[k] is s}
    phases: dict[str, Any] = {}
    for ph in stream.phases:
        row: dict[str, Any] = {"start": ph.start, "stop": ph.stop}
        for p, r in runs.items():
            cell = scores(r, ph.start, ph.stop)
            correct = r.label == y
            if p != "static":
                hits = [e["index"] for e in r.drift_events if ph.start <= e["index"] < ph.stop]
                cell["detection_delay"] = None if not hits else min(hits) - ph.start
            if ph.name != "baseline":
                ref = _mean(correct[n_first : baseline.stop])
                start = pushed.get(ph.name, ph.start) if p == "streamlabel_pushes" else ph.start
                cell["recover_from"] = start
                cell["time_to_recover"] = (
                    None
                    if ref is None or start >= ph.stop
                    else _recovery(correct, start, ph.stop, ref, window, batch_size)
                )
            row[p] = cell
        phases[ph.name] = row

    pipelines: dict[str, Any] = {}
    n_base = baseline.stop - baseline.start
    for p, r in runs.items():
        alarms = sum(1 for e in r.drift_events if e["index"] < baseline.stop)
        reasons: dict[str, int] = {}
        for entry in r.retrains:
            reasons[entry["reason"]] = reasons.get(entry["reason"], 0) + 1
        pipelines[p] = {
            "predictions_failed": r.predictions_failed,
            "events_served": int(r.served.sum()),
            "deployments": r.deployments,
            "swaps": r.swaps,
            "swaps_refused": r.refused,
            "trainings_failed": r.trainings_failed,
            "retrain_requests": len(r.retrains),
            "retrain_reasons": reasons,
            "retrains": r.retrains,
            "false_alarms": None if p == "static" else alarms,
            "false_alarms_per_100k": (
                None if p == "static" or n_base == 0 else alarms * 1e5 / n_base
            ),
            "drift_events": len(r.drift_events),
            "pushes": r.pushes,
        }
    return {
        "bench": "drift",
        "n_events": n,
        "seed": seed,
        "batch_size": batch_size,
        "window": window,
        "first_window_events": n_first,
        "gold_every": gold_every,
        "train_window": train_window,
        "n_eval": n_eval,
        "margin": margin,
        "half_life": hl,
        "end_model_labels": "label model top class weighted by its confidence; gold where known",
        "phases": phases,
        "pipelines": pipelines,
        "windows": windows,
    }
