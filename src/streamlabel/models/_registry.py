"""The model registry: immutable model versions on disk, a champion, an audit trail.

Layout of a registry folder (JSON and ``.npz`` only; nothing is pickled)::

    registry.json                  {"format": "streamlabel.model-registry", ...}
    versions/<version>/model.npz   the artifact (models._io)
    versions/<version>/version.json  ModelVersion.to_dict(), written last
    history.json                   every promote / rollback, in order

One process writes a registry at a time; readers may open it at any time. Files are
written under a temporary name and renamed, so a reader sees each file whole.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from streamlabel.models._evaluate import Decision
from streamlabel.models._io import load_model_artifact, save_model_artifact
from streamlabel.models._model import EndModel

__all__ = [
    "Lineage",
    "ModelRegistry",
    "ModelVersion",
    "RegistryEntry",
    "RegistryError",
    "VersionExistsError",
]

_FORMAT = "streamlabel.model-registry"
_FORMAT_VERSION = 1
# Version ids name folders: no separators, no dot-only names, nothing a shell mangles.
_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ARTIFACT = "model.npz"
_META = "version.json"


class RegistryError(ValueError):
    """A registry operation was refused (the message says why)."""


class VersionExistsError(RegistryError):
    """A model version with this id is already registered: versions are immutable."""


def _write_json(path: Path, obj: Any) -> None:
    """Write JSON under a temporary name, then rename: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=1, sort_keys=True, allow_nan=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class Lineage:
    """Where a model's training labels came from.

    Attributes
    ----------
    lfset_name : str
        Name of the LF set whose votes were combined.
    lfset_version : str
        Its version.
    labelmodel_version : str
        ``OnlineLabelModel.version_`` of the label model that produced the soft labels.
    training_window : int
        Number of events in the training window.

    Examples
    --------
    >>> lin = Lineage("fraud-stream", "4", "12.3400", 4000)
    >>> Lineage.from_dict(lin.to_dict()) == lin
    True
    """

    lfset_name: str
    lfset_version: str
    labelmodel_version: str
    training_window: int

    def to_dict(self) -> dict[str, Any]:
        """Return the lineage as a JSON-able dict."""
        return {
            "lfset_name": self.lfset_name,
            "lfset_version": self.lfset_version,
            "labelmodel_version": self.labelmodel_version,
            "training_window": self.training_window,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Lineage:
        """Build the lineage from :meth:`to_dict`'s output."""
        return cls(
            str(d["lfset_name"]),
            str(d["lfset_version"]),
            str(d["labelmodel_version"]),
            int(d["training_window"]),
        )


@dataclass(frozen=True)
class ModelVersion:
    """One registered, immutable model version (its metadata; the model is on disk).

    Attributes
    ----------
    version : str
        Version id, unique in the registry.
    number : int
        Registration order, 1 for the first version.
    created_at : float
        When it was registered (epoch seconds, from the registry's clock).
    metrics : Mapping[str, float]
        Metrics at registration (e.g. :func:`~streamlabel.models.evaluate`'s), read-only.
    lineage : Lineage
        LF set and label model behind its training labels, training window size.
    parent : str or None
        The version it was trained to replace (e.g. the champion then), if any.
    artifact : str
        Path of the artifact relative to the registry folder.
    sha256 : str
        Content hash of the artifact; loading through the registry checks it.
    n_classes : int
        Number of classes the model predicts.

    Examples
    --------
    >>> v = ModelVersion("v1", 1, 0.0, {"accuracy": 0.9}, Lineage("s", "1", "0.1", 10), None,
    ...                  "versions/v1/model.npz", "ab" * 32, 2)
    >>> ModelVersion.from_dict(v.to_dict()) == v, v.metrics["accuracy"]
    (True, 0.9)
    """

    version: str
    number: int
    created_at: float
    metrics: Mapping[str, float]
    lineage: Lineage
    parent: str | None
    artifact: str
    sha256: str
    n_classes: int

    def __post_init__(self) -> None:
        # Frozen all the way down: a registered version's metrics cannot be edited.
        object.__setattr__(self, "metrics", MappingProxyType(dict(self.metrics)))

    def to_dict(self) -> dict[str, Any]:
        """Return the version as a JSON-able dict (the content of ``version.json``)."""
        return {
            "version": self.version,
            "number": self.number,
            "created_at": self.created_at,
            "metrics": dict(self.metrics),
            "lineage": self.lineage.to_dict(),
            "parent": self.parent,
            "artifact": self.artifact,
            "sha256": self.sha256,
            "n_classes": self.n_classes,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelVersion:
        """Build the version from :meth:`to_dict`'s output."""
        parent = d.get("parent")
        return cls(
            str(d["version"]),
            int(d["number"]),
            float(d["created_at"]),
            {str(k): float(v) for k, v in d["metrics"].items()},
            Lineage.from_dict(d["lineage"]),
            None if parent is None else str(parent),
            str(d["artifact"]),
            str(d["sha256"]),
            int(d["n_classes"]),
        )


@dataclass(frozen=True)
class RegistryEntry:
    """One change of champion: who did what, when and why.

    Attributes
    ----------
    action : {"promote", "rollback"}
        What was done.
    version : str
        The champion after it.
    previous : str or None
        The champion before it.
    actor : str
        Who did it (a user, a service, a CI job).
    at : float
        When (epoch seconds, from the registry's clock).
    reason : str
        Why.
    decision : Decision or None
        The champion/challenger decision behind a promotion, if one was given.

    Examples
    --------
    >>> e = RegistryEntry("promote", "v2", "v1", "ci", 1.0, "better accuracy")
    >>> RegistryEntry.from_dict(e.to_dict()) == e
    True
    """

    action: Literal["promote", "rollback"]
    version: str
    previous: str | None
    actor: str
    at: float
    reason: str
    decision: Decision | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as a JSON-able dict."""
        return {
            "action": self.action,
            "version": self.version,
            "previous": self.previous,
            "actor": self.actor,
            "at": self.at,
            "reason": self.reason,
            "decision": None if self.decision is None else self.decision.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RegistryEntry:
        """Build the entry from :meth:`to_dict`'s output."""
        action = d["action"]
        if action not in ("promote", "rollback"):
            raise ValueError(f"unknown registry action {action!r}")
        prev, dec = d.get("previous"), d.get("decision")
        return cls(
            action,
            str(d["version"]),
            None if prev is None else str(prev),
            str(d["actor"]),
            float(d["at"]),
            str(d["reason"]),
            None if dec is None else Decision.from_dict(dec),
        )


def _champions(entries: list[RegistryEntry]) -> list[str]:
    """Replay the history into the stack of champions: promote pushes, rollback pops.

    Raises ``RegistryError`` for a history no sequence of promotions and rollbacks
    writes (a damaged or hand-edited file): a rollback without an earlier champion, or
    an entry whose champions before and after do not follow from the entries before it.
    """
    stack: list[str] = []
    for i, e in enumerate(entries):
        before = stack[-1] if stack else None
        if e.action == "promote":
            stack.append(e.version)
        elif len(stack) < 2:
            raise RegistryError(f"history entry {i}: a rollback with no earlier champion")
        else:
            stack.pop()
        if e.previous != before or stack[-1] != e.version:
            raise RegistryError(
                f"history entry {i} ({e.action} {e.version!r} from {e.previous!r}) does not "
                f"follow from the entries before it (champion {before!r})"
            )
    return stack


class ModelRegistry:
    """Immutable model versions in a folder, the current champion and its history.

    Opening a folder reads every ``version.json`` and ``history.json`` into an in-memory
    index; a registry re-opened from the same folder has the same state. A version id is
    never reused, even after a failed registration (its folder stays). The champion
    follows the history as a stack: :meth:`promote` pushes a version, :meth:`rollback`
    returns to the champion before the current one.

    Parameters
    ----------
    root
        The registry folder; created if missing.
    clock
        Returns the current time in epoch seconds (``created_at``, entry times).

    Examples
    --------
    >>> import tempfile
    >>> from streamlabel.models import EndModel, PayloadFeaturizer
    >>> m = EndModel(PayloadFeaturizer(numeric_fields=["x"], n_features=1))
    >>> m = m.fit([{"x": 0}, {"x": 1}] * 4, [0, 1] * 4)
    >>> lin = Lineage("fraud-stream", "4", "3.1200", 8)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     reg = ModelRegistry(d, clock=lambda: 1.7e9)
    ...     v1 = reg.register(m, {"accuracy": 0.9}, lin)
    ...     v2 = reg.register(m, {"accuracy": 0.95}, lin, parent="v1")
    ...     _ = reg.promote("v1", "first model", actor="alice")
    ...     _ = reg.promote("v2", "more accurate", actor="ci")
    ...     _ = reg.rollback("false alarms in production", actor="bob")
    ...     again = ModelRegistry(d)
    ...     [e.action for e in again.history], again.champion.version
    (['promote', 'promote', 'rollback'], 'v1')
    """

    def __init__(
        self, root: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.root = Path(root)
        self._clock = clock
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "versions").mkdir(exist_ok=True)
        marker = self.root / "registry.json"
        if marker.exists():
            info = json.loads(marker.read_text(encoding="utf-8"))
            if not isinstance(info, dict) or info.get("format") != _FORMAT:
                raise RegistryError(f"{self.root} is not a streamlabel model registry")
            if info.get("format_version") != _FORMAT_VERSION:
                raise RegistryError(
                    f"{self.root}: registry format version {info.get('format_version')!r} "
                    f"cannot be read (reads {_FORMAT_VERSION})"
                )
        else:
            _write_json(marker, {"format": _FORMAT, "format_version": _FORMAT_VERSION})
        self._versions: dict[str, ModelVersion] = {}
        for meta in sorted((self.root / "versions").glob(f"*/{_META}")):
            mv = ModelVersion.from_dict(json.loads(meta.read_text(encoding="utf-8")))
            if mv.version != meta.parent.name:
                raise RegistryError(f"{meta}: names version {mv.version!r}, not its folder")
            self._versions[mv.version] = mv
        history = self.root / "history.json"
        self._entries: list[RegistryEntry] = []
        if history.exists():
            data = json.loads(history.read_text(encoding="utf-8"))
            self._entries = [RegistryEntry.from_dict(e) for e in data["entries"]]
        unknown = {e.version for e in self._entries} - set(self._versions)
        if unknown:
            raise RegistryError(f"{history}: entries name unregistered versions {sorted(unknown)}")
        try:
            _champions(self._entries)  # a history that cannot be replayed is refused now
        except RegistryError as exc:
            raise RegistryError(f"{history}: {exc}") from None

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._versions)

    def __contains__(self, version: object) -> bool:
        return version in self._versions

    def __iter__(self) -> Iterator[ModelVersion]:
        return iter(self.list())

    def list(self) -> list[ModelVersion]:
        """Return every version, in registration order."""
        return sorted(self._versions.values(), key=lambda v: v.number)

    def get(self, version: str) -> ModelVersion:
        """Return the metadata of ``version``; ``KeyError`` if it is not registered."""
        try:
            return self._versions[version]
        except KeyError:
            raise KeyError(f"no model version {version!r} in {self.root}") from None

    def path_of(self, version: str | ModelVersion) -> Path:
        """Return the artifact file of ``version``."""
        mv = version if isinstance(version, ModelVersion) else self.get(version)
        return self.root / mv.artifact

    def load(self, version: str | ModelVersion) -> EndModel:
        """Load ``version``'s model, checking the artifact is the one registered.

        Raises
        ------
        CorruptArtifactError
            The file is damaged or was replaced (its hash is not the registered one).
        """
        mv = version if isinstance(version, ModelVersion) else self.get(version)
        return load_model_artifact(self.path_of(mv), expected_sha256=mv.sha256)

    @property
    def history(self) -> tuple[RegistryEntry, ...]:
        """Every promote and rollback, oldest first."""
        return tuple(self._entries)

    @property
    def champion(self) -> ModelVersion | None:
        """The version currently promoted, or None before the first promotion."""
        stack = _champions(self._entries)
        return self._versions[stack[-1]] if stack else None

    # ------------------------------------------------------------------ writing
    def register(
        self,
        model: EndModel,
        metrics: Mapping[str, float],
        lineage: Lineage,
        parent: str | None = None,
        *,
        version: str | None = None,
    ) -> ModelVersion:
        """Store ``model`` as a new immutable version and return its metadata.

        Parameters
        ----------
        model
            A fitted end model.
        metrics
            Its metrics (finite numbers), e.g. :func:`~streamlabel.models.evaluate`'s.
        lineage
            LF set, label-model version and training window behind it.
        parent
            A registered version this one descends from, if any.
        version
            The id to register under (letters, digits, ``.``, ``_``, ``-``); default
            ``"v<number>"``.

        Raises
        ------
        VersionExistsError
            ``version`` is already registered (or its folder exists).
        RegistryError
            A malformed id, an unknown parent, or non-finite metrics.
        """
        if not (isinstance(model, EndModel) and model.is_fitted):
            raise TypeError(f"register takes a fitted EndModel, got {model!r}")
        if not isinstance(lineage, Lineage):
            raise TypeError(f"lineage must be a Lineage, got {type(lineage).__name__}")
        clean = {str(k): float(v) for k, v in metrics.items()}
        bad = [k for k, v in clean.items() if not math.isfinite(v)]
        if bad:
            raise RegistryError(f"metrics must be finite numbers; not finite: {bad}")
        if parent is not None and parent not in self._versions:
            raise RegistryError(f"parent {parent!r} is not a registered version")
        number = max((v.number for v in self._versions.values()), default=0) + 1
        if version is None:
            version = f"v{number}"
            while (self.root / "versions" / version).exists():  # a failed registration's
                number += 1
                version = f"v{number}"
        if not _VERSION_RE.fullmatch(version):
            raise RegistryError(
                f"version id {version!r} must be 1-64 letters, digits, '.', '_' or '-' "
                "and start with a letter or digit"
            )
        if version in self._versions:
            raise VersionExistsError(f"model version {version!r} is already registered")
        folder = self.root / "versions" / version
        try:
            # mkdir is the claim: it fails if any registration ever used this id.
            folder.mkdir()
        except FileExistsError:
            raise VersionExistsError(
                f"model version {version!r} exists in {self.root} (registered, or a failed "
                "registration left its folder): ids are never reused"
            ) from None
        info = save_model_artifact(model, folder / _ARTIFACT)
        mv = ModelVersion(
            version=version,
            number=number,
            created_at=float(self._clock()),
            metrics=clean,
            lineage=lineage,
            parent=parent,
            artifact=f"versions/{version}/{_ARTIFACT}",
            sha256=info.sha256,
            n_classes=model.n_classes_,
        )
        _write_json(folder / _META, mv.to_dict())  # last: its presence completes the version
        self._versions[version] = mv
        return mv

    def _append(self, entry: RegistryEntry) -> RegistryEntry:
        entries = [*self._entries, entry]
        _write_json(
            self.root / "history.json",
            {
                "format": _FORMAT,
                "format_version": _FORMAT_VERSION,
                "entries": [e.to_dict() for e in entries],
            },
        )
        self._entries = entries  # only once it is on disk
        return entry

    @staticmethod
    def _check_who(actor: str, reason: str) -> None:
        if not (isinstance(actor, str) and actor.strip()):
            raise RegistryError("actor must name who makes the change")
        if not (isinstance(reason, str) and reason.strip()):
            raise RegistryError("reason must say why")

    def promote(
        self, version: str, reason: str, *, actor: str, decision: Decision | None = None
    ) -> RegistryEntry:
        """Make ``version`` the champion; record who, when and why.

        Parameters
        ----------
        version
            A registered version, not the current champion.
        reason
            Why (non-empty).
        actor
            Who (non-empty).
        decision
            The :class:`~streamlabel.models.Decision` behind it, kept in the entry.

        Raises
        ------
        KeyError
            ``version`` is not registered.
        RegistryError
            It is already the champion, or ``actor`` / ``reason`` is empty.
        """
        self._check_who(actor, reason)
        self.get(version)
        current = self.champion
        if current is not None and current.version == version:
            raise RegistryError(f"{version!r} is already the champion")
        entry = RegistryEntry(
            "promote",
            version,
            None if current is None else current.version,
            actor,
            float(self._clock()),
            reason,
            decision,
        )
        return self._append(entry)

    def rollback(self, reason: str, *, actor: str) -> RegistryEntry:
        """Return to the champion before the current one; record who, when and why.

        Raises
        ------
        RegistryError
            There is no earlier champion, or ``actor`` / ``reason`` is empty.
        """
        self._check_who(actor, reason)
        stack = _champions(self._entries)
        if len(stack) < 2:
            raise RegistryError("no previous champion to roll back to")
        entry = RegistryEntry("rollback", stack[-2], stack[-1], actor, float(self._clock()), reason)
        return self._append(entry)
