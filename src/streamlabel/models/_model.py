"""The end model: a logistic regression on payload features, trained on soft labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from streamlabel._constants import ABSTAIN
from streamlabel.models._features import PayloadFeaturizer

__all__ = ["EndModel"]

_F = NDArray[np.float64]


def _proba(scores: _F, n_classes: int) -> _F:
    """Class probabilities from decision scores: the logistic for k = 2, else softmax."""
    if n_classes == 2:
        from scipy.special import expit

        p1 = np.asarray(expit(scores[:, 0]), dtype=np.float64)
        return np.column_stack([1.0 - p1, p1])
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: _F = e / e.sum(axis=1, keepdims=True)
    return out


class EndModel:
    """Multinomial logistic regression on :class:`PayloadFeaturizer` features.

    Trained on the label model's probabilistic labels: an event with class probabilities
    ``q`` becomes one training row per class ``c`` with ``sample_weight = q[c]`` (rows
    under ``min_weight`` are dropped), which is the expected log loss under the soft label.
    Hard labels may carry confidence weights instead. Prediction is computed here from
    ``coef_`` and ``intercept_`` (not by the scikit-learn estimator, which is not kept), so
    a model loaded from its artifact predicts bit for bit like the one that was saved.

    Parameters
    ----------
    featurizer
        Configuration of the features; :meth:`fit` fits a copy (``featurizer_``), so one
        configuration can be shared by many models.
    C
        Inverse L2 regularization strength of scikit-learn's ``LogisticRegression``.
    max_iter
        Iterations of its lbfgs solver.
    tol
        Its stopping tolerance.
    min_weight
        Training rows (event, class) with a smaller weight are dropped.

    Attributes
    ----------
    featurizer_ : PayloadFeaturizer
        The fitted copy of ``featurizer``.
    n_classes_ : int
        Number of classes k >= 2; classes are ``0 .. k - 1``.
    classes_ : ndarray of shape (k,), dtype int64
        ``arange(k)``.
    coef_ : ndarray of shape (1, n_features) for k = 2, else (k, n_features)
        Weights (for k = 2, of class 1 against class 0, as scikit-learn stores them).
    intercept_ : ndarray of shape (1,) for k = 2, else (k,)
        Intercepts.
    n_train_events_ : int
        Events given to :meth:`fit`.
    n_train_rows_ : int
        (event, class) rows kept after dropping weights under ``min_weight``.

    Examples
    --------
    >>> import numpy as np
    >>> f = PayloadFeaturizer(text_fields=["text"], n_features=256)
    >>> payloads = [{"text": "free money now"}, {"text": "see you at lunch"}] * 20
    >>> soft = np.array([[0.1, 0.9], [0.8, 0.2]] * 20)  # e.g. from a label model
    >>> model = EndModel(f).fit(payloads, soft)
    >>> model.predict_one({"text": "free money"}), model.predict_one({"text": "lunch?"})
    (1, 0)
    >>> model.predict_proba_many(payloads[:2]).round(2)
    array([[0.17, 0.83],
           [0.73, 0.27]])
    """

    def __init__(
        self,
        featurizer: PayloadFeaturizer,
        *,
        C: float = 1.0,
        max_iter: int = 1000,
        tol: float = 1e-4,
        min_weight: float = 1e-3,
    ) -> None:
        if not isinstance(featurizer, PayloadFeaturizer):
            raise TypeError(f"featurizer must be a PayloadFeaturizer, got {type(featurizer)}")
        if not (np.isfinite(C) and C > 0):
            raise ValueError(f"C must be a positive number, got {C!r}")
        if not (isinstance(max_iter, int) and max_iter >= 1):
            raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}")
        if not (np.isfinite(tol) and tol > 0):
            raise ValueError(f"tol must be a positive number, got {tol!r}")
        if not (np.isfinite(min_weight) and 0 <= min_weight < 1):
            raise ValueError(f"min_weight must be in [0, 1), got {min_weight!r}")
        self.featurizer = featurizer
        self.C = float(C)
        self.max_iter = max_iter
        self.tol = float(tol)
        self.min_weight = float(min_weight)

    def _settings(self) -> dict[str, Any]:
        return {
            "C": self.C,
            "max_iter": self.max_iter,
            "tol": self.tol,
            "min_weight": self.min_weight,
        }

    # ------------------------------------------------------------------ training
    @staticmethod
    def _targets(labels: ArrayLike, n: int, n_classes: int | None) -> _F:
        """Labels as an (n, k) matrix of class weights: soft rows as given, hard one-hot."""
        y = np.asarray(labels)
        if y.ndim == 2:
            if y.shape[0] != n:
                raise ValueError(f"labels has {y.shape[0]} rows for {n} payloads")
            k = y.shape[1]
            if n_classes is not None and n_classes != k:
                raise ValueError(f"labels has {k} columns but n_classes={n_classes}")
            Q = y.astype(np.float64)
            if not np.isfinite(Q).all() or (Q < 0).any():
                raise ValueError("soft labels must be finite and non-negative")
            if not np.allclose(Q.sum(axis=1), 1.0, atol=1e-6):
                raise ValueError("each row of soft labels must sum to 1 (class probabilities)")
            if k < 2:
                raise ValueError(f"need k >= 2 classes, got {k}")
            return Q
        if y.ndim != 1 or y.shape[0] != n:
            raise ValueError(f"labels must have shape ({n},) or ({n}, k), got {y.shape}")
        if y.size and not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"hard labels must be integers, got dtype {y.dtype}")
        y = y.astype(np.int64)
        if (y < ABSTAIN).any():
            raise ValueError(f"hard labels must be classes 0..k-1 or ABSTAIN ({ABSTAIN})")
        k = n_classes if n_classes is not None else max(2, int(y.max(initial=0)) + 1)
        if k < 2 or (y >= k).any():
            raise ValueError(f"hard labels must be below n_classes={k} (and k >= 2)")
        Q = np.zeros((n, k))
        labeled = y != ABSTAIN  # an abstained event carries no label: weight 0
        Q[np.flatnonzero(labeled), y[labeled]] = 1.0
        return Q

    def fit(
        self,
        payloads: Sequence[Mapping[str, Any]],
        labels: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        n_classes: int | None = None,
    ) -> EndModel:
        """Fit the featurizer and the regression on ``payloads``.

        Parameters
        ----------
        payloads
            Event payloads.
        labels
            Either soft labels, shape (n, k): class probabilities per event (rows sum to
            1), e.g. ``OnlineLabelModel.predict_proba_many``; or hard labels, shape (n,):
            classes ``0 .. k - 1``, ``ABSTAIN`` (-1) for events without a label.
        sample_weight
            Optional per-event weights (e.g. the confidence of hard labels); they multiply
            the class probabilities.
        n_classes
            Number of classes for hard labels (default: largest label + 1, at least 2).

        Returns
        -------
        EndModel
            ``self``.

        Raises
        ------
        ValueError
            Malformed labels or weights, or a class with no training weight left.

        Examples
        --------
        >>> f = PayloadFeaturizer(categorical_fields=["kind"], n_features=32)
        >>> m = EndModel(f).fit([{"kind": "a"}, {"kind": "b"}, {"kind": "c"}], [0, 1, 2],
        ...                     sample_weight=[1.0, 0.9, 0.8])
        >>> m.n_classes_, m.coef_.shape, m.n_train_rows_
        (3, (3, 32), 3)
        """
        from sklearn.linear_model import LogisticRegression

        n = len(payloads)
        Q = self._targets(labels, n, n_classes)
        k = Q.shape[1]
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any():
                raise ValueError(f"sample_weight must be {n} finite non-negative numbers")
            Q = Q * w[:, None]
        # One row per (event, class) weight worth keeping: the soft label's expected loss.
        rows, cls = np.nonzero(Q >= max(self.min_weight, np.finfo(np.float64).tiny))
        weights = Q[rows, cls]
        missing = sorted(set(range(k)) - set(cls.tolist()))
        if missing:
            raise ValueError(
                f"classes {missing} have no training weight >= min_weight={self.min_weight}: "
                "the model could not predict them"
            )
        featurizer = PayloadFeaturizer.from_config(self.featurizer.get_config()).fit(payloads)
        X = featurizer.transform(payloads)[rows]
        lr = LogisticRegression(C=self.C, max_iter=self.max_iter, tol=self.tol)
        lr.fit(X, cls, sample_weight=weights)
        self.featurizer_ = featurizer
        self.n_classes_ = k
        self.classes_ = np.arange(k, dtype=np.int64)
        self.coef_ = np.ascontiguousarray(lr.coef_, dtype=np.float64)
        self.intercept_ = np.ascontiguousarray(lr.intercept_, dtype=np.float64)
        self.n_train_events_ = n
        self.n_train_rows_ = int(rows.size)
        return self

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise RuntimeError("EndModel is not fitted: call fit(payloads, labels) first")

    @property
    def is_fitted(self) -> bool:
        """Whether the model has parameters (fitted or loaded)."""
        return hasattr(self, "coef_")

    def decision_function(self, payloads: Sequence[Mapping[str, Any]]) -> _F:
        """Linear scores, shape (n, 1) for k = 2, else (n, k).

        Examples
        --------
        >>> f = PayloadFeaturizer(numeric_fields=["x"], n_features=1)
        >>> m = EndModel(f).fit([{"x": 0.0}, {"x": 1.0}] * 5, [0, 1] * 5)
        >>> m.decision_function([{"x": 1.0}]).shape
        (1, 1)
        """
        self._check_fitted()
        X = self.featurizer_.transform(payloads)
        scores = np.asarray(X @ self.coef_.T, dtype=np.float64) + self.intercept_
        return scores

    def predict_proba_many(self, payloads: Sequence[Mapping[str, Any]]) -> _F:
        """Class probabilities of each payload, shape (n, k); rows sum to 1.

        Examples
        --------
        >>> f = PayloadFeaturizer(numeric_fields=["x"], n_features=1)
        >>> m = EndModel(f).fit([{"x": 0.0}, {"x": 1.0}] * 5, [0, 1] * 5)
        >>> p = m.predict_proba_many([{"x": 0.0}, {"x": 1.0}, {}])
        >>> p.shape, p.sum(axis=1).round(12).tolist(), bool(p[1, 1] > p[0, 1])
        ((3, 2), [1.0, 1.0, 1.0], True)
        """
        return _proba(self.decision_function(payloads), self.n_classes_)

    def predict_proba_one(self, payload: Mapping[str, Any]) -> _F:
        """Class probabilities of one payload, shape (k,).

        Examples
        --------
        >>> f = PayloadFeaturizer(numeric_fields=["x"], n_features=1)
        >>> m = EndModel(f).fit([{"x": 0.0}, {"x": 1.0}] * 5, [0, 1] * 5)
        >>> m.predict_proba_one({"x": 1.0}).shape
        (2,)
        """
        out: _F = self.predict_proba_many([payload])[0]
        return out

    def predict_many(self, payloads: Sequence[Mapping[str, Any]]) -> NDArray[np.int64]:
        """Most probable class of each payload, shape (n,).

        Examples
        --------
        >>> f = PayloadFeaturizer(numeric_fields=["x"], n_features=1)
        >>> m = EndModel(f).fit([{"x": 0.0}, {"x": 1.0}] * 5, [0, 1] * 5)
        >>> m.predict_many([{"x": -1.0}, {"x": 2.0}]).tolist()
        [0, 1]
        """
        return np.asarray(self.predict_proba_many(payloads).argmax(axis=1), dtype=np.int64)

    def predict_one(self, payload: Mapping[str, Any]) -> int:
        """Most probable class of one payload.

        Examples
        --------
        >>> f = PayloadFeaturizer(numeric_fields=["x"], n_features=1)
        >>> EndModel(f).fit([{"x": 0.0}, {"x": 1.0}] * 5, [0, 1] * 5).predict_one({"x": 3})
        1
        """
        return int(self.predict_proba_one(payload).argmax())

    # ------------------------------------------------------------------ state (for _io)
    def _state_header(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "n_classes": self.n_classes_,
            "n_train_events": self.n_train_events_,
            "n_train_rows": self.n_train_rows_,
        }

    def _state_arrays(self) -> dict[str, NDArray[Any]]:
        self._check_fitted()
        return {
            "coef": self.coef_,
            "intercept": self.intercept_,
            "classes": self.classes_,
            **self.featurizer_._state_arrays(),
        }

    def _load_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        """Restore a fitted model; ``ValueError`` on anything inconsistent."""
        expected = {"coef", "intercept", "classes", "numeric_mean", "numeric_scale"}
        if set(arrays) != expected:
            raise ValueError(f"arrays {sorted(arrays)} are not {sorted(expected)}")
        k = int(state["n_classes"])
        if k < 2:
            raise ValueError(f"n_classes must be >= 2, got {k}")
        featurizer = PayloadFeaturizer.from_config(self.featurizer.get_config())
        featurizer._load_state(arrays)
        coef, intercept, classes = arrays["coef"], arrays["intercept"], arrays["classes"]
        rows = 1 if k == 2 else k
        if coef.dtype != np.float64 or coef.shape != (rows, featurizer.n_features_out_):
            raise ValueError(f"coef: {coef.dtype} {coef.shape} for k={k} and the featurizer")
        if intercept.dtype != np.float64 or intercept.shape != (rows,):
            raise ValueError(f"intercept: {intercept.dtype} {intercept.shape} for k={k}")
        if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
            raise ValueError("coef and intercept must be finite")
        if classes.dtype != np.int64 or not np.array_equal(classes, np.arange(k)):
            raise ValueError(f"classes must be arange({k}) as int64")
        self.featurizer_ = featurizer
        self.n_classes_ = k
        self.classes_ = classes.copy()
        self.coef_ = np.ascontiguousarray(coef)
        self.intercept_ = intercept.copy()
        self.n_train_events_ = int(state["n_train_events"])
        self.n_train_rows_ = int(state["n_train_rows"])
