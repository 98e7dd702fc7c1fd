"""Featurize event payloads: hashed text and categorical tokens plus standardized numbers.

The featurizer is configuration plus a few learned numbers: hashing needs no vocabulary,
so the only state learned at :meth:`PayloadFeaturizer.fit` is the mean and scale of each
numeric field. Both serialize without pickle (:meth:`~PayloadFeaturizer.get_config` is
JSON, the statistics are two float arrays), which is what lets an end model travel as an
``.npz`` + JSON artifact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["PayloadFeaturizer"]

_F = NDArray[np.float64]


def _check_fields(name: str, fields: Sequence[str]) -> tuple[str, ...]:
    if isinstance(fields, str):
        raise TypeError(f"{name} must be a sequence of field names, not a string")
    out = tuple(fields)
    for f in out:
        if not isinstance(f, str) or not f:
            raise ValueError(f"{name}: field names must be non-empty strings, got {f!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: duplicate field names in {list(out)}")
    return out


def _number(value: Any) -> float:
    """Read a payload value as a float; NaN (later: the training mean) if not a number."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return math.nan


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


class PayloadFeaturizer:
    """Turn payload dicts into a sparse feature matrix, from a JSON-able configuration.

    Columns ``0 .. n_features - 1`` are a hashed space shared by the words (and word
    n-grams) of the text fields and by one ``"field=value"`` token per categorical field;
    the last ``len(numeric_fields)`` columns are the numeric fields, standardized with the
    mean and standard deviation seen at :meth:`fit`. Each text field is vectorized on its
    own (no n-gram spans two fields) and L2-normalized; a categorical token counts 1.

    A missing field, ``None`` or a non-number in a numeric field is read as the training
    mean (0 after standardizing); a missing text field is empty; a missing categorical
    field contributes no token. Serving never fails on a sparse payload.

    Parameters
    ----------
    text_fields
        Fields holding free text (hashed with scikit-learn's ``HashingVectorizer``).
    numeric_fields
        Fields holding numbers (bools count as 0/1).
    categorical_fields
        Fields whose value is a category; hashed as the token ``f"{field}={value}"``.
    log_fields
        Numeric fields transformed with ``sign(x) * log1p(|x|)`` before standardizing
        (amounts, counts: heavy right tails).
    n_features
        Width of the hashed space.
    ngram_range
        ``(min_n, max_n)`` word n-grams of the text fields.

    Attributes
    ----------
    mean_ : ndarray of shape (len(numeric_fields),)
        Mean of each (transformed) numeric field at fit.
    scale_ : ndarray of shape (len(numeric_fields),)
        Its standard deviation (1 where it was 0 or undefined).
    n_features_out_ : int
        Number of output columns, ``n_features + len(numeric_fields)``.

    Examples
    --------
    >>> f = PayloadFeaturizer(text_fields=["descriptor"], numeric_fields=["amount"],
    ...                       categorical_fields=["device"], n_features=64)
    >>> X = f.fit_transform([{"descriptor": "KROGER #12", "amount": 10.0, "device": "ios"},
    ...                      {"descriptor": "GIFT CARD", "amount": 30.0}])
    >>> X.shape, f.mean_.tolist(), f.scale_.tolist()
    ((2, 65), [20.0], [10.0])
    >>> X[:, -1].toarray().ravel().tolist()
    [-1.0, 1.0]
    >>> PayloadFeaturizer.from_config(f.get_config()).get_config() == f.get_config()
    True
    """

    def __init__(
        self,
        *,
        text_fields: Sequence[str] = (),
        numeric_fields: Sequence[str] = (),
        categorical_fields: Sequence[str] = (),
        log_fields: Sequence[str] = (),
        n_features: int = 2**16,
        ngram_range: tuple[int, int] = (1, 2),
    ) -> None:
        self.text_fields = _check_fields("text_fields", text_fields)
        self.numeric_fields = _check_fields("numeric_fields", numeric_fields)
        self.categorical_fields = _check_fields("categorical_fields", categorical_fields)
        self.log_fields = _check_fields("log_fields", log_fields)
        roles = [*self.text_fields, *self.numeric_fields, *self.categorical_fields]
        if len(set(roles)) != len(roles):
            raise ValueError("a field can have only one role (text, numeric or categorical)")
        if not roles:
            raise ValueError("no fields to featurize: give text, numeric or categorical fields")
        extra = set(self.log_fields) - set(self.numeric_fields)
        if extra:
            raise ValueError(f"log_fields must be numeric fields; not numeric: {sorted(extra)}")
        if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
            raise ValueError(f"n_features must be an int >= 1, got {n_features!r}")
        lo, hi = (int(v) for v in ngram_range)
        if not 1 <= lo <= hi:
            raise ValueError("ngram_range must be (min_n, max_n) with 1 <= min_n <= max_n")
        self.n_features = n_features
        self.ngram_range = (lo, hi)
        self._log_mask = np.array([f in self.log_fields for f in self.numeric_fields], dtype=bool)
        # Built on first use: importing scikit-learn costs ~1 s, which a process that only
        # reads configurations should not pay.
        self._text_vec: Any = None
        self._cat_hasher: Any = None

    # ------------------------------------------------------------------ configuration
    def get_config(self) -> dict[str, Any]:
        """Return the configuration as a JSON-able dict (no learned state).

        Examples
        --------
        >>> PayloadFeaturizer(numeric_fields=["amount"], n_features=8).get_config()["fields"]
        {'text': [], 'numeric': ['amount'], 'categorical': [], 'log': []}
        """
        return {
            "fields": {
                "text": list(self.text_fields),
                "numeric": list(self.numeric_fields),
                "categorical": list(self.categorical_fields),
                "log": list(self.log_fields),
            },
            "n_features": self.n_features,
            "ngram_range": list(self.ngram_range),
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PayloadFeaturizer:
        """Build an unfitted featurizer from :meth:`get_config`'s output.

        Examples
        --------
        >>> cfg = PayloadFeaturizer(text_fields=["t"], n_features=16).get_config()
        >>> PayloadFeaturizer.from_config(cfg).text_fields
        ('t',)
        """
        fields = config["fields"]
        lo, hi = config["ngram_range"]
        return cls(
            text_fields=fields["text"],
            numeric_fields=fields["numeric"],
            categorical_fields=fields["categorical"],
            log_fields=fields["log"],
            n_features=config["n_features"],
            ngram_range=(lo, hi),
        )

    @property
    def n_features_out_(self) -> int:
        """Number of output columns: the hashed space plus one per numeric field."""
        return self.n_features + len(self.numeric_fields)

    # ------------------------------------------------------------------ fit / transform
    def _numeric(self, payloads: Sequence[Mapping[str, Any]]) -> _F:
        fields = self.numeric_fields
        X = np.array(
            [[_number(p.get(f)) for f in fields] for p in payloads], dtype=np.float64
        ).reshape(len(payloads), len(fields))
        if self._log_mask.any():
            cols = X[:, self._log_mask]
            X[:, self._log_mask] = np.sign(cols) * np.log1p(np.abs(cols))
        X[~np.isfinite(X)] = np.nan
        return X

    def fit(self, payloads: Sequence[Mapping[str, Any]]) -> PayloadFeaturizer:
        """Learn the mean and scale of each numeric field from ``payloads``.

        Examples
        --------
        >>> f = PayloadFeaturizer(numeric_fields=["a", "b"], n_features=4)
        >>> f.fit([{"a": 1, "b": "n/a"}, {"a": 3}]).mean_.tolist(), f.scale_.tolist()
        ([2.0, 0.0], [1.0, 1.0])
        """
        X = self._numeric(payloads)
        seen = np.isfinite(X)
        count = seen.sum(axis=0)
        total = np.where(seen, X, 0.0).sum(axis=0)
        mean = np.divide(total, count, out=np.zeros(X.shape[1]), where=count > 0)
        sq = np.where(seen, (X - mean) ** 2, 0.0).sum(axis=0)
        std = np.sqrt(np.divide(sq, count, out=np.zeros(X.shape[1]), where=count > 0))
        # A constant or never-seen field would divide by zero: leave it unscaled.
        self.mean_ = mean.astype(np.float64)
        self.scale_ = np.where(std > 0, std, 1.0).astype(np.float64)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise RuntimeError("PayloadFeaturizer is not fitted: call fit(payloads) first")

    def _vectorizers(self) -> tuple[Any, Any]:
        if self._text_vec is None:
            from sklearn.feature_extraction import FeatureHasher
            from sklearn.feature_extraction.text import HashingVectorizer

            # alternate_sign=False: non-negative counts, the same convention for both.
            self._cat_hasher = FeatureHasher(
                n_features=self.n_features, input_type="string", alternate_sign=False
            )
            self._text_vec = HashingVectorizer(
                n_features=self.n_features,
                ngram_range=self.ngram_range,
                alternate_sign=False,
                norm="l2",
                dtype=np.float64,
            )
        return self._text_vec, self._cat_hasher

    def transform(self, payloads: Sequence[Mapping[str, Any]]) -> Any:
        """Return the features of ``payloads`` as a CSR matrix ``(n, n_features_out_)``.

        Examples
        --------
        >>> f = PayloadFeaturizer(categorical_fields=["country"], n_features=32)
        >>> X = f.fit([]).transform([{"country": "US"}, {"country": None}, {}])
        >>> X.shape, X.sum(axis=1).A.ravel().tolist()
        ((3, 32), [1.0, 0.0, 0.0])
        """
        import scipy.sparse as sp

        self._check_fitted()
        n = len(payloads)
        text_vec, cat_hasher = self._vectorizers()
        hashed = sp.csr_matrix((n, self.n_features), dtype=np.float64)
        for field in self.text_fields:
            hashed = hashed + text_vec.transform([_text(p.get(field)) for p in payloads])
        if self.categorical_fields:
            tokens = [
                [f"{f}={v}" for f in self.categorical_fields if (v := p.get(f)) is not None]
                for p in payloads
            ]
            hashed = hashed + cat_hasher.transform(tokens)
        if not self.numeric_fields:
            return sp.csr_matrix(hashed)
        num = (self._numeric(payloads) - self.mean_) / self.scale_
        num[np.isnan(num)] = 0.0  # missing -> the training mean
        return sp.hstack([hashed, sp.csr_matrix(num)], format="csr")

    def fit_transform(self, payloads: Sequence[Mapping[str, Any]]) -> Any:
        """:meth:`fit` then :meth:`transform` the same payloads."""
        return self.fit(payloads).transform(payloads)

    # ------------------------------------------------------------------ state (for _io)
    def _state_arrays(self) -> dict[str, _F]:
        self._check_fitted()
        return {"numeric_mean": self.mean_, "numeric_scale": self.scale_}

    def _load_state(self, arrays: Mapping[str, NDArray[Any]]) -> None:
        mean = np.asarray(arrays["numeric_mean"])
        scale = np.asarray(arrays["numeric_scale"])
        m = len(self.numeric_fields)
        for name, a in (("numeric_mean", mean), ("numeric_scale", scale)):
            if a.dtype != np.float64 or a.shape != (m,):
                raise ValueError(f"{name} must be float64 of shape ({m},), got {a.dtype} {a.shape}")
        if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("numeric statistics must be finite with a positive scale")
        self.mean_ = mean.copy()
        self.scale_ = scale.copy()
