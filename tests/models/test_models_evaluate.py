"""Champion/challenger: metrics against scikit-learn, decisions with a margin."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest
from models_helpers import FraudSetup

from streamlabel.models import Decision, decide, evaluate


class Fixed:
    def __init__(self, proba: np.ndarray) -> None:
        self.proba = proba

    def predict_proba_many(self, payloads: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return self.proba[: len(payloads)]


def test_metrics_match_scikit_learn() -> None:
    from sklearn.metrics import f1_score, log_loss, roc_auc_score

    rng = np.random.default_rng(0)
    p1 = rng.random(300)
    proba = np.column_stack([1 - p1, p1])
    y = (rng.random(300) < p1).astype(np.int64)
    m = evaluate(Fixed(proba), [{}] * 300, y)
    assert m["n"] == 300.0
    assert m["accuracy"] == pytest.approx(((p1 > 0.5) == y).mean())
    assert m["log_loss"] == pytest.approx(log_loss(y, proba))
    assert m["auc"] == pytest.approx(roc_auc_score(y, p1))
    assert m["macro_f1"] == pytest.approx(f1_score(y, proba.argmax(1), average="macro"))
    json.dumps(m, allow_nan=False)


def test_soft_targets_multiclass_and_single_class_truth() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    soft = np.array([[0.9, 0.1, 0.0], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]])
    m = evaluate(Fixed(proba), [{}] * 3, soft)
    assert "auc" not in m and m["accuracy"] == 1.0
    assert m["log_loss"] == pytest.approx(-(soft * np.log(proba)).sum(axis=1).mean())
    # Macro-F1 counts a class the model never predicts as 0.
    m = evaluate(Fixed(np.array([[0.9, 0.1, 0.0]] * 3)), [{}] * 3, np.array([0, 0, 2]))
    assert m["macro_f1"] == pytest.approx((0.8 + 0 + 0) / 3)
    binary = evaluate(Fixed(np.array([[0.6, 0.4]] * 4)), [{}] * 4, np.zeros(4, dtype=np.int64))
    assert "auc" not in binary  # undefined with one class in the truth
    with pytest.raises(ValueError, match=r"classes 0\.\.1"):
        evaluate(Fixed(np.array([[0.6, 0.4]])), [{}], np.array([2]))


def test_a_worse_challenger_is_not_promoted() -> None:
    d = decide({"accuracy": 0.95}, {"accuracy": 0.93}, margin=0.0)
    assert not d.promote and d.champion == 0.95 and d.challenger == 0.93
    assert "not better" in d.reason
    assert not decide({"accuracy": 0.95}, {"accuracy": 0.95}).promote  # a tie keeps the champion


@pytest.mark.parametrize(
    ("challenger", "margin", "promote"),
    [(0.9600, 0.02, False), (0.9699, 0.02, False), (0.9800, 0.02, True), (0.9501, 0.0, True)],
)
def test_the_margin_is_honoured(challenger: float, margin: float, promote: bool) -> None:
    d = decide({"accuracy": 0.95}, {"accuracy": challenger}, margin=margin)
    assert d.promote is promote and d.margin == margin
    assert ("beats" if promote else "< margin") in d.reason


def test_lower_is_better_for_log_loss() -> None:
    assert decide({"log_loss": 0.30}, {"log_loss": 0.20}, 0.05, metric="log_loss").promote
    assert not decide({"log_loss": 0.30}, {"log_loss": 0.40}, metric="log_loss").promote
    assert not decide({"log_loss": 0.30}, {"log_loss": 0.28}, 0.05, metric="log_loss").promote


def test_no_champion_and_bad_input() -> None:
    d = decide(None, {"accuracy": 0.6}, margin=0.1)
    assert d.promote and d.champion is None and d.reason.startswith("no champion")
    assert not decide(None, {"accuracy": float("nan")}).promote
    with pytest.raises(ValueError, match="unknown metric"):
        decide(None, {"accuracy": 0.6}, metric="precision")
    with pytest.raises(ValueError, match="margin"):
        decide(None, {"accuracy": 0.6}, margin=-0.1)
    with pytest.raises(ValueError, match="lack 'auc'"):
        decide({"auc": 0.9}, {"accuracy": 0.6}, metric="auc")


def test_decision_is_json() -> None:
    d = decide({"macro_f1": 0.7}, {"macro_f1": 0.8}, margin=0.05, metric="macro_f1")
    assert Decision.from_dict(json.loads(json.dumps(d.to_dict()))) == d


def test_champion_challenger_on_the_fraud_slice(fraud: FraudSetup) -> None:
    soft = evaluate(fraud.soft_model, fraud.test, fraud.y_test)
    hard = evaluate(fraud.hard_model, fraud.test, fraud.y_test)
    gold = evaluate(fraud.gold_model, fraud.test, fraud.y_test)
    # Measured (seed 0): accuracy soft 0.970, hard 0.964, gold 0.976; log loss soft 0.177,
    # hard 0.094: the metric decides which model is the better one.
    assert decide(hard, soft, margin=0.0).promote
    assert not decide(soft, hard, margin=0.0).promote
    assert not decide(hard, soft, margin=0.02).promote  # 0.006 < 0.02
    assert decide(soft, hard, margin=0.02, metric="log_loss").promote  # lower is better
    assert not decide(hard, soft, margin=0.0, metric="log_loss").promote
    assert decide(hard, gold, margin=0.005).promote
    # Against the label model's own probabilities instead of the truth.
    vs_lm = evaluate(fraud.soft_model, fraud.train[:500], fraud.soft[:500])
    assert set(vs_lm) == {"n", "accuracy", "macro_f1", "log_loss", "auc"}
