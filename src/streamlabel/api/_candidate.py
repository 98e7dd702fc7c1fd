"""Candidate LF sets in the control plane: deploy, read the shadow report, promote, discard.

A candidate is a version of a set that every labeler worker scores beside the active one
on live traffic without changing what it emits (:class:`~streamlabel.pipeline.ShadowLFSet`).
The control plane publishes it on ``lfset-candidates`` (:class:`~streamlabel.pipeline.
CandidateRecord`, key = set name) and reads the workers' reports from ``shadow-reports``,
merged into one (:func:`~streamlabel.pipeline.merge_shadow_reports`).

Promotion goes through the same path as a push or a rollback
(:meth:`ControlPlane._publish <streamlabel.api.ControlPlane>`): version record, audit
entry (action ``lfset.promote``, with the verdict and whether it was confirmed), then the
``lfsets`` record, which labelers swap in at their next batch; the candidate record is
cleared last. A candidate that gold labels show worse (McNemar verdict ``worse``) is
refused (409, ``candidate_worse``) unless the caller confirms. Every check runs before
anything is written, under the plane's write lock.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from streamlabel.api._backend import Backend
from streamlabel.api._control import ControlPlane, _check_reason, _check_writer, _compile
from streamlabel.api._model import AuditEntry, ControlError, Principal
from streamlabel.pipeline import CandidateRecord, merge_shadow_reports

__all__ = ["candidate_view", "deploy_candidate", "discard_candidate", "promote_candidate"]


def _active_version(backend: Backend, name: str) -> tuple[str | None, str | None]:
    """Return the active version of ``name`` and its content hash (None, None if unknown)."""
    active = backend.active_lfsets().get(name)
    if active is None or active.version is None:
        return None, None
    return active.version.version, active.version.content_hash


def candidate_view(backend: Backend, name: str) -> dict[str, Any] | None:
    """Return the candidate of ``name`` with the workers' merged report, or None.

    None when no candidate is deployed: none was, the latest record cleared it, or it has
    become the active version (a promotion whose clean-up record is not written yet).
    Only reports of this deployment (its change id) against the current active version
    are merged: a worker's report from before a rollback or a redeployment is left out.

    Returns
    -------
    dict or None
        ``name``, ``version``, ``content_hash``, ``active_version``, ``deployed`` (id,
        actor, reason, at), ``spec``, ``workers`` (per worker: ``worker``, ``at``, ``n``,
        ``batches``), ``report`` (merged, None before any worker reported) and
        ``verdict`` (``"undecided"`` without a report).
    """
    rec = backend.candidates().get(name)
    if rec is None or rec.spec is None:
        return None
    active, _ = _active_version(backend, name)
    if active is not None and active == rec.version:
        return None
    values = [
        v
        for v in backend.shadow_reports(name)
        if v.get("candidate_id") == rec.id and v.get("active_version") == active
    ]
    reports = [v["report"] for v in values if isinstance(v.get("report"), Mapping)]
    merged = merge_shadow_reports(reports) if reports else None
    return {
        "name": name,
        "version": rec.version,
        "content_hash": rec.content_hash,
        "active_version": active,
        "deployed": {"id": rec.id, "actor": rec.actor, "reason": rec.reason, "at": rec.at},
        "spec": rec.spec,
        "workers": [
            {
                "worker": v.get("worker"),
                "at": v.get("at"),
                "n": (v.get("report") or {}).get("n"),
                "batches": v.get("batches"),
            }
            for v in values
        ],
        "report": merged,
        "verdict": "undecided" if merged is None else merged["verdict"],
    }


def _require(backend: Backend, name: str) -> dict[str, Any]:
    view = candidate_view(backend, name)
    if view is None:
        raise ControlError(
            404,
            f"LF set {name!r} has no candidate deployed (streamlabel lf candidate deploy)",
            code="not_found",
        )
    return view


def deploy_candidate(
    plane: ControlPlane,
    name: str,
    who: Principal,
    reason: Any,
    *,
    version: str | None = None,
    spec: Any = None,
) -> dict[str, Any]:
    """Deploy a candidate for the set ``name``: a published ``version`` or a new ``spec``.

    The candidate replaces any earlier one. Refused (nothing written): a read-only caller
    (403); no reason, neither or both of ``version`` and ``spec``, an invalid spec (with
    LF and field), a spec of another set or cardinality (422); an unknown set or version
    (404); the active version or its content, a spec version already published with
    other content, an LF whose logic changed under its id (409).
    """
    from streamlabel.lf import LFSet

    _check_writer(who)
    reason = _check_reason(reason)
    if (version is None) == (spec is None):
        raise ControlError(
            422, "give either a published version or a spec to deploy", field="version"
        )
    backend = plane.backend
    with plane._write_lock:
        active = plane.active(name)
        current = active.version
        if current is None:
            raise ControlError(
                409,
                f"the latest record of {name!r} is not a valid LF set: {active.error}",
                code="unreadable",
            )
        if version is not None:
            target = plane.get_version(name, version)
            spec_json, cand_version, content_hash = target.spec, target.version, target.content_hash
        else:
            parsed, lfset = _compile(spec)
            if parsed.name != name:
                raise ControlError(
                    422, f"the spec names the set {parsed.name!r}, the request {name!r}",
                    field="name",
                )  # fmt: skip
            if current.spec.get("cardinality") != lfset.cardinality:
                raise ControlError(
                    422,
                    f"cardinality {lfset.cardinality}; the active version "
                    f"{current.version!r} has {current.spec.get('cardinality')}",
                    field="cardinality",
                )
            plane._check_rules(name, lfset, plane._history(name))
            spec_json = parsed.model_dump(mode="json")
            cand_version, content_hash = parsed.version, lfset.content_hash
        if cand_version == current.version or content_hash == current.content_hash:
            raise ControlError(
                409,
                f"version {cand_version!r} has the content of the active version "
                f"{current.version!r} of {name!r}: nothing to compare",
                field="version",
                code="unchanged",
            )
        LFSet.from_spec(dict(spec_json))  # a published version compiles; checked anyway
        previous = candidate_view(backend, name)
        diff = plane._diff(current.spec, spec_json)
        diff_out = {
            "added": diff["added"],
            "removed": diff["removed"],
            "changed": [{"from": c["from"], "to": c["to"]} for c in diff["changed"]],
        }
        audit = AuditEntry.new(
            who.name,
            "lfset.candidate.deploy",
            f"lfset:{name}",
            reason,
            {
                "version": cand_version,
                "content_hash": content_hash,
                "active": current.version,
                "replaces": None if previous is None else previous["version"],
                "diff": diff_out,
            },
        )
        record = CandidateRecord(
            name,
            "deploy",
            audit.id,
            dict(spec_json),
            cand_version,
            content_hash,
            who.name,
            reason,
            audit.at,
        )
        where = backend.publish_candidate(record, audit)
    return {
        "status": "deployed",
        "name": name,
        "version": cand_version,
        "content_hash": content_hash,
        "active_version": current.version,
        "replaces": None if previous is None else previous["version"],
        "diff": diff_out,
        "candidate_id": audit.id,
        "audit_id": audit.id,
        **where,
    }


def promote_candidate(
    plane: ControlPlane, name: str, who: Principal, reason: Any, *, confirm: bool = False
) -> dict[str, Any]:
    """Make the candidate of ``name`` the active version; the labelers swap at their next batch.

    Published like a push (a new version) or, when the candidate's version was published
    before, like a rollback to it (under the next version); audited as ``lfset.promote``
    with the candidate's verdict and gold figures. Refused (nothing written): no
    candidate (404); gold shows it worse and ``confirm`` is not set (409,
    ``candidate_worse``); read-only caller (403); no reason (422).
    """
    from streamlabel.api._control import _next_version
    from streamlabel.lf import LFSet, load_lfset_spec

    _check_writer(who)
    reason = _check_reason(reason)
    backend = plane.backend
    with plane._write_lock:
        view = _require(backend, name)
        report = view["report"] or {}
        gold = report.get("gold") or {}
        verdict = view["verdict"]
        if verdict == "worse" and not confirm:
            raise ControlError(
                409,
                f"candidate {view['version']!r} of {name!r} is worse than the active version "
                f"{view['active_version']!r} on {gold.get('n')} gold labels (accuracy "
                f"{gold.get('candidate_accuracy'):.4f} vs {gold.get('active_accuracy'):.4f}, "
                f"McNemar p={gold.get('p_value'):.3g}); promote with confirm=true (CLI: "
                "--confirm) to override. Nothing was published",
                field="confirm",
                code="candidate_worse",
            )
        active = plane.active(name)
        history = plane._history(name)
        used = [v.version for v in history]
        rollback_of = None
        spec = dict(view["spec"])
        if view["version"] in used:  # published before: a new version with its content
            rollback_of = view["version"]
            spec["version"] = _next_version(used, view["version"])
        try:
            parsed = load_lfset_spec(spec)
        except ValueError as exc:
            raise ControlError(422, str(exc), field="spec") from None
        promotion = {
            "candidate_id": view["deployed"]["id"],
            "candidate_version": view["version"],
            "verdict": verdict,
            "confirmed": bool(confirm),
            "n": report.get("n"),
            "agreement": report.get("agreement"),
            "gold": gold,
        }
        result = plane._publish(
            name,
            parsed,
            LFSet.from_spec(parsed),
            who,
            reason,
            history,
            active,
            rollback_of,
            promotion=promotion,
        )
        # Last: the active record above already ends the candidate for every labeler.
        backend.publish_candidate(
            CandidateRecord(
                name,
                "promote",
                str(result.get("audit_id")),
                None,
                view["version"],
                view["content_hash"],
                who.name,
                reason,
                time.time(),
            ),
            None,
        )
    return {**result, "status": "promoted", "candidate_version": view["version"], **promotion}


def discard_candidate(
    plane: ControlPlane, name: str, who: Principal, reason: Any
) -> dict[str, Any]:
    """Stop scoring the candidate of ``name`` (audited ``lfset.candidate.discard``).

    Refused: no candidate (404), read-only caller (403), no reason (422).
    """
    _check_writer(who)
    reason = _check_reason(reason)
    backend = plane.backend
    with plane._write_lock:
        view = _require(backend, name)
        report = view["report"] or {}
        audit = AuditEntry.new(
            who.name,
            "lfset.candidate.discard",
            f"lfset:{name}",
            reason,
            {
                "version": view["version"],
                "candidate_id": view["deployed"]["id"],
                "verdict": view["verdict"],
                "n": report.get("n"),
                "gold": report.get("gold"),
            },
        )
        record = CandidateRecord(
            name,
            "discard",
            audit.id,
            None,
            view["version"],
            view["content_hash"],
            who.name,
            reason,
            audit.at,
        )
        where = backend.publish_candidate(record, audit)
    return {
        "status": "discarded",
        "name": name,
        "version": view["version"],
        "verdict": view["verdict"],
        "audit_id": audit.id,
        **where,
    }
