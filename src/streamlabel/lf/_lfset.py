"""LF sets: immutable, content-hashed versions of a group of LFs, diffs, a registry.

A registered version never changes: the registry refuses to reuse a set version, or an LF
id, for different content.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streamlabel.lf._compile import DeclarativeLF
from streamlabel.lf._core import LabelingFunction, _check_name
from streamlabel.lf._spec import LFSetSpec, LFSpecError, load_lfset_spec

__all__ = ["LF", "LFSet", "LFSetDiff", "LFSetRegistry", "LFVersionError", "load_lfset"]

#: A labeling function of either kind.
LF = LabelingFunction | DeclarativeLF


class LFVersionError(ValueError):
    """A version was reused for different content (an LF set version or an LF id)."""


@dataclass(frozen=True)
class LFSetDiff:
    """What changes from one LF set to another.

    Attributes
    ----------
    added : tuple of str
        Ids of LFs whose name is only in the new set.
    removed : tuple of str
        Ids of LFs whose name is only in the old set.
    changed : tuple of (str, str)
        ``(old id, new id)`` of LFs present in both under the same name whose version or
        logic (hash) differs.
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


class LFSet:
    """An immutable, versioned set of labeling functions (code and declarative mixed).

    Parameters
    ----------
    name
        Name of the set (e.g. ``"fraud"``).
    version
        Version of the set.
    lfs
        The LFs, in the column order of the label matrix; names must be unique.
    cardinality
        Number of classes; LF labels are ``0..cardinality-1``.
    label_names
        Optional class names, one per label.

    Attributes
    ----------
    ids : tuple of str
        ``name@version`` of each LF, in column order.
    content_hash : str
        sha256 over the canonical JSON of the cardinality, label names and, per LF, its id
        and logic hash. Name and version of the set are not part of it, so the same content
        republished under a new version has the same hash.

    Examples
    --------
    >>> from streamlabel.lf import LFSet, labeling_function
    >>> @labeling_function()
    ... def big(event):
    ...     return 1 if event["amount"] > 1000 else -1
    >>> s = LFSet("fraud", "1", [big], cardinality=2)
    >>> s.ids, len(s.content_hash)
    (('big@1',), 64)
    """

    __slots__ = ("cardinality", "content_hash", "ids", "label_names", "lfs", "name", "version")

    name: str
    version: str
    lfs: tuple[LF, ...]
    cardinality: int
    label_names: tuple[str, ...] | None
    ids: tuple[str, ...]
    content_hash: str

    def __init__(
        self,
        name: str,
        version: str,
        lfs: Sequence[LF],
        cardinality: int,
        label_names: Sequence[str] | None = None,
    ) -> None:
        if cardinality < 2:
            raise ValueError(f"cardinality must be >= 2, got {cardinality}")
        lfs = tuple(lfs)
        seen: set[str] = set()
        for lf in lfs:
            if not isinstance(lf, LabelingFunction | DeclarativeLF):
                raise TypeError(f"not a labeling function: {lf!r}")
            if lf.name in seen:
                raise LFSpecError("duplicate LF name in the set", lf=lf.name, field="name")
            seen.add(lf.name)
            if isinstance(lf, DeclarativeLF) and not 0 <= lf.label < cardinality:
                raise LFSpecError(
                    f"label {lf.label} is outside 0..{cardinality - 1}", lf=lf.name, field="label"
                )
        if label_names is not None and len(label_names) != cardinality:
            raise ValueError(f"{len(label_names)} label names for cardinality {cardinality}")
        set_ = object.__setattr__
        set_(self, "name", _check_name(name, "set name"))
        set_(self, "version", _check_name(str(version), "set version"))
        set_(self, "lfs", lfs)
        set_(self, "cardinality", int(cardinality))
        set_(self, "label_names", tuple(label_names) if label_names is not None else None)
        set_(self, "ids", tuple(lf.id for lf in lfs))
        canonical = json.dumps(
            {
                "cardinality": self.cardinality,
                "label_names": self.label_names,
                "lfs": [
                    [lf.id, "spec" if isinstance(lf, DeclarativeLF) else "code", lf.source_hash]
                    for lf in lfs
                ],
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        set_(self, "content_hash", hashlib.sha256(canonical.encode("utf-8")).hexdigest())

    @classmethod
    def from_spec(cls, spec: LFSetSpec | Mapping[str, Any] | str | os.PathLike[str]) -> LFSet:
        """Compile a declarative LF set spec (a spec, a mapping, YAML/JSON text or a path).

        Examples
        --------
        >>> from streamlabel.lf import LFSet
        >>> s = LFSet.from_spec({"name": "fraud", "version": "3", "cardinality": 2, "lfs": [
        ...     {"name": "night", "label": 1,
        ...      "when": {"kind": "range", "field": "hour", "min": 0, "max": 4}}]})
        >>> s.ids, s.lfs[0]({"hour": 2})
        (('night@1',), 1)
        """
        spec = load_lfset_spec(spec)
        lfs = [DeclarativeLF(lf, spec.resources) for lf in spec.lfs]
        return cls(spec.name, spec.version, lfs, spec.cardinality, spec.label_names)

    def to_spec(self) -> LFSetSpec:
        """Return the declarative spec of this set (only for sets without code LFs).

        Resources are those the LFs use. ``LFSet.from_spec(s.to_spec().model_dump_json())``
        gives a set with the same ``content_hash``.
        """
        resources: dict[str, list[str]] = {}
        specs = []
        for lf in self.lfs:
            if not isinstance(lf, DeclarativeLF):
                raise TypeError(f"LF {lf.id!r} is code; only declarative sets have a spec")
            for key, values in lf.resources.items():
                if key in resources and resources[key] != list(values):
                    raise ValueError(f"LFs disagree on the content of resource {key!r}")
                resources[key] = list(values)
            specs.append(lf.spec)
        return LFSetSpec(
            name=self.name,
            version=self.version,
            cardinality=self.cardinality,
            label_names=list(self.label_names) if self.label_names is not None else None,
            resources=resources,
            lfs=specs,
        )

    def diff(self, other: LFSet) -> LFSetDiff:
        """Return what changes from this set to ``other`` (LFs matched by name).

        Examples
        --------
        >>> from streamlabel.lf import LFSet
        >>> def spec(version, value):
        ...     return {"name": "s", "cardinality": 2, "lfs": [{"name": "big", "label": 1,
        ...         "version": version, "when": {"kind": "threshold", "field": "amount",
        ...         "op": "gt", "value": value}}]}
        >>> LFSet.from_spec(spec("1", 100)).diff(LFSet.from_spec(spec("2", 200)))
        LFSetDiff(added=(), removed=(), changed=(('big@1', 'big@2'),))
        """
        old = {lf.name: lf for lf in self.lfs}
        new = {lf.name: lf for lf in other.lfs}
        return LFSetDiff(
            added=tuple(lf.id for name, lf in new.items() if name not in old),
            removed=tuple(lf.id for name, lf in old.items() if name not in new),
            changed=tuple(
                (old[name].id, lf.id)
                for name, lf in new.items()
                if name in old
                and (old[name].id != lf.id or old[name].source_hash != lf.source_hash)
            ),
        )

    def __len__(self) -> int:
        return len(self.lfs)

    def __iter__(self) -> Iterator[LF]:
        return iter(self.lfs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LFSet):
            return NotImplemented
        return (self.name, self.version, self.content_hash) == (
            other.name,
            other.version,
            other.content_hash,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.version, self.content_hash))

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"LFSet is immutable (tried to set {key!r})")

    def __repr__(self) -> str:
        return f"LFSet({self.name!r}, {self.version!r}, ids={list(self.ids)!r})"


def load_lfset(source: LFSetSpec | Mapping[str, Any] | str | os.PathLike[str]) -> LFSet:
    """Load and compile a declarative LF set from a file, YAML/JSON text or a dict.

    See :func:`load_lfset_spec` for the accepted sources and the errors raised.
    """
    return LFSet.from_spec(source)


class LFSetRegistry:
    """In-memory registry of LF set versions; a registered version never changes.

    Refuses (with :class:`LFVersionError`) a set version already registered with different
    content, and an LF whose id (``name@version``) is already known with different logic:
    changing an LF's logic requires a new LF version.

    Examples
    --------
    >>> from streamlabel.lf import LFSetRegistry, LFVersionError, load_lfset
    >>> def spec(value):
    ...     return {"name": "fraud", "version": "1", "cardinality": 2, "lfs": [
    ...         {"name": "big", "label": 1,
    ...          "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": value}}]}
    >>> reg = LFSetRegistry()
    >>> reg.register(load_lfset(spec(1000))).version
    '1'
    >>> try:
    ...     reg.register(load_lfset(spec(2000)))
    ... except LFVersionError as e:
    ...     print(e)
    LF set 'fraud' version '1' is already registered with different content
    """

    def __init__(self) -> None:
        self._sets: dict[str, dict[str, LFSet]] = {}
        self._lf_hashes: dict[str, str] = {}

    def register(self, lfset: LFSet) -> LFSet:
        """Register ``lfset``; re-registering identical content returns the stored set."""
        versions = self._sets.get(lfset.name, {})
        existing = versions.get(lfset.version)
        if existing is not None:
            if existing.content_hash != lfset.content_hash:
                raise LFVersionError(
                    f"LF set {lfset.name!r} version {lfset.version!r} is already registered "
                    "with different content"
                )
            return existing
        for lf in lfset.lfs:
            known = self._lf_hashes.get(lf.id)
            if known is not None and known != lf.source_hash:
                raise LFVersionError(
                    f"LF {lf.id!r} changed its logic but kept its version; bump the LF's version"
                )
        for lf in lfset.lfs:
            self._lf_hashes[lf.id] = lf.source_hash
        self._sets.setdefault(lfset.name, {})[lfset.version] = lfset
        return lfset

    def get(self, name: str, version: str | None = None) -> LFSet:
        """Return the set ``name`` at ``version`` (default: the latest registered)."""
        versions = self._sets.get(name)
        if not versions:
            raise KeyError(f"no LF set named {name!r}")
        if version is None:
            return next(reversed(versions.values()))
        try:
            return versions[version]
        except KeyError:
            raise KeyError(f"LF set {name!r} has no version {version!r}") from None

    def versions(self, name: str) -> tuple[str, ...]:
        """Versions of ``name`` in registration order."""
        return tuple(self._sets.get(name, {}))

    def names(self) -> tuple[str, ...]:
        """Names of the registered sets."""
        return tuple(self._sets)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return key in self._sets
        if isinstance(key, tuple) and len(key) == 2:
            return key[1] in self._sets.get(key[0], {})
        return False

    def __len__(self) -> int:
        return sum(len(v) for v in self._sets.values())
