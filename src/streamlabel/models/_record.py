"""The ``models`` topic's record: one model name's current champion, artifact inline.

The topic is compacted and keyed by model name, so its latest record per key *is* the
champion every predictor must serve. A record carries the version's metadata, the
registry entry that made it champion (promotion or rollback) and the artifact bytes,
so a predictor needs no shared disk: it verifies the bytes against the registered
SHA-256 (through :func:`~streamlabel.models.loads_model_artifact`) before swapping.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streamlabel.models._registry import ModelVersion, RegistryEntry

__all__ = [
    "MODEL_RECORD_FORMAT",
    "MODEL_RECORD_FORMAT_VERSION",
    "ModelRecord",
    "ModelRecordError",
    "decode_model_record",
    "encode_model_record",
]

MODEL_RECORD_FORMAT = "streamlabel.model-record"
"""``format`` field of every record on the ``models`` topic."""

MODEL_RECORD_FORMAT_VERSION = 1
"""Format version this release writes and reads."""


class ModelRecordError(ValueError):
    """A ``models`` topic value that is not a valid model record (with the reason)."""


@dataclass(frozen=True)
class ModelRecord:
    """The champion of one model name, as published on the ``models`` topic.

    Attributes
    ----------
    name : str
        Model name (the record key), e.g. ``"fraud"``.
    version : ModelVersion
        The champion's registered metadata (its ``sha256`` names the artifact content).
    entry : RegistryEntry
        The promotion or rollback that made it champion (who, when, why).
    artifact : bytes
        The artifact file (:func:`~streamlabel.models.dumps_model_artifact`'s bytes).

    Examples
    --------
    >>> from streamlabel.models import Lineage, ModelVersion, RegistryEntry
    >>> v = ModelVersion("v1", 1, 0.0, {"accuracy": 0.9}, Lineage("s", "1", "0.1", 10),
    ...                  None, "versions/v1/model.npz", "ab" * 32, 2)
    >>> e = RegistryEntry("promote", "v1", None, "trainer", 1.0, "first model")
    >>> rec = ModelRecord("fraud", v, e, b"PK...")
    >>> decode_model_record(encode_model_record(rec)) == rec
    True
    """

    name: str
    version: ModelVersion
    entry: RegistryEntry
    artifact: bytes

    def __post_init__(self) -> None:
        if not self.name:
            raise ModelRecordError("name: must not be empty")
        if self.entry.version != self.version.version:
            raise ModelRecordError(
                f"entry: names version {self.entry.version!r}, "
                f"the record carries {self.version.version!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-able dict (the artifact base64-encoded)."""
        return {
            "format": MODEL_RECORD_FORMAT,
            "format_version": MODEL_RECORD_FORMAT_VERSION,
            "name": self.name,
            "version": self.version.to_dict(),
            "entry": self.entry.to_dict(),
            "artifact_b64": base64.b64encode(self.artifact).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelRecord:
        """Build a record from :meth:`to_dict`'s output; :class:`ModelRecordError` if invalid."""
        if not isinstance(d, Mapping):
            raise ModelRecordError(f"record: expected a JSON object, got {type(d).__name__}")
        if d.get("format") != MODEL_RECORD_FORMAT:
            raise ModelRecordError(
                f"format: expected {MODEL_RECORD_FORMAT!r}, got {d.get('format')!r}"
            )
        if d.get("format_version") != MODEL_RECORD_FORMAT_VERSION:
            raise ModelRecordError(
                f"format_version: this release reads {MODEL_RECORD_FORMAT_VERSION}, "
                f"got {d.get('format_version')!r}"
            )
        try:
            name = d["name"]
            version = ModelVersion.from_dict(d["version"])
            entry = RegistryEntry.from_dict(d["entry"])
            b64 = d["artifact_b64"]
        except KeyError as exc:
            raise ModelRecordError(f"{exc.args[0]}: missing") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise ModelRecordError(f"version/entry: {exc}") from None
        if not isinstance(name, str):
            raise ModelRecordError("name: must be a string")
        if not isinstance(b64, str):
            raise ModelRecordError("artifact_b64: must be a string")
        try:
            artifact = base64.b64decode(b64.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise ModelRecordError(f"artifact_b64: not base64 ({exc})") from None
        return cls(name, version, entry, artifact)


def encode_model_record(record: ModelRecord) -> bytes:
    """Serialize a record to the ``models`` topic's value bytes (UTF-8 JSON).

    Examples
    --------
    >>> from streamlabel.models import Lineage, ModelVersion, RegistryEntry
    >>> v = ModelVersion("v2", 2, 0.0, {}, Lineage("s", "1", "0.1", 10), "v1",
    ...                  "versions/v2/model.npz", "cd" * 32, 2)
    >>> e = RegistryEntry("rollback", "v2", "v3", "ops", 5.0, "v3 misfires")
    >>> encode_model_record(ModelRecord("fraud", v, e, b"x"))[:40]
    b'{"artifact_b64":"eA==","entry":{"action"'
    """
    return json.dumps(
        record.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode()


def decode_model_record(value: bytes | str) -> ModelRecord:
    """Parse a ``models`` topic value; :class:`ModelRecordError` names what is wrong.

    The artifact itself is *not* checked here: load it with
    ``loads_model_artifact(record.artifact, expected_sha256=record.version.sha256)``.

    Examples
    --------
    >>> for bad in (b"{}", b"not json"):
    ...     try:
    ...         decode_model_record(bad)
    ...     except ModelRecordError as exc:
    ...         print(exc)
    format: expected 'streamlabel.model-record', got None
    record: not JSON (Expecting value: line 1 column 1 (char 0))
    """
    try:
        d = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelRecordError(f"record: not JSON ({exc})") from None
    return ModelRecord.from_dict(d)
