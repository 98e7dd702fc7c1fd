"""``streamlabel lf candidate deploy|show|promote|discard``: shadow-test an LF set version.

A candidate runs on live traffic beside the active version without changing the labels
the labelers emit; ``show`` prints what they report (agreement, flips, coverage, gold
accuracy of both versions and the verdict). Like the other ``lf`` commands it goes through
the control plane's rules, over the HTTP API (``--api``) or in-process against Kafka, and
every change needs ``--reason``. ``promote`` of a candidate that gold labels show worse
is refused unless ``--confirm`` is given.

Only the standard library is imported at module level.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

__all__ = ["add_candidate_commands"]


def add_candidate_commands(verbs: Any) -> None:
    """Add ``lf candidate deploy|show|promote|discard`` to the ``lf`` verbs."""
    from streamlabel.cli._control import add_control_options
    from streamlabel.cli._lf import _add_broker_options

    cand = verbs.add_parser(
        "candidate",
        help="shadow-test an LF set version beside the active one, then promote or discard it",
        description=(
            "Deploy a candidate version of an LF set: every labeler scores it on live "
            "traffic beside the active version without changing the labels it emits. "
            "Show its report, then promote it (it becomes the active version from the "
            "labelers' next batch) or discard it."
        ),
    )
    sub = cand.add_subparsers(dest="action", metavar="ACTION", required=True)

    deploy = sub.add_parser(
        "deploy",
        help="deploy a published version or a spec file as the candidate",
        description="Deploy --version V (published) or FILE (a new spec) as NAME's candidate.",
    )
    deploy.add_argument("name", metavar="NAME", help="LF set name")
    deploy.add_argument("file", metavar="FILE", nargs="?", help="LF set spec (.yaml/.json)")
    deploy.add_argument("--version", dest="cand_version", metavar="V", help="a published version")
    deploy.add_argument("--reason", required=True, help="why (recorded with who and when)")
    _add_broker_options(deploy)
    add_control_options(deploy)
    deploy.set_defaults(handler=_run_deploy, render=_render_deploy)

    show = sub.add_parser(
        "show",
        help="the candidate and the labelers' report on it",
        description="Print NAME's candidate beside the active version.",
    )
    show.add_argument("name", metavar="NAME", help="LF set name")
    _add_broker_options(show)
    add_control_options(show)
    show.set_defaults(handler=_run_show, render=_render_show)

    promote = sub.add_parser(
        "promote",
        help="make the candidate the active version",
        description=(
            "Publish NAME's candidate as the active version (labelers apply it from their "
            "next batch). Refused when gold labels show it worse, unless --confirm."
        ),
    )
    promote.add_argument("name", metavar="NAME", help="LF set name")
    promote.add_argument("--reason", required=True, help="why (recorded with who and when)")
    promote.add_argument(
        "--confirm", action="store_true", help="promote even if gold labels show it worse"
    )
    _add_broker_options(promote)
    add_control_options(promote)
    promote.set_defaults(handler=_run_promote, render=_render_promote)

    discard = sub.add_parser(
        "discard", help="stop scoring the candidate", description="Discard NAME's candidate."
    )
    discard.add_argument("name", metavar="NAME", help="LF set name")
    discard.add_argument("--reason", required=True, help="why (recorded with who and when)")
    _add_broker_options(discard)
    add_control_options(discard)
    discard.set_defaults(handler=_run_discard, render=_render_discard)


def _run_deploy(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.api import deploy_candidate
    from streamlabel.cli._control import call_control
    from streamlabel.cli._lf import LFCommandError, _load_local

    if (args.file is None) == (args.cand_version is None):
        raise LFCommandError("give either FILE (a new spec) or --version V (a published one)")
    spec = None
    if args.file is not None:
        parsed, _ = _load_local(args.file)  # an invalid spec never reaches the control plane
        spec = parsed.model_dump(mode="json")
    body = {"version": args.cand_version, "spec": spec, "reason": args.reason}
    result: dict[str, Any] = call_control(
        args,
        lambda plane, who: deploy_candidate(
            plane, args.name, who, args.reason, version=args.cand_version, spec=spec
        ),
        lambda c: c.post(f"/lfsets/{args.name}/candidate", body),
    )
    return result


def _run_show(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.api import ControlError, candidate_view
    from streamlabel.cli._control import call_control

    def direct(plane: Any, who: Any) -> dict[str, Any]:
        view = candidate_view(plane.backend, args.name)
        if view is None:
            plane.active(args.name)  # an unknown set says so
            raise ControlError(404, f"LF set {args.name!r} has no candidate deployed")
        return view

    result: dict[str, Any] = call_control(
        args, direct, lambda c: c.get(f"/lfsets/{args.name}/candidate")
    )
    return result


def _run_promote(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.api import promote_candidate
    from streamlabel.cli._control import call_control

    result: dict[str, Any] = call_control(
        args,
        lambda plane, who: promote_candidate(
            plane, args.name, who, args.reason, confirm=args.confirm
        ),
        lambda c: c.post(
            f"/lfsets/{args.name}/candidate/promote",
            {"reason": args.reason, "confirm": args.confirm},
        ),
    )
    return result


def _run_discard(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.api import discard_candidate
    from streamlabel.cli._control import call_control

    result: dict[str, Any] = call_control(
        args,
        lambda plane, who: discard_candidate(plane, args.name, who, args.reason),
        lambda c: c.post(f"/lfsets/{args.name}/candidate/discard", {"reason": args.reason}),
    )
    return result


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.2f}%"


def _render_deploy(report: Mapping[str, Any]) -> str:
    """Readable ``lf candidate deploy``.

    Examples
    --------
    >>> print(_render_deploy({"name": "s", "version": "2", "active_version": "1",
    ...     "replaces": None, "diff": {"added": [], "removed": ["x@1"], "changed": []}}))
    deployed LF set 's' version '2' as the candidate beside version '1'
      removed: x@1
    labelers score it from their next batch; `streamlabel lf candidate show s` reports on it
    """
    lines = [
        f"deployed LF set {report['name']!r} version {report['version']!r} as the candidate "
        f"beside version {report['active_version']!r}"
        + (f" (replaces candidate {report['replaces']!r})" if report.get("replaces") else "")
    ]
    diff = report.get("diff") or {}
    if diff.get("added"):
        lines.append(f"  added:   {', '.join(diff['added'])}")
    if diff.get("removed"):
        lines.append(f"  removed: {', '.join(diff['removed'])}")
    if diff.get("changed"):
        lines.append(
            "  changed: " + ", ".join(f"{c['from']} -> {c['to']}" for c in diff["changed"])
        )
    lines.append(
        "labelers score it from their next batch; "
        f"`streamlabel lf candidate show {report['name']}` reports on it"
    )
    return "\n".join(lines)


def _render_show(view: Mapping[str, Any]) -> str:
    """Readable ``lf candidate show``.

    Examples
    --------
    >>> print(_render_show({"name": "s", "version": "2", "active_version": "1",
    ...     "deployed": {"actor": "ops", "reason": "try"}, "workers": [{}], "verdict": "worse",
    ...     "report": {"n": 900, "agreement": 0.9, "flips": {"0->1": 90, "1->0": 0},
    ...                "coverage": 0.5, "conflict": 0.01,
    ...                "gold": {"n": 300, "active_accuracy": 0.9, "candidate_accuracy": 0.8,
    ...                         "p_value": 0.001},
    ...                "lfs": [{"lf": "a@2", "coverage": 0.1, "conflicts": 0.0, "est_acc": 0.7}]}}))
    LF set 's': candidate version '2' beside active version '1' (deployed by ops: try)
    900 events scored by 1 worker(s); agreement 90.00%; flips 0->1 90, 1->0 0
    coverage 50.00%, conflicts 1.00%
    gold (300 labels): active 90.00%, candidate 80.00%, McNemar p=0.001
    verdict: worse (promoting it needs --confirm)
    LF    est. accuracy  coverage
    a@2   70.00%         10.00%
    """
    from streamlabel.cli._lf import _rows

    deployed = view.get("deployed") or {}
    lines = [
        f"LF set {view['name']!r}: candidate version {view['version']!r} beside active "
        f"version {view['active_version']!r} (deployed by {deployed.get('actor')}: "
        f"{deployed.get('reason')})"
    ]
    report = view.get("report")
    if not report:
        lines.append("no report yet: no labeler has scored a batch with it")
        return "\n".join(lines)
    flips = ", ".join(f"{k} {v}" for k, v in (report.get("flips") or {}).items()) or "none"
    lines.append(
        f"{report.get('n', 0)} events scored by {len(view.get('workers') or [])} worker(s); "
        f"agreement {_pct(report.get('agreement'))}; flips {flips}"
    )
    lines.append(
        f"coverage {_pct(report.get('coverage'))}, conflicts {_pct(report.get('conflict'))}"
    )
    gold = report.get("gold") or {}
    if gold.get("n"):
        lines.append(
            f"gold ({gold['n']} labels): active {_pct(gold.get('active_accuracy'))}, "
            f"candidate {_pct(gold.get('candidate_accuracy'))}, "
            f"McNemar p={float(gold.get('p_value', 1.0)):.3g}"
        )
    else:
        lines.append("gold: none yet")
    verdict = view.get("verdict", "undecided")
    note = " (promoting it needs --confirm)" if verdict == "worse" else ""
    lines.append(f"verdict: {verdict}{note}")
    rows = [
        [str(r.get("lf")), _pct(r.get("est_acc")), _pct(r.get("coverage"))]
        for r in report.get("lfs") or []
    ]
    if rows:
        lines.append(_rows(["LF", "est. accuracy", "coverage"], rows))
    return "\n".join(lines)


def _render_promote(report: Mapping[str, Any]) -> str:
    """Readable ``lf candidate promote``.

    Examples
    --------
    >>> print(_render_promote({"name": "s", "version": "2", "candidate_version": "2",
    ...     "verdict": "better", "confirmed": False, "topic": "lfsets", "partition": 0,
    ...     "offset": 4, "rollback_of": None}))
    promoted candidate '2' of LF set 's' (verdict: better): version '2' published to lfsets (partition 0, offset 4)
    """  # noqa: E501
    where = str(report.get("topic", "lfsets"))
    if report.get("partition") is not None:
        where += f" (partition {report['partition']}, offset {report['offset']})"
    confirmed = ", confirmed" if report.get("confirmed") else ""
    return (
        f"promoted candidate {report['candidate_version']!r} of LF set {report['name']!r} "
        f"(verdict: {report.get('verdict')}{confirmed}): version {report['version']!r} "
        f"published to {where}"
    )


def _render_discard(report: Mapping[str, Any]) -> str:
    """Readable ``lf candidate discard``.

    Examples
    --------
    >>> print(_render_discard({"name": "s", "version": "2", "verdict": "worse"}))
    discarded candidate '2' of LF set 's' (verdict: worse)
    """
    return (
        f"discarded candidate {report['version']!r} of LF set {report['name']!r} "
        f"(verdict: {report.get('verdict')})"
    )
