"""Pickle-free, verified artifacts of end models: ``.npz`` arrays, a JSON header, a SHA-256.

An artifact is one ``.npz`` (compressed) holding the model's arrays, a ``header`` member
(UTF-8 JSON: format name, format version, class, settings, featurizer configuration,
state) and a ``sha256`` member: the SHA-256 of the header bytes and of every array's name,
dtype, shape and bytes. Loading reads with ``allow_pickle=False`` (an object array is
refused, never unpickled), checks the format and version, recomputes the hash, then
rebuilds the model from validated arrays. The hash covers content, not the file's bytes:
the zip container stamps times, so two saves of one model differ as files but hash alike.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamlabel.labelmodel import IncompatibleModelError
from streamlabel.models._features import PayloadFeaturizer
from streamlabel.models._model import EndModel

__all__ = [
    "ARTIFACT_FORMAT",
    "ARTIFACT_FORMAT_VERSION",
    "ArtifactError",
    "ArtifactInfo",
    "CorruptArtifactError",
    "IncompatibleArtifactError",
    "artifact_sha256",
    "dumps_model_artifact",
    "load_model_artifact",
    "loads_model_artifact",
    "save_model_artifact",
]

#: Name of the format, in every artifact's header.
ARTIFACT_FORMAT = "streamlabel.endmodel"
#: Bumped whenever the meaning or layout of the saved arrays or the hash changes.
ARTIFACT_FORMAT_VERSION = 1
_HASH_DOMAIN = b"streamlabel.endmodel/sha256/v1\x00"


class ArtifactError(ValueError):
    """A model artifact was refused; the message says why."""


class CorruptArtifactError(ArtifactError):
    """The artifact is damaged: unreadable, truncated, hash mismatch or inconsistent arrays."""


class IncompatibleArtifactError(ArtifactError, IncompatibleModelError):
    """The file is intact but not an end-model artifact this streamlabel reads.

    Another format (a label model, any other ``.npz``), another format version, another
    class. Also an :class:`~streamlabel.labelmodel.IncompatibleModelError`.
    """


@dataclass(frozen=True)
class ArtifactInfo:
    """What :func:`save_model_artifact` wrote.

    Attributes
    ----------
    path : Path
        The artifact file.
    sha256 : str
        Hex SHA-256 of its content (header and arrays), as stored inside it.
    size : int
        Size of the file in bytes.
    """

    path: Path
    sha256: str
    size: int


def _digest(header: bytes, arrays: Mapping[str, NDArray[Any]]) -> str:
    """SHA-256 over the header bytes and each array's name, dtype, shape and data."""
    h = hashlib.sha256(_HASH_DOMAIN)

    def chunk(b: bytes) -> None:
        h.update(len(b).to_bytes(8, "little"))  # length-prefixed: no two splits collide
        h.update(b)

    chunk(header)
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        if a.dtype.hasobject:
            raise CorruptArtifactError(f"array {name!r} holds Python objects")
        chunk(json.dumps([name, a.dtype.str, list(a.shape)]).encode())
        chunk(a.tobytes())
    return h.hexdigest()


def _content(model: EndModel) -> tuple[bytes, dict[str, NDArray[Any]]]:
    if not isinstance(model, EndModel):
        raise TypeError(f"expected an EndModel, got {type(model).__name__}")
    if not model.is_fitted:
        raise ValueError("cannot save an EndModel that is not fitted")
    header = {
        "format": ARTIFACT_FORMAT,
        "format_version": ARTIFACT_FORMAT_VERSION,
        "class": type(model).__name__,
        "settings": model._settings(),
        "featurizer": model.featurizer_.get_config(),
        "state": model._state_header(),
    }
    return json.dumps(header, sort_keys=True).encode(), model._state_arrays()


def artifact_sha256(model: EndModel) -> str:
    """Return the content hash an artifact of ``model`` would carry (nothing is written).

    Examples
    --------
    >>> from streamlabel.models import EndModel, PayloadFeaturizer
    >>> m = EndModel(PayloadFeaturizer(numeric_fields=["x"], n_features=1))
    >>> m = m.fit([{"x": 0}, {"x": 1}] * 4, [0, 1] * 4)
    >>> h = artifact_sha256(m)
    >>> len(h), h == artifact_sha256(loads_model_artifact(dumps_model_artifact(m)))
    (64, True)
    """
    header, arrays = _content(model)
    return _digest(header, arrays)


def _write(model: EndModel, fh: Any) -> str:
    header, arrays = _content(model)
    digest = _digest(header, arrays)
    members: dict[str, NDArray[Any]] = dict(arrays)
    members["header"] = np.frombuffer(header, dtype=np.uint8)
    members["sha256"] = np.frombuffer(digest.encode("ascii"), dtype=np.uint8)
    np.savez_compressed(fh, **members)  # type: ignore[arg-type]  # numpy stubs mistype **kwds
    return digest


def save_model_artifact(model: EndModel, path: str | os.PathLike[str]) -> ArtifactInfo:
    """Write ``model`` to ``path``: ``.npz`` arrays, JSON header, content SHA-256; no pickle.

    The file is written under a temporary name in the same folder and renamed into place,
    so ``path`` never holds a half-written artifact.

    Parameters
    ----------
    model
        A fitted :class:`EndModel`.
    path
        Destination file (conventionally ``*.npz``); replaced if it exists.

    Returns
    -------
    ArtifactInfo
        The path, the content hash and the size written.

    Examples
    --------
    >>> import tempfile
    >>> from streamlabel.models import EndModel, PayloadFeaturizer
    >>> m = EndModel(PayloadFeaturizer(categorical_fields=["c"], n_features=8))
    >>> m = m.fit([{"c": "a"}, {"c": "b"}] * 3, [0, 1] * 3)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     info = save_model_artifact(m, f"{d}/model.npz")
    ...     back = load_model_artifact(info.path, expected_sha256=info.sha256)
    >>> bool((back.predict_proba_many([{"c": "a"}]) == m.predict_proba_many([{"c": "a"}])).all())
    True
    """
    out = Path(path)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as fh:
            digest = _write(model, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return ArtifactInfo(out, digest, out.stat().st_size)


def dumps_model_artifact(model: EndModel) -> bytes:
    """Return the bytes :func:`save_model_artifact` would write.

    Examples
    --------
    >>> from streamlabel.models import EndModel, PayloadFeaturizer
    >>> m = EndModel(PayloadFeaturizer(numeric_fields=["x"], n_features=1))
    >>> m = m.fit([{"x": 0}, {"x": 1}] * 4, [0, 1] * 4)
    >>> loads_model_artifact(dumps_model_artifact(m)).n_classes_
    2
    """
    buf = io.BytesIO()
    _write(model, buf)
    return buf.getvalue()


def load_model_artifact(
    path: str | os.PathLike[str], *, expected_sha256: str | None = None
) -> EndModel:
    """Read and verify an artifact written by :func:`save_model_artifact`.

    Nothing in the file is executed: arrays are read with ``allow_pickle=False`` and the
    header is JSON.

    Parameters
    ----------
    path
        The artifact file.
    expected_sha256
        If given (e.g. from the model registry's metadata), the content hash must also be
        this one: the file must be the very artifact that was registered.

    Returns
    -------
    EndModel
        The fitted model.

    Raises
    ------
    CorruptArtifactError
        Unreadable or truncated file, an object array, content not matching its hash (or
        ``expected_sha256``), or arrays inconsistent with the header.
    IncompatibleArtifactError
        Another format, format version or model class.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = open(f"{d}/x.npz", "wb").write(b"not a zip")
    ...     load_model_artifact(f"{d}/x.npz")
    Traceback (most recent call last):
    ...
    streamlabel.models._io.CorruptArtifactError: .../x.npz: not a readable model artifact (...)
    """
    return _read(Path(path), str(path), expected_sha256)[0]


def loads_model_artifact(data: bytes, *, expected_sha256: str | None = None) -> EndModel:
    """Read and verify an artifact from the bytes of :func:`dumps_model_artifact`.

    Raises the errors of :func:`load_model_artifact`.

    Examples
    --------
    >>> loads_model_artifact(b"")
    Traceback (most recent call last):
    ...
    streamlabel.models._io.CorruptArtifactError: <bytes>: not a readable model artifact (...)
    """
    return _read(io.BytesIO(bytes(data)), "<bytes>", expected_sha256)[0]


def _read(source: Any, where: str, expected_sha256: str | None) -> tuple[EndModel, str]:
    """Load, verify and rebuild; return the model and its content hash."""
    try:
        with np.load(source, allow_pickle=False) as data:
            # Every member is read here, inside the try: a damaged member fails its zip
            # CRC or decompression now, and an object array raises instead of unpickling.
            members = {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise  # missing, not damaged
    except Exception as exc:  # any failure to parse the bytes means a damaged file
        raise CorruptArtifactError(f"{where}: not a readable model artifact ({exc})") from exc
    if "header" not in members:
        if members.keys() & {"sha256", "coef", "intercept", "classes"}:
            # Our members without the header: a damaged zip directory, not another format.
            raise CorruptArtifactError(f"{where}: damaged artifact (no header member)")
        raise IncompatibleArtifactError(f"{where}: not a streamlabel end-model artifact")
    try:
        header_bytes = np.asarray(members.pop("header"), dtype=np.uint8).tobytes()
        header = json.loads(header_bytes.decode("utf-8"))
    except (ValueError, TypeError) as exc:
        raise CorruptArtifactError(f"{where}: unreadable artifact header ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != ARTIFACT_FORMAT:
        got = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise IncompatibleArtifactError(f"{where}: format {got!r} is not {ARTIFACT_FORMAT!r}")
    version = header.get("format_version")
    if version != ARTIFACT_FORMAT_VERSION:
        # Checked before the hash: a newer release may hash differently, and "cannot read
        # version N" is the true reason for such a file.
        raise IncompatibleArtifactError(
            f"{where}: end-model format version {version!r} cannot be read by this "
            f"streamlabel (reads version {ARTIFACT_FORMAT_VERSION})"
        )
    stored = members.pop("sha256", None)
    if stored is None:
        raise CorruptArtifactError(f"{where}: no content hash (sha256 member)")
    stored_hex = np.asarray(stored, dtype=np.uint8).tobytes().decode("ascii", "replace")
    digest = _digest(header_bytes, members)
    if not hmac.compare_digest(stored_hex, digest):
        raise CorruptArtifactError(
            f"{where}: content does not match its SHA-256 (stored {stored_hex[:16]}..., "
            f"computed {digest[:16]}...): the file was damaged or edited"
        )
    if expected_sha256 is not None and not hmac.compare_digest(expected_sha256, digest):
        raise CorruptArtifactError(
            f"{where}: content hash {digest[:16]}... is not the expected "
            f"{expected_sha256[:16]}...: not the artifact that was registered"
        )
    if header.get("class") != EndModel.__name__:
        raise IncompatibleArtifactError(f"{where}: unknown model class {header.get('class')!r}")
    try:
        model = EndModel(PayloadFeaturizer.from_config(header["featurizer"]), **header["settings"])
        model._load_state(header["state"], members)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptArtifactError(f"{where}: inconsistent model state ({exc})") from exc
    return model, digest
