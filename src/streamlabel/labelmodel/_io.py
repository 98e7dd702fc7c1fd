"""Versioned, pickle-free persistence of label models: one ``.npz`` with a JSON header."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ._online import OnlineLabelModel

__all__ = [
    "FORMAT_VERSION",
    "IncompatibleModelError",
    "dumps_model",
    "load_model",
    "loads_model",
    "save_model",
]

#: Bumped whenever the meaning or layout of the saved arrays changes.
FORMAT_VERSION = 1
_FORMAT = "streamlabel.labelmodel"


class IncompatibleModelError(ValueError):
    """A saved model cannot be read by this version of streamlabel."""


def save_model(model: OnlineLabelModel, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` (``.npz``): arrays plus a JSON header, no pickle.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> m = OnlineLabelModel(cardinality=3)
    >>> m.learn_many(np.array([[0, 0], [1, -1], [2, 2]]), ["a@1", "b@1"])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = save_model(m, f"{d}/lm.npz")
    ...     same = load_model(p)
    >>> same.lf_ids_, bool(np.allclose(same.class_balance_, m.class_balance_))
    (['a@1', 'b@1'], True)
    """
    if not isinstance(model, OnlineLabelModel):
        raise TypeError(f"save_model saves an OnlineLabelModel; got {type(model).__name__}")
    out = Path(path)
    with out.open("wb") as fh:
        _write(model, fh)
    return out


def dumps_model(model: OnlineLabelModel) -> bytes:
    """Return ``model`` as bytes: the same ``.npz`` + JSON header :func:`save_model` writes.

    Examples
    --------
    >>> import numpy as np
    >>> m = OnlineLabelModel(cardinality=2)
    >>> m.learn_many(np.array([[1, 0], [0, -1]]), ["a@1", "b@1"])
    >>> same = loads_model(dumps_model(m))
    >>> same.lf_ids_, same.version_ == m.version_
    (['a@1', 'b@1'], True)
    """
    if not isinstance(model, OnlineLabelModel):
        raise TypeError(f"dumps_model dumps an OnlineLabelModel; got {type(model).__name__}")
    buf = io.BytesIO()
    _write(model, buf)
    return buf.getvalue()


def _write(model: OnlineLabelModel, fh: Any) -> None:
    header: dict[str, Any] = {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(model).__name__,
        "settings": model._settings(),
        "state": model._state_header(),
    }
    arrays = model._state_arrays()
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy stubs mistype **kwds


def load_model(path: str | os.PathLike[str]) -> OnlineLabelModel:
    """Read a model written by :func:`save_model`; refuse other formats and versions."""
    return _read(Path(path), str(path))


def loads_model(data: bytes) -> OnlineLabelModel:
    """Read a model from the bytes of :func:`dumps_model`; refuse other formats and versions.

    Raises
    ------
    IncompatibleModelError
        Not a label model, another format version or class, or inconsistent arrays.
    """
    return _read(io.BytesIO(bytes(data)), "<bytes>")


def _read(source: Any, where: str) -> OnlineLabelModel:
    try:
        with np.load(source, allow_pickle=False) as data:
            if "header" not in data:
                raise IncompatibleModelError(f"{where}: not a streamlabel label model (no header)")
            header = json.loads(bytes(data["header"]).decode())
            arrays = {k: data[k] for k in data.files if k != "header"}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, IncompatibleModelError):
            raise
        raise IncompatibleModelError(f"{where}: not a readable label-model file ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        got = header.get("format") if isinstance(header, dict) else header
        raise IncompatibleModelError(f"{where}: format {got!r} is not {_FORMAT!r}")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise IncompatibleModelError(
            f"{where}: label-model format version {version} cannot be read by this streamlabel "
            f"(reads version {FORMAT_VERSION}); re-train or export with a matching release"
        )
    if header.get("class") != OnlineLabelModel.__name__:
        raise IncompatibleModelError(f"{where}: unknown label-model class {header.get('class')!r}")
    try:
        # "balance" joined the settings when "majority" was the default: a file without
        # it was learned under that balance, whatever the default is now.
        model = OnlineLabelModel(**{"balance": "majority", **header["settings"]})
        model._load_state(header["state"], arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise IncompatibleModelError(f"{where}: inconsistent label-model state ({exc})") from exc
    return model
