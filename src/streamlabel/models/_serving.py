"""Serve an end model and hot-swap it: verify the new version first, then swap one reference.

Readers never lock. The served model is one attribute holding an immutable
:class:`ServedModel`; a request reads it once and scores with what it read, so a request
in flight when a swap happens finishes on the model it started with, and a request never
sees half of a swap (rebinding an attribute is atomic in Python). Swaps are serialized
by a lock, and a candidate is loaded, hash-checked and smoke-tested before the reference
moves: a version that fails any check is refused while the old one keeps serving.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamlabel.models._io import ArtifactError, _read, dumps_model_artifact
from streamlabel.models._model import EndModel
from streamlabel.models._registry import ModelRegistry, ModelVersion

__all__ = ["NoModelError", "ServedModel", "ServingModel", "ShadowPrediction", "SwapResult"]

logger = logging.getLogger("streamlabel.models")

_F = NDArray[np.float64]
Source = str | os.PathLike[str] | ModelVersion | EndModel


class NoModelError(RuntimeError):
    """A prediction was asked of a :class:`ServingModel` that serves no model yet."""


@dataclass(frozen=True, eq=False)
class ServedModel:
    """A verified model and what it is.

    Attributes
    ----------
    version : str
        Its label: the registry version id, or the one given to ``swap``.
    model : EndModel
        The model.
    sha256 : str
        Content hash of its artifact.
    source : str
        Where it was loaded from (a path, or ``"<memory>"``).
    """

    version: str
    model: EndModel
    sha256: str
    source: str


@dataclass(frozen=True)
class SwapResult:
    """What a :meth:`ServingModel.swap` (or ``set_shadow``) did.

    Attributes
    ----------
    ok : bool
        True if the candidate now serves (or shadows).
    version : str or None
        The candidate's label (None if it could not be named).
    serving : str or None
        The version serving after the call.
    reason : str
        Why it was refused, or ``"swapped"`` / ``"shadowing"``.
    """

    ok: bool
    version: str | None
    serving: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-able dict."""
        return {
            "ok": self.ok,
            "version": self.version,
            "serving": self.serving,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ShadowPrediction:
    """Scores of the serving model and, alongside, of the shadow candidate.

    Attributes
    ----------
    version : str
        The serving version.
    proba : ndarray of shape (n, k)
        Its probabilities: what is served.
    shadow_version : str or None
        The shadow's version (None: no shadow).
    shadow_proba : ndarray of shape (n, k) or None
        The shadow's probabilities; None without a shadow or if it failed.
    shadow_error : str or None
        Why the shadow failed on this batch (it never fails the request).
    """

    version: str
    proba: _F
    shadow_version: str | None
    shadow_proba: _F | None
    shadow_error: str | None


class _RefusedError(Exception):
    """A candidate failed a check of :meth:`ServingModel._verify`."""


def _default_probe(model: EndModel) -> dict[str, Any]:
    """Build a canned payload that goes through every field of the model's featurizer."""
    f = model.featurizer_
    probe: dict[str, Any] = {name: "probe text 123" for name in f.text_fields}
    probe.update({name: 1.0 for name in f.numeric_fields})
    probe.update({name: "probe" for name in f.categorical_fields})
    return probe


class ServingModel:
    """Holds the serving end model; swaps in verified new versions atomically.

    A candidate (an artifact path, a registry :class:`ModelVersion` or a fitted
    :class:`EndModel`, which is served as a copy read back from its artifact bytes) is
    accepted only if it loads with a valid hash (for a registry
    version: the registered hash), scores a canned probe payload with finite
    probabilities of shape (1, k) summing to 1, and predicts as many classes as the
    model it replaces. A refused candidate increments ``swap_failures_``, is logged and
    reported in the returned :class:`SwapResult`; the old model keeps serving.

    Parameters
    ----------
    registry
        Registry whose versions :meth:`swap` may be given (needed for a ModelVersion).
    probe
        The canned payload of the smoke test; default: one built from the candidate's
        featurizer fields (text, a number, a category for each).

    Attributes
    ----------
    swaps_ : int
        Successful swaps.
    swap_failures_ : int
        Refused candidates.
    shadow_failures_ : int
        Batches on which the shadow raised.

    Examples
    --------
    >>> from streamlabel.models import EndModel, PayloadFeaturizer
    >>> f = PayloadFeaturizer(numeric_fields=["x"], n_features=1)
    >>> m1 = EndModel(f).fit([{"x": 0}, {"x": 1}] * 4, [0, 1] * 4)
    >>> m2 = EndModel(f, C=0.01).fit([{"x": 0}, {"x": 1}] * 4, [0, 1] * 4)
    >>> serving = ServingModel()
    >>> serving.swap(m1, version="v1").ok, serving.version
    (True, 'v1')
    >>> refused = serving.swap("no/such/model.npz")  # the old model keeps serving
    >>> refused.ok, refused.serving, refused.reason[:30]
    (False, 'v1', 'cannot read no/such/model.npz:')
    >>> serving.version, serving.swap_failures_, serving.predict_proba_many([{"x": 1}]).shape
    ('v1', 1, (1, 2))
    >>> serving.swap(m2, version="v2").serving
    'v2'
    """

    def __init__(
        self,
        *,
        registry: ModelRegistry | None = None,
        probe: Mapping[str, Any] | None = None,
    ) -> None:
        self.registry = registry
        self.probe = None if probe is None else dict(probe)
        self._current: ServedModel | None = None
        self._shadow: ServedModel | None = None
        self._swap_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.swaps_ = 0
        self.swap_failures_ = 0
        self.shadow_failures_ = 0
        self.last_swap_: SwapResult | None = None

    # ------------------------------------------------------------------ reading
    @property
    def current(self) -> ServedModel | None:
        """The model serving now, or None."""
        return self._current

    @property
    def version(self) -> str | None:
        """Label of the version serving now, or None."""
        cur = self._current
        return None if cur is None else cur.version

    @property
    def shadow(self) -> ServedModel | None:
        """The shadow candidate, or None."""
        return self._shadow

    def _served(self) -> ServedModel:
        cur = self._current  # the one read of the reference for this request
        if cur is None:
            raise NoModelError("no model is serving yet: swap one in first")
        return cur

    def predict_proba_many(self, payloads: Sequence[Mapping[str, Any]]) -> _F:
        """Probabilities of the serving model, shape (n, k).

        Raises
        ------
        NoModelError
            Nothing serves yet.
        """
        return self._served().model.predict_proba_many(payloads)

    def predict_proba_with_version(self, payloads: Sequence[Mapping[str, Any]]) -> tuple[str, _F]:
        """Probabilities and the label of the version that produced them."""
        cur = self._served()
        return cur.version, cur.model.predict_proba_many(payloads)

    def predict_with_shadow(self, payloads: Sequence[Mapping[str, Any]]) -> ShadowPrediction:
        """Score with the serving model and the shadow; only the first is served.

        A shadow that raises never fails the request: its error is reported and counted.
        """
        cur, shadow = self._served(), self._shadow
        proba = cur.model.predict_proba_many(payloads)
        if shadow is None:
            return ShadowPrediction(cur.version, proba, None, None, None)
        try:
            shadow_proba = shadow.model.predict_proba_many(payloads)
        except Exception as exc:  # the shadow is an experiment: it must not break serving
            with self._count_lock:
                self.shadow_failures_ += 1
            err = f"{type(exc).__name__}: {exc}"
            return ShadowPrediction(cur.version, proba, shadow.version, None, err)
        return ShadowPrediction(cur.version, proba, shadow.version, shadow_proba, None)

    # ------------------------------------------------------------------ swapping
    def _label(self, source: Source, version: str | None) -> str:
        if version is not None:
            return version
        if isinstance(source, ModelVersion):
            return source.version
        if isinstance(source, EndModel):
            return "<memory>"
        return str(source)

    def _load(self, source: Source) -> tuple[EndModel, str, str]:
        """Load and hash-check a candidate: (model, sha256, where)."""
        if isinstance(source, EndModel):
            if not source.is_fitted:
                raise ArtifactError("the model is not fitted")
            # Served through its artifact bytes: the checks of a file apply, and the caller
            # keeps no reference into the model that serves.
            model, digest = _read(io.BytesIO(dumps_model_artifact(source)), "<memory>", None)
            return model, digest, "<memory>"
        if isinstance(source, ModelVersion):
            assert self.registry is not None  # checked by _candidate
            path = self.registry.path_of(source)
            model, digest = _read(path, str(path), source.sha256)
            return model, digest, str(path)
        path = Path(source)
        model, digest = _read(path, str(source), None)
        return model, digest, str(path)

    def _verify(self, model: EndModel, against: ServedModel | None) -> None:
        """Smoke-test a candidate on the canned probe; :class:`_RefusedError` says what is wrong."""
        probe = self.probe if self.probe is not None else _default_probe(model)
        proba = np.asarray(model.predict_proba_many([probe]))
        k = model.n_classes_
        if proba.shape != (1, k):
            raise _RefusedError(f"smoke test: probabilities of shape {proba.shape}, not (1, {k})")
        if not np.isfinite(proba).all() or (proba < 0).any() or (proba > 1).any():
            raise _RefusedError(f"smoke test: probabilities {proba[0].tolist()} are not in [0, 1]")
        if abs(float(proba.sum()) - 1.0) > 1e-6:
            raise _RefusedError(f"smoke test: probabilities sum to {float(proba.sum())}, not 1")
        if against is not None and against.model.n_classes_ != k:
            raise _RefusedError(
                f"predicts {k} classes where {against.version!r} predicts "
                f"{against.model.n_classes_}: clients expect a fixed number of classes"
            )

    def _candidate(self, source: Source, version: str | None) -> tuple[ServedModel | None, str]:
        """Load and verify ``source``: (the model to serve, label) or (None, why not)."""
        # Usage errors raise: they are bugs of the caller, not a bad candidate.
        if isinstance(source, ModelVersion) and self.registry is None:
            raise TypeError("swapping to a ModelVersion needs ServingModel(registry=...)")
        if not isinstance(source, str | os.PathLike | ModelVersion | EndModel):
            raise TypeError(f"cannot swap to a {type(source).__name__}")
        label = self._label(source, version)
        try:
            model, digest, where = self._load(source)
        except ArtifactError as exc:
            return None, str(exc)
        except OSError as exc:
            return None, f"cannot read {label}: {exc}"
        try:
            self._verify(model, self._current)
        except _RefusedError as exc:
            return None, str(exc)
        except Exception as exc:  # a candidate that crashes on the probe is refused too
            return None, f"smoke test raised {type(exc).__name__}: {exc}"
        return ServedModel(label, model, digest, where), label

    def _refused(self, label: str | None, reason: str, what: str) -> SwapResult:
        with self._count_lock:
            self.swap_failures_ += 1
        logger.warning("%s of %s refused: %s", what, label, reason)
        return SwapResult(False, label, self.version, reason)

    def swap(self, source: Source, *, version: str | None = None) -> SwapResult:
        """Verify ``source`` and, if it passes, make it the serving model.

        Parameters
        ----------
        source
            An artifact path, a :class:`ModelVersion` of ``registry`` (its registered
            hash is checked), or a fitted :class:`EndModel`.
        version
            Label for the new model (default: the registry version id, else the path).

        Returns
        -------
        SwapResult
            ``ok`` False, with the reason, when the candidate was refused; the model that
            served before then serves on.
        """
        with self._swap_lock:
            served, info = self._candidate(source, version)
            if served is None:
                result = self._refused(self._label(source, version), info, "swap")
            else:
                previous = self.version
                self._current = served  # the swap: one reference, rebound atomically
                with self._count_lock:
                    self.swaps_ += 1
                logger.info("serving model %s (was %s)", served.version, previous)
                result = SwapResult(True, served.version, served.version, "swapped")
            self.last_swap_ = result
            return result

    def set_shadow(self, source: Source, *, version: str | None = None) -> SwapResult:
        """Verify ``source`` like :meth:`swap` and score it alongside, without serving it."""
        with self._swap_lock:
            served, info = self._candidate(source, version)
            if served is None:
                return self._refused(self._label(source, version), info, "shadow")
            self._shadow = served
            return SwapResult(True, served.version, self.version, "shadowing")

    def clear_shadow(self) -> None:
        """Stop scoring a shadow."""
        with self._swap_lock:
            self._shadow = None
