"""The label-quality gauges follow the true accuracy of a stream whose truth is known.

The drifting fraud stream is labeled by a :class:`~streamlabel.pipeline.Labeler` (v1, then
the analyst's pushes) whose late gold goes through ``learn_feedback`` (the path the
labeler service's ``feedback`` takes), and a :class:`~streamlabel.metrics.Metrics` bundle
is synced after every batch and every gold delivery, as the service does. At checkpoints
the gauges are read back and compared with the truth over the same window of labels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamlabel.analysis import LabelQuality
from streamlabel.datasets import fraud_lfsets, fraud_push_points, make_fraud_stream
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import load_lfset
from streamlabel.metrics import Metrics
from streamlabel.pipeline import FeedbackRecord, Labeler

N = 40_000
BATCH = 500
WINDOW = 2_000
GOLD_EVERY = 5
GOLD_DELAY = 500
WARMUP = 6_000


def _value(m: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    v = m.registry.get_sample_value(name, labels or {})
    assert v is not None, (name, labels)
    return v


@pytest.fixture(scope="module")
def tracked() -> dict[str, list[float]]:
    stream = make_fraud_stream(N, seed=3)
    y = np.asarray(stream.y, dtype=np.int64)
    sets = fraud_lfsets()
    pushes = {at: sets[k] for at, k in fraud_push_points(stream, 1_000, BATCH)}
    labeler = Labeler(sets[0], OnlineLabelModel(2, half_life=N / 5), clock=lambda: 0.0)
    m = Metrics(label_names=list(stream.label_names))
    emitted = np.full(N, -1)
    fed = 0
    out: dict[str, list[float]] = {
        k: []
        for k in ("truth", "calibrated", "raw", "gold", "gold_truth", "fraud_prec", "fraud_truth")
    }
    for lo in range(0, N, BATCH):
        hi = min(N, lo + BATCH)
        if lo in pushes:
            labeler.set_lfset(pushes[lo])
        batch = labeler.process_many([(e, None) for e in stream.events[lo:hi]])
        emitted[lo:hi] = [r.label for r in batch.labels]
        m.observe_labels(batch.labels, labeler.lfset.ids)
        m.sync_labeler(labeler)
        due = max(fed, hi - GOLD_DELAY)
        for i in range(fed, due):
            if i % GOLD_EVERY == 0:
                labeler.learn_feedback(FeedbackRecord(stream.events[i]["id"], int(y[i]), "cb", 0))
        fed = due
        m.sync_labeler(labeler)  # after the gold, as the service's on_feedback does
        if hi >= WARMUP and hi % WINDOW == 0:
            seg = slice(hi - WINDOW, hi)
            right = emitted[seg] == y[seg]
            out["truth"].append(float(right.mean()))
            name = "streamlabel_label_quality_estimated_accuracy"
            out["calibrated"].append(_value(m, name, {"estimate": "calibrated"}))
            out["raw"].append(_value(m, name, {"estimate": "raw"}))
            # The gold check covers the last WINDOW gold labels: events [due - 5 * WINDOW, due).
            g = np.arange(max(0, due - GOLD_EVERY * WINDOW), due)
            g = g[g % GOLD_EVERY == 0]
            out["gold"].append(_value(m, "streamlabel_label_quality_gold_accuracy"))
            out["gold_truth"].append(float((emitted[g] == y[g]).mean()))
            fraud = emitted[seg] == 1
            if fraud.sum() >= 50:
                out["fraud_prec"].append(
                    _value(m, "streamlabel_label_quality_estimated_precision", {"label": "fraud"})
                )
                out["fraud_truth"].append(float(right[fraud].mean()))
    return out


def test_calibrated_estimate_tracks_the_true_accuracy(tracked: dict[str, list[float]]) -> None:
    truth = np.array(tracked["truth"])
    cal = np.abs(np.array(tracked["calibrated"]) - truth)
    raw = np.abs(np.array(tracked["raw"]) - truth)
    assert len(truth) >= 15
    assert cal.mean() < 0.015 and cal.max() < 0.05, cal.round(3).tolist()
    # The uncalibrated claim (mean top posterior) is the peer, and it is far worse here.
    assert raw.mean() > 3 * cal.mean(), (raw.mean(), cal.mean())


def test_gold_accuracy_is_the_measured_accuracy_of_the_recent_gold(
    tracked: dict[str, list[float]],
) -> None:
    np.testing.assert_allclose(tracked["gold"], tracked["gold_truth"], atol=1e-9)


def test_per_class_precision_tracks_the_truth(tracked: dict[str, list[float]]) -> None:
    est, truth = np.array(tracked["fraud_prec"]), np.array(tracked["fraud_truth"])
    assert len(est) >= 5
    assert np.abs(est - truth).mean() < 0.06, np.c_[est, truth].round(3).tolist()


def test_quality_gauges_exist_only_with_data() -> None:
    lfset = load_lfset(
        {
            "name": "s",
            "version": "1",
            "cardinality": 2,
            "lfs": [
                {
                    "name": "big",
                    "label": 1,
                    "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 9},
                }
            ],
        }
    )
    labeler = Labeler(lfset, OnlineLabelModel(2), clock=lambda: 0.0)
    m = Metrics(label_names=["legit", "fraud"])
    m.sync_labeler(labeler)
    acc = "streamlabel_label_quality_estimated_accuracy"
    assert m.registry.get_sample_value(acc, {"estimate": "calibrated"}) is None
    assert math.isnan(_value(m, "streamlabel_label_quality_gold_accuracy"))
    events = [{"id": f"e{i}", "ts": 0, "entity": "c", "payload": {"amount": i}} for i in range(20)]
    out = labeler.process_many([(e, None) for e in events])
    m.sync_labeler(labeler)
    assert 0.5 <= _value(m, acc, {"estimate": "raw"}) <= 1.0
    assert m.registry.get_sample_value("streamlabel_label_quality_gold_precision",
                                       {"label": "fraud"}) is None  # fmt: skip
    wrong = [r for r in out.labels if r.label == 1][:4]
    for r in wrong:  # every emitted "fraud" was wrong
        assert labeler.learn_feedback(FeedbackRecord(r.event_id, 0, "verdict", 0.0))
    m.sync_labeler(labeler)
    assert _value(m, "streamlabel_label_quality_gold_accuracy") == 0.0
    assert _value(m, "streamlabel_label_quality_gold_precision", {"label": "fraud"}) == 0.0
    assert _value(m, "streamlabel_label_quality_calibration_gold") == pytest.approx(4.0)
    # A duplicate verdict is not learned twice (the labeler's rule applies to quality too).
    assert not labeler.learn_feedback(FeedbackRecord(wrong[0].event_id, 0, "verdict", 0.0))
    assert labeler.quality.n_gold_ == 4


def test_labeler_refuses_a_quality_of_another_cardinality() -> None:
    with pytest.raises(ValueError, match="quality cardinality"):
        Labeler(fraud_lfsets()[0], OnlineLabelModel(2), quality=LabelQuality(3))
