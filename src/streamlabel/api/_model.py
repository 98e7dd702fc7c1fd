"""Records of the control plane: LF set versions, audit entries, errors.

Everything here is a frozen dataclass with ``to_dict`` / ``from_dict`` (JSON-able), so the
Kafka backend stores exactly what the in-memory backend keeps.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from streamlabel.lf import LFSpecError

__all__ = [
    "ActiveSet",
    "AuditEntry",
    "BackendUnavailableError",
    "ControlError",
    "LFSetVersion",
    "Principal",
]

Role = Literal["read", "write"]


@dataclass(frozen=True)
class Principal:
    """Who calls: the name a token stands for and its role (``read`` or ``write``)."""

    name: str
    role: Role

    @property
    def can_write(self) -> bool:
        """Whether this principal may change anything."""
        return self.role == "write"


class ControlError(ValueError):
    """A refused request: HTTP ``status`` with the reason, and the LF and field if any.

    The CLI prints ``str(error)`` whether it talked to the API or to Kafka, so both paths
    refuse with the same words.

    Examples
    --------
    >>> e = ControlError(422, "label 3 is outside 0..1", lf="big", field="label")
    >>> str(e), e.to_dict()["field"]
    ("LF 'big', field 'label': label 3 is outside 0..1", 'label')
    """

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        lf: str | None = None,
        field: str | None = None,
        code: str = "refused",
    ) -> None:
        self.status = status
        self.reason = reason
        self.lf = lf
        self.field = field
        self.code = code
        super().__init__(reason)

    def __str__(self) -> str:
        # Located as an LF spec error is ("LF 'big', field 'label': ..."), the CLI prints both.
        return str(LFSpecError(self.reason, lf=self.lf, field=self.field))

    def to_dict(self) -> dict[str, Any]:
        """Return the HTTP error body (``error``, ``status``, ``reason``, ``lf``, ``field``)."""
        return {
            "error": self.code,
            "status": self.status,
            "reason": self.reason,
            "lf": self.lf,
            "field": self.field,
            "message": str(self),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ControlError:
        """Rebuild an error from :meth:`to_dict` (the CLI's client side)."""
        return cls(
            int(d.get("status", 500)),
            str(d.get("reason", "")),
            lf=d.get("lf"),
            field=d.get("field"),
            code=str(d.get("error", "refused")),
        )


class BackendUnavailableError(RuntimeError):
    """The store behind the API (Kafka) cannot be reached: HTTP 503."""


@dataclass(frozen=True)
class LFSetVersion:
    """One published version of an LF set, with who published it, when and why.

    Attributes
    ----------
    name, version : str
        The set and its version.
    spec : dict
        ``LFSetSpec.model_dump(mode="json")``: exactly the ``lfsets`` record value.
    content_hash : str
        :attr:`streamlabel.lf.LFSet.content_hash` (excludes name and version).
    action : str
        ``"push"``, ``"rollback"``, or ``"external"`` for a version found on ``lfsets``
        without a version record (published by an older client).
    actor, reason : str or None
        Who and why (None for ``external``).
    at : float or None
        Epoch seconds of publication.
    rollback_of : str or None
        For a rollback, the earlier version whose content this version republishes.
    """

    name: str
    version: str
    spec: dict[str, Any]
    content_hash: str
    action: str
    actor: str | None
    reason: str | None
    at: float | None
    rollback_of: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LFSetVersion:
        """Inverse of :meth:`to_dict`; ``KeyError`` / ``TypeError`` when malformed."""
        return cls(
            name=str(d["name"]),
            version=str(d["version"]),
            spec=dict(d["spec"]),
            content_hash=str(d["content_hash"]),
            action=str(d["action"]),
            actor=d.get("actor"),
            reason=d.get("reason"),
            at=None if d.get("at") is None else float(d["at"]),
            rollback_of=d.get("rollback_of"),
        )

    def summary(self) -> dict[str, Any]:
        """Everything but the spec, plus the number of LFs."""
        out = self.to_dict()
        del out["spec"]
        out["n_lfs"] = len(self.spec.get("lfs", []))
        return out


@dataclass(frozen=True)
class ActiveSet:
    """The latest record of one key of ``lfsets``: the version the labelers apply.

    Attributes
    ----------
    name : str
        The set (record key).
    version : LFSetVersion or None
        The version, or None when the record is not a valid LF set (then ``error``).
    error : str or None
        Why the record is unreadable.
    where : dict
        Where the record is (Kafka: ``partition``, ``offset``, ``timestamp_ms``).
    """

    name: str
    version: LFSetVersion | None
    error: str | None = None
    where: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    """One change made through the control plane: who, when, what and why.

    Attributes
    ----------
    id : str
        Unique id of the change (also the command id of a model change).
    at : float
        Epoch seconds.
    actor : str
        The token's principal name (``cli:<user>`` for the CLI writing to Kafka directly).
    action : str
        ``lfset.push``, ``lfset.rollback``, ``model.promote``, ``model.rollback``.
    target : str
        ``lfset:<name>`` or ``model:<name>``.
    reason : str
        Why, as the caller wrote it.
    details : dict
        What changed (versions, content hashes, diff).

    Examples
    --------
    >>> e = AuditEntry.new("alice", "lfset.push", "lfset:tx", "tighten", {"version": "2"})
    >>> AuditEntry.from_dict(e.to_dict()) == e
    True
    """

    id: str
    at: float
    actor: str
    action: str
    target: str
    reason: str
    details: dict[str, Any]

    @classmethod
    def new(
        cls,
        actor: str,
        action: str,
        target: str,
        reason: str,
        details: Mapping[str, Any],
        at: float | None = None,
    ) -> AuditEntry:
        """Make an entry with a fresh id, stamped now unless ``at`` is given."""
        return cls(
            uuid.uuid4().hex,
            time.time() if at is None else at,
            actor,
            action,
            target,
            reason,
            dict(details),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AuditEntry:
        """Inverse of :meth:`to_dict`."""
        return cls(
            str(d["id"]),
            float(d["at"]),
            str(d["actor"]),
            str(d["action"]),
            str(d["target"]),
            str(d["reason"]),
            dict(d.get("details") or {}),
        )
