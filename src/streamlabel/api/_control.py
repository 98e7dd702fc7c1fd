"""The control plane's rules, above any :class:`~streamlabel.api.Backend`.

Both the HTTP API and ``streamlabel lf|models`` writing straight to Kafka go through
:class:`ControlPlane`, so a request is refused for the same reason, in the same words,
whichever way it comes. Every check runs before the backend is written to: a refused
request changes nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from streamlabel.api._backend import Backend
from streamlabel.api._model import ActiveSet, AuditEntry, ControlError, LFSetVersion, Principal
from streamlabel.models import ModelCommand

__all__ = ["ControlPlane"]

#: The longest ``reason`` accepted (it is stored in every audit entry).
MAX_REASON = 2000

#: The largest spec accepted, as compact JSON: its ``lfsets`` record must stay under the
#: broker's default ``message.max.bytes`` (~1 MB).
MAX_SPEC_BYTES = 900_000


def _check_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ControlError(422, "a reason is required for every change", field="reason")
    if len(reason) > MAX_REASON:
        raise ControlError(422, f"at most {MAX_REASON} characters", field="reason")
    return reason.strip()


def _check_writer(who: Principal) -> None:
    if not who.can_write:
        raise ControlError(403, f"{who.name!r} has a read-only token", code="forbidden")


def _compile(spec: Any) -> tuple[Any, Any]:
    """Validate and compile a spec mapping: (LFSetSpec, LFSet); ControlError 422."""
    from streamlabel.lf import LFSet, LFSpecError, load_lfset_spec

    # Never a string: load_lfset_spec reads a file named by a short string.
    if not isinstance(spec, Mapping):
        raise ControlError(
            422, f"the spec must be a JSON object, got {type(spec).__name__}", field="spec"
        )
    try:
        parsed = load_lfset_spec(spec)
        compiled = LFSet.from_spec(parsed)
    except LFSpecError as exc:
        raise ControlError(422, exc.reason, lf=exc.lf, field=exc.field, code="invalid") from None
    as_json = json.dumps(parsed.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))
    if len(as_json.encode()) > MAX_SPEC_BYTES:
        raise ControlError(
            422,
            f"the spec takes {len(as_json.encode())} bytes as JSON, at most {MAX_SPEC_BYTES}",
            field="spec",
        )
    return parsed, compiled


def _next_version(versions: list[str], base: str) -> str:
    """Return a rollback's new set version: the next integer, else ``<base>-rollback<n>``.

    Examples
    --------
    >>> _next_version(["1", "2", "3"], "1"), _next_version(["a", "b"], "a")
    ('4', 'a-rollback3')
    """
    if versions and all(v.isdigit() for v in versions):
        return str(max(int(v) for v in versions) + 1)
    n = len(versions) + 1
    while f"{base}-rollback{n}" in versions:
        n += 1
    return f"{base}-rollback{n}"


class ControlPlane:
    """Push, list, show, diff and roll back LF sets; promote and roll back models.

    Parameters
    ----------
    backend : Backend
        Where versions, audit entries and read models are.

    Examples
    --------
    >>> from streamlabel.api import ControlPlane, InMemoryBackend, Principal
    >>> cp = ControlPlane(InMemoryBackend())
    >>> alice = Principal("alice", "write")
    >>> spec = {"name": "s", "version": "1", "cardinality": 2, "lfs": [{"name": "big",
    ...     "label": 1, "when": {"kind": "threshold", "field": "x", "op": "gt", "value": 1}}]}
    >>> cp.push(spec, alice, "first rules")["status"]
    'published'
    >>> cp.push({**spec, "version": "2", "lfs": []}, alice, "drop big")["diff"]["removed"]
    ['big@1']
    >>> r = cp.rollback("s", "1", alice, "big was fine")
    >>> r["version"], r["rollback_of"], cp.active("s").version.version
    ('3', '1', '3')
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        # One writer at a time in this process: check-then-publish must not interleave.
        self._write_lock = threading.Lock()

    # ------------------------------------------------------------------ reading
    def list_sets(self) -> list[dict[str, Any]]:
        """Return every LF set: its active version, content hash and number of versions."""
        versions = self.backend.lfset_versions()
        out = []
        for name, active in self.backend.active_lfsets().items():
            v = active.version
            out.append(
                {
                    "name": name,
                    "version": None if v is None else v.version,
                    "content_hash": None if v is None else v.content_hash,
                    "n_lfs": None if v is None else len(v.spec.get("lfs", [])),
                    "n_versions": sum(1 for x in versions if x.name == name),
                    "error": active.error,
                    **active.where,
                }
            )
        return out

    def active(self, name: str) -> ActiveSet:
        """Return the active record of ``name``; ControlError 404 when there is none."""
        active = self.backend.active_lfsets()
        found = active.get(name)
        if found is None:
            known = ", ".join(active) or "none"
            raise ControlError(404, f"no LF set named {name!r} (sets: {known})", code="not_found")
        return found

    def _history(self, name: str) -> list[LFSetVersion]:
        """Return the versions of ``name``, oldest first (an active one without a record too)."""
        history = self.backend.lfset_versions(name)
        active = self.backend.active_lfsets().get(name)
        if (
            active is not None
            and active.version is not None
            and not any(v.version == active.version.version for v in history)
        ):
            history.append(active.version)
        return history

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Return every version of ``name`` (oldest first): who, when, why, ``active``."""
        active = self.active(name)
        current = None if active.version is None else active.version.version
        return [{**v.summary(), "active": v.version == current} for v in self._history(name)]

    def get_version(self, name: str, version: str | None = None) -> LFSetVersion:
        """Return version ``version`` of ``name`` (default: the active one); 404 if none."""
        if version is None:
            active = self.active(name)
            if active.version is None:
                raise ControlError(
                    409,
                    f"the latest record of {name!r} is not a valid LF set: {active.error}",
                    code="unreadable",
                )
            return active.version
        for v in reversed(self._history(name)):
            if v.version == version:
                return v
        known = ", ".join(v.version for v in self._history(name)) or "none"
        raise ControlError(
            404, f"LF set {name!r} has no version {version!r} (versions: {known})", code="not_found"
        )

    def show(self, name: str, version: str | None = None) -> dict[str, Any]:
        """Return a version with its spec (default: the active one)."""
        v = self.get_version(name, version)
        active = self.backend.active_lfsets().get(name)
        if active is not None and active.version is not None and active.version == v:
            return {**v.to_dict(), "active": True, **active.where}
        return {**v.to_dict(), "active": False}

    def diff(self, name: str, old: str, new: str | None = None) -> dict[str, Any]:
        """Return what changes from version ``old`` to ``new`` (default: the active one).

        ``added``/``removed`` LF ids, ``changed`` pairs with both LF specs, and whether
        the content (labels, LF logic) is the same.
        """
        a, b = self.get_version(name, old), self.get_version(name, new)
        return {"name": name, "from": a.version, "to": b.version, **self._diff(a.spec, b.spec)}

    @staticmethod
    def _diff(old_spec: Mapping[str, Any], new_spec: Mapping[str, Any]) -> dict[str, Any]:
        from streamlabel.lf import LFSet

        old, new = LFSet.from_spec(dict(old_spec)), LFSet.from_spec(dict(new_spec))
        d = old.diff(new)
        by_id = {f"{lf['name']}@{lf.get('version', '1')}": lf for lf in old_spec.get("lfs", [])}
        by_id_new = {f"{lf['name']}@{lf.get('version', '1')}": lf for lf in new_spec["lfs"]}
        return {
            "same_content": old.content_hash == new.content_hash,
            "added": list(d.added),
            "removed": list(d.removed),
            "changed": [
                {"from": o, "to": n, "old": by_id.get(o), "new": by_id_new.get(n)}
                for o, n in d.changed
            ],
        }

    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        """Return the latest ``limit`` changes, oldest first."""
        return [e.to_dict() for e in self.backend.audit(limit)]

    # ------------------------------------------------------------------ writing
    def _check_rules(self, name: str, new: Any, history: list[LFSetVersion]) -> None:
        """Apply the :class:`~streamlabel.lf.LFSetRegistry` rules against every version."""
        from streamlabel.lf import LFSet, LFSetRegistry, LFVersionError

        registry = LFSetRegistry()
        for v in history:
            try:
                registry.register(LFSet.from_spec(v.spec))
            except LFVersionError:  # an inconsistent history (older clients): keep going
                continue
        try:
            registry.register(new)
        except LFVersionError:
            if (name, new.version) in registry:
                old = registry.get(name, new.version)
                raise ControlError(
                    409,
                    f"LF set {name!r} version {new.version!r} is already published with "
                    f"different content (published content hash {old.content_hash[:12]}, "
                    f"this one {new.content_hash[:12]}); give the set a new version. "
                    "Nothing was published",
                    field="version",
                    code="version_conflict",
                ) from None
            known = {lf.id: lf.source_hash for v in history for lf in LFSet.from_spec(v.spec)}
            same = [lf.id for lf in new if known.get(lf.id, lf.source_hash) != lf.source_hash]
            raise ControlError(
                409,
                f"LF {', '.join(repr(i) for i in same)} changed logic but kept its version "
                f"(compared with the published versions of {name!r}); bump the LF's "
                "version. Nothing was published",
                lf=same[0].rpartition("@")[0] if same else None,
                field="version",
                code="version_conflict",
            ) from None

    def push(
        self, spec: Any, who: Principal, reason: Any, *, expected_name: str | None = None
    ) -> dict[str, Any]:
        """Validate and publish an LF set version (it becomes the active one).

        Refused (nothing written): a read-only caller (403); no reason, an invalid spec,
        another cardinality than the active version's (422, with LF and field); a set
        version already published with other content, an LF whose logic changed under
        the same ``name@version``, or an older version pushed again (409). The active
        version pushed again unchanged is a no-op (``status`` ``unchanged``).
        """
        _check_writer(who)
        reason = _check_reason(reason)
        parsed, lfset = _compile(spec)
        name = parsed.name
        if expected_name is not None and expected_name != name:
            raise ControlError(
                422,
                f"the spec names the set {name!r}, the request {expected_name!r}",
                field="name",
            )
        with self._write_lock:
            history = self._history(name)
            active = self.backend.active_lfsets().get(name)
            return self._publish(name, parsed, lfset, who, reason, history, active, None)

    def _publish(
        self,
        name: str,
        parsed: Any,
        lfset: Any,
        who: Principal,
        reason: str,
        history: list[LFSetVersion],
        active: ActiveSet | None,
        rollback_of: str | None,
        *,
        promotion: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Publish a checked version (push, rollback, or a candidate's ``promotion``)."""
        current = None if active is None else active.version
        previous = None
        if active is not None:
            previous = {
                "version": None if current is None else current.version,
                "content_hash": None if current is None else current.content_hash,
                "error": active.error,
                **active.where,
            }
        report: dict[str, Any] = {
            "name": name,
            "version": parsed.version,
            "content_hash": lfset.content_hash,
            "n_lfs": len(lfset),
            "previous": previous,
        }
        if current is not None and current.spec.get("cardinality") != lfset.cardinality:
            raise ControlError(
                422,
                f"cardinality {lfset.cardinality}; the active version {current.version!r} "
                f"has {current.spec.get('cardinality')} (labelers refuse a change of "
                "classes: publish a set under a new name)",
                field="cardinality",
            )
        self._check_rules(name, lfset, history)
        if current is not None and current.version == parsed.version:
            nothing: dict[str, Any] = {"added": [], "removed": [], "changed": []}
            where = active.where if active is not None else {}
            return {**report, "status": "unchanged", "diff": nothing, **where}
        if any(v.version == parsed.version for v in history):
            raise ControlError(
                409,
                f"LF set {name!r} version {parsed.version!r} was published before; to make "
                "it active again, roll back to it. Nothing was published",
                field="version",
                code="version_conflict",
            )
        spec_json = parsed.model_dump(mode="json")
        if current is not None:
            diff = self._diff(current.spec, spec_json)
            diff_out = {
                "added": diff["added"],
                "removed": diff["removed"],
                "changed": [{"from": c["from"], "to": c["to"]} for c in diff["changed"]],
            }
        else:
            diff_out = {"added": list(lfset.ids), "removed": [], "changed": []}
        kind = "rollback" if rollback_of is not None else "push"
        if promotion is not None:
            kind = "promote"
        details: dict[str, Any] = {
            "version": parsed.version,
            "content_hash": lfset.content_hash,
            "previous": None if current is None else current.version,
            "rollback_of": rollback_of,
            "diff": diff_out,
        }
        if promotion is not None:
            details["candidate"] = dict(promotion)
        audit = AuditEntry.new(who.name, f"lfset.{kind}", f"lfset:{name}", reason, details)
        version = LFSetVersion(
            name,
            parsed.version,
            spec_json,
            lfset.content_hash,
            kind,
            who.name,
            reason,
            audit.at,
            rollback_of,
        )
        where = self.backend.publish_lfset(version, audit)
        return {
            **report,
            "status": "published",
            "diff": diff_out,
            "rollback_of": rollback_of,
            "audit_id": audit.id,
            **where,
        }

    def rollback(
        self,
        name: str,
        to: str,
        who: Principal,
        reason: Any,
        *,
        new_version: str | None = None,
    ) -> dict[str, Any]:
        """Make the content of the earlier version ``to`` active again, as a new version.

        The spec of ``to`` is republished under ``new_version`` (default: the next integer
        when every version is one, else ``<to>-rollback<n>``), recorded as a rollback of
        ``to``. A new version, not ``to`` itself, because the labelers treat versions as
        immutable and ordered: labels after the rollback carry a version that says when it
        happened, while its content hash equals that of ``to``. The LFs keep their ids, so
        the label model picks their estimates up again.

        Refused: unknown set or version (404), ``to`` already the active content (409),
        a ``new_version`` already used (409), no reason (422), read-only caller (403).
        """
        _check_writer(who)
        reason = _check_reason(reason)
        from streamlabel.lf import LFSet, load_lfset_spec

        with self._write_lock:
            target = self.get_version(name, to)
            active = self.active(name)
            current = active.version
            if current is not None and current.content_hash == target.content_hash:
                raise ControlError(
                    409,
                    f"the active version {current.version!r} of {name!r} already has the "
                    f"content of {to!r}; nothing to roll back",
                    field="to",
                    code="unchanged",
                )
            history = self._history(name)
            used = [v.version for v in history]
            version = new_version or _next_version(used, to)
            if version in used:
                raise ControlError(
                    409, f"version {version!r} of {name!r} is already used", field="version"
                )
            try:
                parsed = load_lfset_spec({**target.spec, "version": version})
            except ValueError as exc:
                raise ControlError(422, str(exc), field="version") from None
            return self._publish(
                name, parsed, LFSet.from_spec(parsed), who, reason, history, active, to
            )

    # ------------------------------------------------------------------ models
    def models(self) -> dict[str, Any]:
        """Return, per model name, its champion and the trainer's registry view."""
        return self.backend.models()

    def model_command(
        self, model: str, action: str, who: Principal, reason: Any, version: str | None = None
    ) -> dict[str, Any]:
        """Ask the trainer of ``model`` to promote ``version`` or to roll back.

        The trainer owns the registry (one writer), so the change is a command it applies;
        the answer is ``accepted`` with the command id, and the outcome appears in the
        registry view (``commands``) and, when applied, as the new champion on ``models``.
        Checked here first when the registry view is known: an unknown version, promoting
        the champion, or a rollback without an earlier champion (409).
        """
        _check_writer(who)
        reason = _check_reason(reason)
        if action not in ("promote", "rollback"):
            raise ControlError(422, f"unknown action {action!r}", field="action")
        if action == "promote" and not version:
            raise ControlError(422, "a promotion names the version", field="version")
        view = (self.backend.models().get(model) or {}).get("registry")
        if view is not None:
            known = [v["version"] for v in view.get("versions", [])]
            if action == "promote" and version not in known:
                raise ControlError(
                    404,
                    f"model {model!r} has no version {version!r} (versions: "
                    f"{', '.join(known) or 'none'})",
                    field="version",
                    code="not_found",
                )
            if action == "promote" and view.get("champion") == version:
                raise ControlError(409, f"{version!r} is already the champion", field="version")
            if action == "rollback" and _stack_depth(view.get("history", [])) < 2:
                raise ControlError(409, "no previous champion to roll back to")
        audit = AuditEntry.new(
            who.name,
            f"model.{action}",
            f"model:{model}",
            reason,
            {"version": version},
        )
        command = ModelCommand(
            audit.id,
            model,
            "promote" if action == "promote" else "rollback",
            version,
            who.name,
            reason,
            audit.at,
        )
        where = self.backend.send_model_command(command, audit)
        return {"status": "accepted", "command_id": audit.id, "model": model, **where}


def _stack_depth(history: list[Mapping[str, Any]]) -> int:
    stack: list[str] = []
    for e in history:
        if e.get("action") == "promote":
            stack.append(str(e.get("version")))
        elif e.get("action") == "rollback" and stack:
            stack.pop()
    return len(stack)
