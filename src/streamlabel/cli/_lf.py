"""``streamlabel lf check|push|list|show|versions|diff|rollback``: declarative LF sets.

The compacted ``lfsets`` topic (``topic_prefix + "lfsets"``) holds one record per LF set:
key = the set's name (utf-8), value = the JSON of its declarative spec,
``LFSetSpec.model_dump(mode="json")`` (see ``docs/CONTRACTS.md``). The latest record of a
key is the set's current version.

``push`` validates the file locally before it talks to a broker (a spec that fails
validation is refused with the LF, field and reason, and nothing is published). Then
``push``, ``versions``, ``diff`` and ``rollback`` go through the control plane's rules
(:class:`streamlabel.api.ControlPlane`): over the HTTP API with ``--api URL``, else
in-process against Kafka (:class:`streamlabel.api.KafkaBackend`), refused with the same
words either way. The :class:`~streamlabel.lf.LFSetRegistry` rules hold against every
published version of the set: the same set version with other content, or an LF id
(``name@version``) with other logic, is refused; the active version pushed again is a
no-op; an older version pushed again is refused (roll back to it instead). A published
version is recorded on ``lfset-versions`` and ``audit`` (who: ``cli:<user>``, ``--reason``)
before the ``lfsets`` record makes it active (``acks=all``).

Only the standard library is imported at module level; pydantic, the LF code and
kafka-python are imported when a command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamlabel.lf import LFSet, LFSetSpec
    from streamlabel.stream import StreamSettings

__all__ = ["LFSETS_TOPIC", "LFCommandError", "PublishedSet", "add_lf_commands", "read_lfsets"]

#: Logical name of the compacted topic of LF sets (the prefix is added).
LFSETS_TOPIC = "lfsets"

#: Default bound, in seconds, on each broker interaction (connect, read to the end, produce).
DEFAULT_TIMEOUT = 10.0


class LFCommandError(ValueError):
    """An expected failure of an ``lf`` command: ``streamlabel: error: ...``, exit 2."""


@dataclass(frozen=True)
class PublishedSet:
    """The latest record of one key of the ``lfsets`` topic.

    Attributes
    ----------
    name : str
        The record key (the LF set name).
    partition, offset : int
        Where the record is.
    timestamp_ms : int or None
        The record timestamp.
    spec : LFSetSpec or None
        The validated spec; None when the value does not validate.
    lfset : LFSet or None
        The compiled set; None when the value does not validate.
    error : str or None
        Why the value is unreadable, when it is.
    """

    name: str
    partition: int
    offset: int
    timestamp_ms: int | None
    spec: LFSetSpec | None
    lfset: LFSet | None
    error: str | None = None


# --------------------------------------------------------------------------- parser


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds in (0, 3600], got {value}")
    return value


def _add_broker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--brokers",
        metavar="B",
        help="bootstrap host:port[,host:port...]; default: $STREAMLABEL_BROKERS or 127.0.0.1:9092",
    )
    parser.add_argument(
        "--prefix",
        metavar="P",
        help="topic name prefix; default: $STREAMLABEL_TOPIC_PREFIX or none",
    )
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"seconds for each broker step; default: {DEFAULT_TIMEOUT:g}",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def add_lf_commands(commands: Any) -> None:
    """Add ``lf check|push|list|show|versions|diff|rollback`` to the subcommands."""
    from streamlabel.cli._control import add_control_options

    lf = commands.add_parser(
        "lf",
        help="check declarative LF sets and publish them to the lfsets topic",
        description=(
            "Validate declarative LF sets (YAML/JSON) and publish them to, or read them "
            "back from, the compacted lfsets topic the labelers read."
        ),
    )
    verbs = lf.add_subparsers(dest="verb", metavar="VERB", required=True)

    check = verbs.add_parser(
        "check",
        help="validate an LF set file locally (no broker)",
        description="Validate a declarative LF set file and list its LFs; no broker is used.",
    )
    check.add_argument("file", metavar="FILE", help="LF set spec (.yaml, .yml or .json)")
    check.add_argument("--json", action="store_true", help="print one JSON document")
    check.set_defaults(handler=_run_check, render=_render_check)

    push = verbs.add_parser(
        "push",
        help="validate an LF set file and publish it to the lfsets topic",
        description=(
            "Validate FILE locally, then publish it to the lfsets topic (key = set name). "
            "Refused, with nothing published: an invalid spec; a set version already "
            "published with other content; an LF whose logic changed under the same "
            "name@version. Pushing the latest version again unchanged is a no-op."
        ),
    )
    push.add_argument("file", metavar="FILE", help="LF set spec (.yaml, .yml or .json)")
    push.add_argument(
        "--set", metavar="NAME", help="expected set name; must equal the name in FILE"
    )
    push.add_argument("--reason", required=True, help="why (recorded with who and when)")
    _add_broker_options(push)
    add_control_options(push)
    push.set_defaults(handler=_run_push, render=_render_push)

    ls = verbs.add_parser(
        "list",
        help="the latest version of every LF set on the topic",
        description="Read the lfsets topic and list the latest version of every LF set.",
    )
    _add_broker_options(ls)
    add_control_options(ls)
    ls.set_defaults(handler=_run_list, render=_render_list)

    show = verbs.add_parser(
        "show",
        help="the latest spec of one LF set",
        description="Print the latest published spec of the LF set NAME.",
    )
    show.add_argument("name", metavar="NAME", help="LF set name")
    _add_broker_options(show)
    add_control_options(show)
    show.set_defaults(handler=_run_show, render=_render_show)

    versions = verbs.add_parser(
        "versions",
        help="every published version of one LF set: who, when, why",
        description="List every published version of NAME, oldest first.",
    )
    versions.add_argument("name", metavar="NAME", help="LF set name")
    _add_broker_options(versions)
    add_control_options(versions)
    versions.set_defaults(handler=_run_versions, render=_render_versions)

    diff = verbs.add_parser(
        "diff",
        help="what changes between two versions of an LF set",
        description="LFs added, removed and changed from version OLD to NEW (default: active).",
    )
    diff.add_argument("name", metavar="NAME", help="LF set name")
    diff.add_argument("old", metavar="OLD", help="the earlier version")
    diff.add_argument("new", metavar="NEW", nargs="?", help="the later one; default: active")
    _add_broker_options(diff)
    add_control_options(diff)
    diff.set_defaults(handler=_run_diff, render=_render_diff)

    rollback = verbs.add_parser(
        "rollback",
        help="make an earlier version's content active again (as a new version)",
        description=(
            "Republish the spec of version TO of NAME as a new set version (the next "
            "integer, or --new-version), recorded as a rollback of TO. Labelers apply it "
            "from their next batch."
        ),
    )
    rollback.add_argument("name", metavar="NAME", help="LF set name")
    rollback.add_argument("to", metavar="TO", help="the earlier version to return to")
    rollback.add_argument("--reason", required=True, help="why (recorded with who and when)")
    rollback.add_argument("--new-version", metavar="V", help="name of the new set version")
    _add_broker_options(rollback)
    add_control_options(rollback)
    rollback.set_defaults(handler=_run_rollback, render=_render_push)

    from streamlabel.cli._candidate import add_candidate_commands

    add_candidate_commands(verbs)


# --------------------------------------------------------------------------- local


def _load_local(file: str) -> tuple[LFSetSpec, LFSet]:
    """Validate and compile ``file``; :class:`~streamlabel.lf.LFSpecError` when invalid."""
    from streamlabel.lf import LFSet, load_lfset_spec

    path = Path(file)
    if not path.is_file():
        raise LFCommandError(f"no such file: {file}")
    spec = load_lfset_spec(path)
    return spec, LFSet.from_spec(spec)


def _describe(spec: LFSetSpec, lfset: LFSet) -> dict[str, Any]:
    names = spec.label_names
    lfs = []
    for lf_spec, lf in zip(spec.lfs, lfset.lfs, strict=True):
        lfs.append(
            {
                "id": lf.id,
                "kind": lf_spec.when.kind,
                "label": lf_spec.label,
                "label_name": names[lf_spec.label] if names is not None else None,
                "fields": list(getattr(lf, "fields", ())),
            }
        )
    return {
        "name": spec.name,
        "version": spec.version,
        "cardinality": spec.cardinality,
        "label_names": names,
        "content_hash": lfset.content_hash,
        "n_lfs": len(lfset),
        "lfs": lfs,
    }


def _run_check(args: argparse.Namespace) -> dict[str, Any]:
    spec, lfset = _load_local(args.file)
    return {"file": args.file, "valid": True, **_describe(spec, lfset)}


# --------------------------------------------------------------------------- kafka


def _settings(args: argparse.Namespace) -> StreamSettings:
    from pydantic import ValidationError

    from streamlabel.stream import StreamSettings

    # Each flag is validated alone, then replaces the value read from the environment.
    update: dict[str, Any] = {}
    for flag, field, value in (
        ("--brokers", "brokers", args.brokers),
        ("--prefix", "topic_prefix", args.prefix),
    ):
        if value is None:
            continue
        try:
            update[field] = getattr(StreamSettings.model_validate({field: value}), field)
        except ValidationError as exc:
            reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            raise LFCommandError(f"{flag} {value!r}: {reason}") from None
    return StreamSettings.from_env().model_copy(update=update)


@contextlib.contextmanager
def _kafka_errors(settings: StreamSettings, timeout: float) -> Iterator[None]:
    """Quiet kafka-python's logging; turn its errors into :class:`LFCommandError`."""
    from kafka.errors import KafkaError

    kafka_logger = logging.getLogger("kafka")
    level = kafka_logger.level
    kafka_logger.setLevel(logging.CRITICAL)  # reconnect chatter; we report the outcome
    brokers = ",".join(settings.bootstrap_servers)
    try:
        yield
    except KafkaError as exc:
        text = str(exc) or type(exc).__name__
        if "bootstrap" in text.lower() or type(exc).__name__ == "NoBrokersAvailable":
            raise LFCommandError(
                f"no Kafka broker answers at {brokers} within {timeout:g} s ({text}); "
                "set --brokers or STREAMLABEL_BROKERS (`streamlabel dev kafka up` starts one)"
            ) from None
        raise LFCommandError(f"Kafka error at {brokers}: {type(exc).__name__}: {text}") from None
    finally:
        kafka_logger.setLevel(level)


def _parse_value(name: str, value: bytes) -> tuple[LFSetSpec, LFSet]:
    from streamlabel.lf import LFSet, LFSpecError, load_lfset_spec

    try:
        data = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LFSpecError(f"value is not UTF-8 JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise LFSpecError(f"value is not a JSON object but {type(data).__name__}")
    spec = load_lfset_spec(data)
    if spec.name != name:
        raise LFSpecError(f"value names the set {spec.name!r} under the key {name!r}")
    return spec, LFSet.from_spec(spec)


def read_lfsets(settings: StreamSettings, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Read the latest record of every key of the ``lfsets`` topic.

    The topic is read from its beginning up to the end offsets taken when reading starts;
    the last record of each key wins and a tombstone (null value) removes the key.

    Parameters
    ----------
    settings : StreamSettings
        Brokers and topic prefix.
    timeout : float, default=10
        Seconds to connect, and then to read to the end offsets.

    Returns
    -------
    dict
        ``topic``; ``exists`` (whether the topic exists); ``end_offsets`` (partition ->
        end offset); ``sets``: set name -> :class:`PublishedSet`, sorted by name.

    Raises
    ------
    kafka.errors.KafkaError
        The broker cannot be reached (``KafkaTimeoutError`` after ``timeout``).
    LFCommandError
        Reading did not reach the end offsets within ``timeout``.
    """
    from streamlabel.lf import LFSpecError
    from streamlabel.stream._topics import TopicReadTimeoutError, read_to_end

    topic = settings.topic(LFSETS_TOPIC)
    try:
        found = read_to_end(
            settings,
            LFSETS_TOPIC,
            timeout=timeout,
            client_id="streamlabel-lf",
            keep=lambda k: k is not None,
        )
    except TopicReadTimeoutError as exc:
        raise LFCommandError(str(exc)) from None
    if found is None:
        return {"topic": topic, "exists": False, "end_offsets": {}, "sets": {}}
    records, end = found
    latest: dict[str, PublishedSet] = {}
    for record in records:
        name = (record.key or b"").decode("utf-8", errors="replace")
        if not record.value:  # a tombstone removes the set
            latest.pop(name, None)
            continue
        try:
            spec, lfset = _parse_value(name, record.value)
            error = None
        except LFSpecError as exc:
            spec, lfset, error = None, None, str(exc)
        stamp = None if record.timestamp is None else round(record.timestamp * 1000)
        latest[name] = PublishedSet(
            name, record.partition, record.offset, stamp, spec, lfset, error
        )
    return {
        "topic": topic,
        "exists": True,
        "end_offsets": end,
        "sets": dict(sorted(latest.items())),
    }


# --------------------------------------------------------------------------- commands


def _run_push(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.cli._control import call_control

    spec, _ = _load_local(args.file)  # first: an invalid spec never reaches a broker
    if args.set is not None and args.set != spec.name:
        raise LFCommandError(
            f"--set {args.set!r} does not match the LF set name {spec.name!r} in {args.file}"
        )
    body = spec.model_dump(mode="json")
    report: dict[str, Any] = call_control(
        args,
        lambda plane, who: plane.push(body, who, args.reason),
        lambda client: client.post("/lfsets", {"spec": body, "reason": args.reason}),
    )
    return {"key": spec.name, **report}


def _run_diff(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.cli._control import call_control

    result: dict[str, Any] = call_control(
        args,
        lambda plane, who: plane.diff(args.name, args.old, args.new),
        lambda c: c.get(f"/lfsets/{args.name}/diff", **{"from": args.old, "to": args.new}),
    )
    return result


def _run_rollback(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.cli._control import call_control

    body = {"to": args.to, "reason": args.reason, "version": args.new_version}
    result: dict[str, Any] = call_control(
        args,
        lambda plane, who: plane.rollback(
            args.name, args.to, who, args.reason, new_version=args.new_version
        ),
        lambda c: c.post(f"/lfsets/{args.name}/rollback", body),
    )
    return result


def _run_versions(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.cli._control import call_control

    versions: list[dict[str, Any]] = call_control(
        args,
        lambda plane, who: plane.versions(args.name),
        lambda c: c.get(f"/lfsets/{args.name}/versions"),
    )
    return {"name": args.name, "versions": versions}


def _summary(published: PublishedSet) -> dict[str, Any]:
    return {
        "name": published.name,
        "version": published.spec.version if published.spec is not None else None,
        "n_lfs": len(published.lfset) if published.lfset is not None else None,
        "content_hash": published.lfset.content_hash if published.lfset is not None else None,
        "partition": published.partition,
        "offset": published.offset,
        "timestamp_ms": published.timestamp_ms,
        "error": published.error,
    }


def _run_list(args: argparse.Namespace) -> dict[str, Any]:
    if args.api:
        from streamlabel.api import ApiClient

        sets = _client(args, ApiClient).get("/lfsets")
        return {"topic": args.api, "brokers": None, "exists": True, "sets": sets}
    settings = _settings(args)
    with _kafka_errors(settings, args.timeout):
        state = read_lfsets(settings, args.timeout)
    return {
        "topic": state["topic"],
        "brokers": settings.bootstrap_servers,
        "exists": state["exists"],
        "sets": [_summary(p) for p in state["sets"].values()],
    }


def _client(args: argparse.Namespace, cls: Any) -> Any:
    import os

    from streamlabel.cli._control import TOKEN_ENV

    return cls(args.api, os.environ.get(TOKEN_ENV) or None, timeout=args.timeout + 20)


def _run_show(args: argparse.Namespace) -> dict[str, Any]:
    if args.api:
        from streamlabel.api import ApiClient

        shown = _client(args, ApiClient).get(f"/lfsets/{args.name}")
        return {
            "topic": shown.get("topic", args.api),
            "partition": shown.get("partition"),
            "offset": shown.get("offset"),
            "n_lfs": len(shown["spec"].get("lfs", [])),
            **shown,
        }
    settings = _settings(args)
    with _kafka_errors(settings, args.timeout):
        state = read_lfsets(settings, args.timeout)
    published: PublishedSet | None = state["sets"].get(args.name)
    if published is None:
        known = ", ".join(state["sets"]) or "none"
        raise LFCommandError(f"no LF set named {args.name!r} on {state['topic']} (sets: {known})")
    if published.spec is None:
        raise LFCommandError(
            f"the latest record of {args.name!r} on {state['topic']} (partition "
            f"{published.partition}, offset {published.offset}) is not a valid LF set: "
            f"{published.error}"
        )
    return {
        "topic": state["topic"],
        **_summary(published),
        "spec": published.spec.model_dump(mode="json"),
    }


# --------------------------------------------------------------------------- rendering


def _rows(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns.

    Examples
    --------
    >>> print(_rows(["id", "kind"], [["a@1", "regex"]]))
    id   kind
    a@1  regex
    """
    lines = [list(headers), *[list(r) for r in rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _render_check(report: Mapping[str, Any]) -> str:
    """Readable ``lf check`` report.

    Examples
    --------
    >>> print(_render_check({"file": "f.yaml", "name": "s", "version": "2", "cardinality": 2,
    ...     "label_names": ["legit", "fraud"], "content_hash": "0123456789abcdef", "n_lfs": 1,
    ...     "lfs": [{"id": "big@1", "kind": "threshold", "label": 1, "label_name": "fraud",
    ...              "fields": ["amount"]}]}))
    f.yaml: LF set 's' version '2' is valid: 1 LF, 2 classes, content hash 0123456789ab
    LF id  condition  label      fields
    big@1  threshold  1 (fraud)  amount
    """
    n = report["n_lfs"]
    head = (
        f"{report['file']}: LF set {report['name']!r} version {report['version']!r} is valid: "
        f"{n} LF{'s' if n != 1 else ''}, {report['cardinality']} classes, "
        f"content hash {report['content_hash'][:12]}"
    )
    rows = [
        [
            lf["id"],
            lf["kind"],
            f"{lf['label']} ({lf['label_name']})" if lf["label_name"] else str(lf["label"]),
            ", ".join(lf["fields"]),
        ]
        for lf in report["lfs"]
    ]
    if not rows:
        return head
    return head + "\n" + _rows(["LF id", "condition", "label", "fields"], rows)


def _render_push(report: Mapping[str, Any]) -> str:
    """Readable ``lf push`` report.

    Examples
    --------
    >>> print(_render_push({"status": "published", "topic": "lfsets", "name": "s",
    ...     "version": "2", "content_hash": "0123456789abcdef", "n_lfs": 2, "partition": 0,
    ...     "offset": 7, "previous": {"version": "1", "offset": 3, "error": None},
    ...     "diff": {"added": ["new@1"], "removed": [],
    ...              "changed": [{"from": "a@1", "to": "a@2"}]}}))
    published LF set 's' version '2' to lfsets (partition 0, offset 7)
    2 LFs, content hash 0123456789ab
    diff vs version '1' (offset 3):
      added:   new@1
      changed: a@1 -> a@2
    """
    where = str(report.get("topic", "lfsets"))
    if report.get("partition") is not None:  # Kafka says where; the in-memory backend not
        where += f" (partition {report['partition']}, offset {report['offset']})"
    what = f"LF set {report['name']!r} version {report['version']!r}"
    if report["status"] == "unchanged":
        return (
            f"unchanged: {what} is already the latest on {where} with the same content "
            f"(hash {report['content_hash'][:12]}); nothing published"
        )
    rolled = (
        f" (a rollback to version {report['rollback_of']!r})" if report.get("rollback_of") else ""
    )
    lines = [
        f"published {what} to {where}{rolled}",
        f"{report['n_lfs']} LFs, content hash {report['content_hash'][:12]}",
    ]
    previous = report.get("previous")
    diff = report["diff"]
    if previous is None:
        lines.append("first version of this set: all LFs added")
    elif previous.get("error"):
        lines.append(
            f"previous record (offset {previous.get('offset')}) unreadable: {previous['error']}"
        )
    else:
        at = f" (offset {previous['offset']})" if previous.get("offset") is not None else ""
        lines.append(f"diff vs version {previous['version']!r}{at}:")
        if not (diff["added"] or diff["removed"] or diff["changed"]):
            lines.append("  no LF changes")
    if previous is not None and not previous.get("error"):
        if diff["added"]:
            lines.append(f"  added:   {', '.join(diff['added'])}")
        if diff["removed"]:
            lines.append(f"  removed: {', '.join(diff['removed'])}")
        if diff["changed"]:
            pairs = ", ".join(f"{c['from']} -> {c['to']}" for c in diff["changed"])
            lines.append(f"  changed: {pairs}")
    return "\n".join(lines)


def _render_diff(report: Mapping[str, Any]) -> str:
    """Readable ``lf diff`` report.

    Examples
    --------
    >>> print(_render_diff({"name": "s", "from": "1", "to": "2", "same_content": False,
    ...     "added": ["n@1"], "removed": [], "changed": [{"from": "a@1", "to": "a@2"}]}))
    LF set 's': version '1' -> '2'
      added:   n@1
      changed: a@1 -> a@2
    """
    lines = [f"LF set {report['name']!r}: version {report['from']!r} -> {report['to']!r}"]
    if report["same_content"]:
        lines.append("  same content (labels and LF logic)")
    if report["added"]:
        lines.append(f"  added:   {', '.join(report['added'])}")
    if report["removed"]:
        lines.append(f"  removed: {', '.join(report['removed'])}")
    if report["changed"]:
        lines.append(
            "  changed: " + ", ".join(f"{c['from']} -> {c['to']}" for c in report["changed"])
        )
    return "\n".join(lines)


def _render_versions(report: Mapping[str, Any]) -> str:
    """Readable ``lf versions`` report.

    Examples
    --------
    >>> print(_render_versions({"name": "s", "versions": [{"version": "1", "active": True,
    ...     "action": "push", "actor": "alice", "at": 0.0, "reason": "first",
    ...     "rollback_of": None, "n_lfs": 2}]}))
    version  active  action  by     at                    LFs  reason
    1        *       push    alice  1970-01-01T00:00:00Z  2    first
    """
    import datetime as dt

    def when(at: float | None) -> str:
        if at is None:
            return "-"
        stamp = dt.datetime.fromtimestamp(at, dt.UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")

    rows = [
        [
            v["version"],
            "*" if v["active"] else "",
            v["action"] + (f" of {v['rollback_of']}" if v.get("rollback_of") else ""),
            v.get("actor") or "-",
            when(v.get("at")),
            str(v.get("n_lfs", "-")),
            v.get("reason") or "-",
        ]
        for v in report["versions"]
    ]
    return _rows(["version", "active", "action", "by", "at", "LFs", "reason"], rows)


def _render_list(report: Mapping[str, Any]) -> str:
    """Readable ``lf list`` report.

    Examples
    --------
    >>> print(_render_list({"topic": "lfsets", "exists": True, "sets": [
    ...     {"name": "s", "version": "2", "n_lfs": 3, "content_hash": "0123456789abcdef",
    ...      "offset": 7, "error": None}]}))
    set  version  LFs  content hash  offset
    s    2        3    0123456789ab  7
    """
    if not report["exists"]:
        return f"no LF sets: topic {report['topic']} does not exist yet"
    if not report["sets"]:
        return f"no LF sets on {report['topic']}"
    rows = [
        [
            s["name"],
            s["version"] or "-",
            str(s["n_lfs"]) if s["n_lfs"] is not None else "-",
            s["content_hash"][:12] if s["content_hash"] else f"invalid: {s['error']}",
            str(s["offset"]),
        ]
        for s in report["sets"]
    ]
    return _rows(["set", "version", "LFs", "content hash", "offset"], rows)


def _render_show(report: Mapping[str, Any]) -> str:
    import yaml

    head = (
        f"# {report['name']} version {report['version']} on {report['topic']} "
        f"(partition {report['partition']}, offset {report['offset']}); "
        f"content hash {report['content_hash']}"
    )
    body: str = yaml.safe_dump(report["spec"], sort_keys=False, allow_unicode=True)
    return head + "\n" + body.rstrip()
