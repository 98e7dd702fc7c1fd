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
  five (the emitted label against the true one). End models are trained after the
  first window, every ``retrain_every`` events and on every retraining request, on the
  most recent ``train_window`` events minus the held-out evaluation events (the
  ``n_eval`` most recent gold-labeled ones); the challenger is compared with the
  champion on those with :func:`~streamlabel.models.decide` and swapped in through
  :class:`~streamlabel.models.ServingModel` only if better by ``margin``. Three
  mechanisms close the loop (each can be switched off to measure it):

  - **late gold feeds the label model** (:meth:`~streamlabel.pipeline.Labeler.learn_feedback`,
    as the labeler service's feedback topic does), weighted ``gold_weight`` (default
    ``gold_every``: a uniform 1-in-k sample then weighs as much as the events it samples);
  - **the served model is an LF** (:func:`~streamlabel.lf.model_score_lf`,
    ``end_model@<served version>``, votes fraud at P(fraud) >= ``hi``, legit at <= ``lo``):
    the score each event was served with is put in its payload before labeling, so the
    LF reads the batch's scores and never calls a model; every swap hot-reloads the LF
    set with the new version, which inherits its predecessor's estimate;
  - **the trainer relabels its window**: the current analyst LF set is re-applied to the
    window and combined by the label model as it is now, *without* the model LF (a model
    must not be trained on its own votes); events no analyst LF covers are dropped unless
    gold; gold replaces the label where known, with weight ``gold_weight``;

- ``streamlabel_pushes``: the same plus the analyst's LF set pushes (v2, v3, v4 of
  :func:`~streamlabel.datasets.fraud_lfsets`) ``push_delay`` events after the start of
  ``tactic_change``, ``new_pattern`` and ``amount_shift``.

Every event is predicted by the serving model (when one serves) before it is labeled
(prequential); a prediction that raises is counted in ``predictions_failed``. End models
are trained on the label model's top class weighted by its confidence (its class balance
is poorly calibrated on this stream, so soft labels train a worse model).

No leakage: the model LF of a batch is the model serving that batch, trained before it;
training and evaluation use gold of past events only, and the champion never trained on
the events it is judged on (its own held-out set covers the overlap).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamlabel._constants import ABSTAIN
from streamlabel.datasets import FRAUD_PUSHES, fraud_lfsets, fraud_push_points, make_fraud_stream
from streamlabel.drift import TriggerPolicy
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import MODEL_SCORE_FIELD, LFApplier, LFSet, model_score_lf
from streamlabel.models import EndModel, PayloadFeaturizer, ServingModel, decide, evaluate
from streamlabel.pipeline import DriftWatch, FeedbackRecord, Labeler

__all__ = ["PIPELINES", "bench_drift"]

#: The pipelines compared, in report order.
PIPELINES = ("static", "streamlabel", "streamlabel_pushes")
#: The phases answered by an LF set push, with the index of the pushed set in fraud_lfsets().
_PUSHES = FRAUD_PUSHES
#: Name of the model-score LF (its version is the served model's).
_MODEL_LF = "end_model"


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
    model_vote: NDArray[np.int64] = field(init=False)
    predictions_failed: int = 0
    deployments: int = 0
    swaps: int = 0
    refused: int = 0
    trainings_failed: int = 0
    retrains: list[dict[str, Any]] = field(default_factory=list)
    trainings: list[dict[str, Any]] = field(default_factory=list)
    swap_at: list[int] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    drift_events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.label = np.full(self.n, -1, dtype=np.int64)
        self.conf = np.zeros(self.n)
        self.served = np.zeros(self.n, dtype=bool)
        self.score = np.zeros(self.n)
        self.model_vote = np.full(self.n, ABSTAIN, dtype=np.int64)

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
    payloads: list[dict[str, Any]],
    lfset: LFSet,
    n_first: int,
    batch: int,
    n_features: int,
    prior_weight: float,
    unanimous_weight: float,
) -> _Run:
    n = len(payloads)
    run = _Run(n)
    L = LFApplier(lfset).apply_many(payloads)
    lm = OnlineLabelModel(
        2, half_life=None, prior_weight=prior_weight, unanimous_weight=unanimous_weight
    )
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
    retrain_every: int,
    model_lf: tuple[float, float] | None,
    relabel: bool,
    feed_gold: bool,
    gold_weight: float,
    drop_uncovered: bool,
    prior_weight: float,
    unanimous_weight: float,
    forget_on_drift: bool,
) -> _Run:
    n = len(events)
    run = _Run(n)
    analyst = fraud_lfsets()[0]
    lm = OnlineLabelModel(
        2,
        half_life=half_life,
        gold_weight=gold_weight if feed_gold else 1.0,
        prior_weight=prior_weight,
        unanimous_weight=unanimous_weight,
    )
    labeler = Labeler(analyst, lm, clock=lambda: 0.0)
    policy = TriggerPolicy(critical=["gold_error"], cooldown=cooldown, window=cooldown)
    watch = DriftWatch(
        analyst.ids,
        policy=policy,
        min_samples=monitor_samples,
        grace=monitor_samples,
        on_lf_drift=labeler.forget_lf if forget_on_drift else None,
    )
    serving = ServingModel()
    champion: EndModel | None = None
    version = 0
    lf_model: str | None = None  # served version the labeler's model LF votes for
    applier = LFApplier(analyst)  # the trainer's, for relabeling

    def train(hi: int, request: dict[str, Any] | None, trigger: str) -> None:
        nonlocal champion, version
        lo = max(0, hi - train_window)
        gold_idx = lo + np.flatnonzero(gold[lo:hi])
        held = gold_idx[-n_eval:] if champion is not None else gold_idx[:0]
        keep = np.ones(hi - lo, dtype=bool)
        if relabel:
            # The trainer's labels: the current analyst LFs re-applied to the window and
            # combined by the label model as it is now, the model LF left out (a model
            # must not learn its own votes); events none of them covers are dropped
            # unless gold.
            L = applier.apply_many(payloads[lo:hi])
            P = labeler.model.predict_proba_many(L, analyst.ids)
            weak, weak_conf = P.argmax(axis=1), P.max(axis=1)
            if drop_uncovered:
                keep &= (L != ABSTAIN).any(axis=1) | gold[lo:hi]
        else:
            weak, weak_conf = run.label[lo:hi], run.conf[lo:hi]
        keep[held - lo] = False
        idx = lo + np.flatnonzero(keep)
        labels = np.where(gold[idx], y[idx], weak[idx - lo])
        weights = np.where(gold[idx], gold_weight, weak_conf[idx - lo])
        entry: dict[str, Any] = {"at": hi, "trigger": trigger, "n_train": int(idx.size)}
        entry["train_label_accuracy"] = _mean(labels == y[idx])
        nongold = ~gold[idx]
        entry["train_label_accuracy_nongold"] = _mean(labels[nongold] == y[idx][nongold])
        run.trainings.append(entry)
        model = _fit(n_features, [payloads[i] for i in idx], labels, weights)
        if model is None:
            run.trainings_failed += 1
            entry["action"] = "training failed"
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
                    run.swap_at.append(hi)
            else:
                run.refused += 1
                why = f"swap refused: {swap.reason}"
        else:
            run.refused += 1
        entry["action"] = "swapped" if decision_promote and champion is model else "kept"
        entry["decision"] = why
        if champion is model:
            entry["version"] = f"v{version}"
        if request is not None:
            request["action"] = entry["action"]
            request["decision"] = why

    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        pushed = lo in pushes
        if pushed:
            analyst = pushes[lo]
            applier = LFApplier(analyst)
            watch.set_lfs(analyst.ids)
            run.pushes.append({"index": lo, "lfset_version": analyst.version})
        if model_lf is not None and serving.version is not None and serving.version != lf_model:
            lf_model = serving.version
            pushed = True
        if pushed:
            labeler.set_lfset(_with_model_lf(analyst, lf_model, model_lf))
        run.serve(serving, lo, payloads[lo:hi])
        batch_events = events[lo:hi]
        if lf_model is not None:
            # The serving model's scores of this batch (computed above, before labeling)
            # are what the model LF reads: it never calls a model itself.
            batch_events = [
                e | {"payload": e["payload"] | {MODEL_SCORE_FIELD: float(run.score[i])}}
                if run.served[i]
                else e
                for i, e in enumerate(batch_events, start=lo)
            ]
        out = labeler.process_many([(e, None) for e in batch_events])
        if len(out.labels) != hi - lo:
            raise RuntimeError(f"{hi - lo - len(out.labels)} events of the stream were rejected")
        run.label[lo:hi] = [r.label for r in out.labels]
        run.conf[lo:hi] = [r.confidence for r in out.labels]
        if lf_model is not None:
            key = f"{_MODEL_LF}@{lf_model}"
            run.model_vote[lo:hi] = [r.votes.get(key, ABSTAIN) for r in out.labels]
        requests = watch.observe(out.labels)
        for i in lo + np.flatnonzero(gold[lo:hi]):  # late gold, after the batch
            requests += watch.observe_gold(int(run.label[i]), int(y[i]))
            if feed_gold:
                labeler.learn_feedback(FeedbackRecord(events[i]["id"], int(y[i]), "gold", 0.0))
        trained = False
        if hi == n_first or (hi > n_first and champion is None and lo < n_first):
            train(hi, None, "first window")
            trained = True
        for r in requests:
            entry: dict[str, Any] = {"index": r.index, "at": hi, "reason": r.reason}
            run.retrains.append(entry)
            if hi >= n_first:
                train(hi, entry, "drift")
                trained = True
            else:
                entry["action"] = "before the first window: ignored"
        if (
            retrain_every
            and not trained
            and hi > n_first
            and hi // retrain_every > lo // retrain_every
        ):
            train(hi, None, "schedule")
    run.drift_events = [
        {"index": e.index, "monitor": e.monitor, "signal": e.signal}
        for e in watch.events_
        if e.kind == "drift"
    ]
    return run


def _with_model_lf(
    analyst: LFSet, model_version: str | None, thresholds: tuple[float, float] | None
) -> LFSet:
    """Return the analyst's set plus the served model's LF (same set name: a hot reload)."""
    if model_version is None or thresholds is None:
        return analyst
    hi, lo = thresholds
    lf = model_score_lf(model_version, hi=hi, lo=lo, name=_MODEL_LF)
    return LFSet(
        analyst.name,
        f"{analyst.version}-{model_version}",
        [*analyst.lfs, lf],
        analyst.cardinality,
        analyst.label_names,
    )


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
    retrain_every: int | None = None,
    model_lf: tuple[float, float] | None = (0.8, 0.2),
    relabel: bool = True,
    feed_gold: bool = True,
    gold_weight: float | None = None,
    drop_uncovered: bool = True,
    prior_weight: float = 1.0,
    unanimous_weight: float = 0.0,
    forget_on_drift: bool = True,
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
    retrain_every
        Scheduled retraining every this many events (besides drift requests), 0 for
        none; default ``n_events / 20`` rounded to whole batches.
    model_lf
        ``(hi, lo)`` thresholds of the served model's LF in the streamlabel pipelines;
        ``None`` leaves the model out of the LF set.
    relabel
        Train on the window relabeled at training time (current analyst LFs and label
        model, no model LF, uncovered events dropped unless ``drop_uncovered`` is
        False); False trains on the labels as emitted (which include the model LF's vote).
    feed_gold
        Late gold is learned by the label model (``Labeler.learn_feedback``) besides
        feeding the gold-error monitor.
    gold_weight
        Weight of a gold label in the label model and in end-model training; default
        ``gold_every``.
    drop_uncovered
        With ``relabel``, leave events no analyst LF votes on out of training (gold ones
        stay).
    prior_weight
        ``prior_weight`` of every pipeline's label model. 1 (not the library's 0.5): the
        loop's labels are scored and trained on by accuracy, which the full class balance
        maximises; 0.5 buys rare-class recall with errors (``docs/architecture.md``).
    unanimous_weight
        ``unanimous_weight`` of every pipeline's label model. 0 (not the library's 0.5),
        for the same reason: the loop trusts its balance, and its value after a tactic
        change is the model overruling lone votes of an LF it learned went bad, which the
        unanimity rule would keep.
    forget_on_drift
        The streamlabel pipelines' drift alarms on an LF make their label model re-learn
        it (``DriftWatch(on_lf_drift=Labeler.forget_lf)``).

    Returns
    -------
    dict
        JSON-able: ``windows`` (per window and pipeline: ``label_accuracy``,
        ``serving_accuracy``, ``serving_auc``, ``served``), ``phases`` (per phase and
        pipeline: ``label_accuracy``, ``serving_accuracy``, ``serving_auc``; for the
        streamlabel pipelines ``detection_delay``, ``model_lf_coverage`` and
        ``model_lf_accuracy``; for every drift phase ``time_to_recover_from_onset`` and
        ``time_to_recover`` from ``recover_from``, the index of the ``fix``: the push for
        ``streamlabel_pushes`` where there is one, else the first swap after the onset,
        ``None`` when there is none in the phase and for ``static``), ``pipelines`` (per
        pipeline: ``predictions_failed``, ``deployments``, ``swaps``, ``swaps_refused``
        (challengers kept out), ``trainings`` (each with its trigger, decision and the
        accuracy of its labels), ``retrain_requests``, ``retrain_reasons``,
        ``false_alarms``, ``false_alarms_per_100k``, ``drift_events``, ``pushes``, ...)
        and the settings.

    Examples
    --------
    >>> r = bench_drift(n_events=2_000, seed=1, batch_size=100, window=400, train_window=1_000,
    ...                 n_eval=100, push_delay=100, n_features=2**8, retrain_every=1_000)
    >>> sorted(r["pipelines"]) == sorted(PIPELINES), len(r["windows"])
    (True, 5)
    >>> [r["pipelines"][p]["predictions_failed"] for p in PIPELINES]
    [0, 0, 0]
    >>> [p["lfset_version"] for p in r["pipelines"]["streamlabel_pushes"]["pushes"]]
    ['2', '3', '4']
    >>> [t["trigger"] for t in r["pipelines"]["streamlabel"]["trainings"]][:2]
    ['first window', 'schedule']
    """
    if n_events < 1 or batch_size < 1 or window < 1 or gold_every < 1 or n_eval < 1:
        raise ValueError("n_events, batch_size, window, gold_every and n_eval must be >= 1")
    if retrain_every is not None and retrain_every < 0:
        raise ValueError(f"retrain_every must be >= 0, got {retrain_every}")
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
    every = (
        max(batch_size, round(n / 20 / batch_size) * batch_size)
        if retrain_every is None
        else retrain_every
    )
    push_at: dict[int, LFSet] = {
        at: lfsets[k] for at, k in fraud_push_points(stream, push_delay, batch_size)
    }
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
        "retrain_every": every,
        "model_lf": model_lf,
        "relabel": relabel,
        "feed_gold": feed_gold,
        "gold_weight": float(gold_every) if gold_weight is None else gold_weight,
        "drop_uncovered": drop_uncovered,
        "prior_weight": prior_weight,
        "unanimous_weight": unanimous_weight,
        "forget_on_drift": forget_on_drift,
    }
    runs = {
        "static": _static(
            payloads, lfsets[0], n_first, batch_size, n_features, prior_weight, unanimous_weight
        ),
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
            if p != "static":
                mv = r.model_vote[ph.start : ph.stop]
                fired = mv != ABSTAIN
                cell["model_lf_coverage"] = _mean(fired)
                cell["model_lf_accuracy"] = _mean(mv[fired] == y[ph.start : ph.stop][fired])
            correct = r.label == y
            if p != "static":
                hits = [e["index"] for e in r.drift_events if ph.start <= e["index"] < ph.stop]
                cell["detection_delay"] = None if not hits else min(hits) - ph.start
            if ph.name != "baseline":
                ref = _mean(correct[n_first : baseline.stop])

                # The fix: (c) the analyst's push; (b) the first model swapped in after the
                # onset (its model LF then votes with post-drift knowledge); (a) has none.
                if p == "streamlabel_pushes" and ph.name in pushed:
                    fix: int | None = pushed[ph.name]
                    cell["fix"] = "push"
                elif p == "static":
                    fix, cell["fix"] = None, None
                else:
                    fix = next((at for at in r.swap_at if ph.start < at < ph.stop), None)
                    cell["fix"] = None if fix is None else "swap"
                cell["recover_from"] = fix
                for key, start in (
                    ("time_to_recover", fix),
                    ("time_to_recover_from_onset", ph.start),
                ):
                    cell[key] = (
                        None
                        if ref is None or start is None or start >= ph.stop
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
            "trainings": r.trainings,
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
        "retrain_every": every,
        "model_lf": None if model_lf is None else {"hi": model_lf[0], "lo": model_lf[1]},
        "relabel": relabel,
        "drop_uncovered": drop_uncovered,
        "prior_weight": prior_weight,
        "unanimous_weight": unanimous_weight,
        "forget_on_drift": forget_on_drift,
        "feed_gold": feed_gold,
        "gold_weight": common["gold_weight"],
        "end_model_labels": (
            "label model top class weighted by its confidence"
            + (", relabeled at training time without the model LF" if relabel else "")
            + f"; gold where known (weight {common['gold_weight']:g})"
        ),
        "phases": phases,
        "pipelines": pipelines,
        "windows": windows,
    }
