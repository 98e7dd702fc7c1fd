"""A fraud stream slice labeled by the shipped LF set and the online label model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamlabel.datasets import fraud_lfsets, make_fraud_stream
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import LFApplier
from streamlabel.models import EndModel, Lineage, PayloadFeaturizer

#: Events in the stream; the first N_TRAIN train, the rest (the fraud_rate_rise phase,
#: ~13% fraud against 5% before) is held out: train on the past, serve the future.
N_EVENTS = 5_000
N_TRAIN = 4_000


def fraud_featurizer(n_features: int = 2**12) -> PayloadFeaturizer:
    return PayloadFeaturizer(
        text_fields=["descriptor"],
        numeric_fields=["amount", "hour", "tx_last_hour", "tx_last_day"],
        categorical_fields=["merchant_category", "country", "device"],
        log_fields=["amount", "tx_last_hour", "tx_last_day"],
        n_features=n_features,
    )


@dataclass
class FraudSetup:
    train: list[dict[str, Any]]
    test: list[dict[str, Any]]
    y_train: NDArray[np.int64]
    y_test: NDArray[np.int64]
    soft: NDArray[np.float64]  # the label model's probabilities on the training events
    lineage: Lineage
    soft_model: EndModel  # trained on the soft labels
    hard_model: EndModel  # trained on the label model's argmax, weighted by its confidence
    gold_model: EndModel  # trained on the ground truth, for reference

    @property
    def majority_accuracy(self) -> float:
        majority = np.bincount(self.y_train).argmax()  # what a trivial model would learn
        return float((self.y_test == majority).mean())


def make_fraud_setup(seed: int = 0) -> FraudSetup:
    stream = make_fraud_stream(N_EVENTS, seed=seed)
    lfset = fraud_lfsets()[-1]
    payloads = stream.payloads()
    L = LFApplier(lfset).apply_many(payloads)
    lm = OnlineLabelModel(cardinality=2)
    lm.learn_many(L[:N_TRAIN], lfset.ids)  # the label model never sees the held-out votes
    soft = lm.predict_proba_many(L[:N_TRAIN], lfset.ids)
    train, test = payloads[:N_TRAIN], payloads[N_TRAIN:]
    f = fraud_featurizer()
    return FraudSetup(
        train=train,
        test=test,
        y_train=stream.y[:N_TRAIN],
        y_test=stream.y[N_TRAIN:],
        soft=soft,
        lineage=Lineage(lfset.name, lfset.version, lm.version_, N_TRAIN),
        soft_model=EndModel(f).fit(train, soft),
        hard_model=EndModel(f).fit(train, soft.argmax(axis=1), sample_weight=soft.max(axis=1)),
        gold_model=EndModel(f).fit(train, stream.y[:N_TRAIN]),
    )
