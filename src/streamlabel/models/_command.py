"""Promote / roll back requests for the trainer's registry, and the registry's public view.

The trainer is the registry folder's one writer. A change requested elsewhere (the control
API, ``streamlabel models promote|rollback``) is a :class:`ModelCommand` on the
``model-commands`` topic, keyed by model name; the trainer of that name applies it with
:func:`apply_model_command` and publishes the resulting champion on ``models`` as after
any promotion. What the registry holds is published as a :func:`registry_view` on the
compacted ``model-registry`` topic (one record per model name), with the outcome of the
latest commands, so readers need no access to the folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from streamlabel.models._record import ModelRecord
from streamlabel.models._registry import ModelRegistry

__all__ = [
    "MODEL_COMMAND_FORMAT",
    "REGISTRY_VIEW_FORMAT",
    "ModelCommand",
    "ModelCommandError",
    "apply_model_command",
    "decode_model_command",
    "encode_model_command",
    "registry_view",
]

MODEL_COMMAND_FORMAT = "streamlabel.model-command"
"""``format`` field of a ``model-commands`` record (format version 1)."""

REGISTRY_VIEW_FORMAT = "streamlabel.model-registry"
"""``format`` field of a ``model-registry`` record (format version 1)."""

#: At most this many versions (the newest) go into a registry view: one record stays small.
VIEW_MAX_VERSIONS = 200


class ModelCommandError(ValueError):
    """A ``model-commands`` value that is not a valid command, or a command refused."""


@dataclass(frozen=True)
class ModelCommand:
    """A request to change a model name's champion.

    Attributes
    ----------
    id : str
        Unique id (the audit entry's id), reported back in the registry view.
    model : str
        Model name (the record key).
    action : {"promote", "rollback"}
        Promote ``version``, or return to the champion before the current one.
    version : str or None
        The version to promote (None for a rollback).
    actor, reason : str
        Who and why: kept in the registry entry the command makes.
    at : float
        Epoch seconds of the request.

    Examples
    --------
    >>> c = ModelCommand("c1", "fraud", "promote", "v2", "alice", "v2 is better", 1.0)
    >>> decode_model_command(encode_model_command(c)) == c
    True
    """

    id: str
    model: str
    action: Literal["promote", "rollback"]
    version: str | None
    actor: str
    reason: str
    at: float

    def __post_init__(self) -> None:
        if self.action not in ("promote", "rollback"):
            raise ModelCommandError(f"action: expected promote or rollback, got {self.action!r}")
        if self.action == "promote" and not self.version:
            raise ModelCommandError("version: a promotion names the version")
        if not self.actor or not self.reason or not self.model:
            raise ModelCommandError("model, actor and reason must not be empty")


def encode_model_command(command: ModelCommand) -> bytes:
    """Serialize a command to the ``model-commands`` value bytes (UTF-8 JSON)."""
    body = {"format": MODEL_COMMAND_FORMAT, "format_version": 1, **asdict(command)}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def decode_model_command(value: bytes | str) -> ModelCommand:
    """Parse a ``model-commands`` value; :class:`ModelCommandError` says what is wrong."""
    try:
        d = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelCommandError(f"not JSON ({exc})") from None
    if not isinstance(d, dict) or d.get("format") != MODEL_COMMAND_FORMAT:
        raise ModelCommandError(f"not a {MODEL_COMMAND_FORMAT!r} record")
    if d.get("format_version") != 1:
        raise ModelCommandError(f"format_version {d.get('format_version')!r}, this reads 1")
    try:
        return ModelCommand(
            str(d["id"]),
            str(d["model"]),
            d["action"],
            None if d.get("version") is None else str(d["version"]),
            str(d["actor"]),
            str(d["reason"]),
            float(d["at"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelCommandError(f"malformed command: {exc!r}") from None


def apply_model_command(registry: ModelRegistry, name: str, command: ModelCommand) -> ModelRecord:
    """Apply ``command`` to ``registry`` and return the new champion's ``models`` record.

    Raises
    ------
    ModelCommandError
        The command names another model, an unknown version, the champion itself, or a
        rollback has no earlier champion; the registry is unchanged.
    """
    from streamlabel.models._registry import RegistryError

    if command.model != name:
        raise ModelCommandError(f"command for model {command.model!r}, this registry is {name!r}")
    try:
        if command.action == "promote":
            assert command.version is not None  # checked in __post_init__
            entry = registry.promote(command.version, command.reason, actor=command.actor)
        else:
            entry = registry.rollback(command.reason, actor=command.actor)
    except KeyError:
        known = ", ".join(v.version for v in registry.list()) or "none"
        raise ModelCommandError(
            f"model {name!r} has no version {command.version!r} (versions: {known})"
        ) from None
    except RegistryError as exc:
        raise ModelCommandError(str(exc)) from None
    mv = registry.get(entry.version)
    return ModelRecord(name, mv, entry, registry.path_of(mv).read_bytes())


def registry_view(
    registry: ModelRegistry, name: str, commands: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """Return the ``model-registry`` record value of ``registry`` (JSON-able).

    ``{"format", "format_version", "name", "champion", "versions", "history",
    "commands"}``: the newest :data:`VIEW_MAX_VERSIONS` versions' metadata, every
    promote/rollback entry, and the outcome of recent commands (``id``, ``ok``,
    ``reason``).
    """
    champion = registry.champion
    return {
        "format": REGISTRY_VIEW_FORMAT,
        "format_version": 1,
        "name": name,
        "champion": None if champion is None else champion.version,
        "versions": [v.to_dict() for v in registry.list()[-VIEW_MAX_VERSIONS:]],
        "history": [e.to_dict() for e in registry.history],
        "commands": [dict(c) for c in commands],
    }
