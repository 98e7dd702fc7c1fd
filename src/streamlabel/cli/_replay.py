"""``streamlabel replay``: relabel a time range of ``events`` with another LF set version.

Kafka clients are imported inside the handler, so ``streamlabel --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from streamlabel.cli._args import ranged
from streamlabel.cli._lf import LFCommandError, _add_broker_options, _kafka_errors, _settings

__all__ = ["add_replay_command", "render_replay"]


def _time(text: str) -> float:
    from streamlabel.stream._replay import parse_time

    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_batch = ranged(int, "an integer", 1, 100_000)


def add_replay_command(commands: Any) -> None:
    """Add ``streamlabel replay`` to the CLI's subcommands."""
    rp = commands.add_parser(
        "replay",
        help="relabel past events with an LF set version; publish revisions for flipped labels",
        description=(
            "Find the offsets of [--from, --to) on every partition of events (Kafka record "
            "timestamps), re-read those events outside any consumer group, apply LF set "
            "--set version --version with the current label model (read-only: the "
            "aggregator's parameters, else the worker's snapshot), and publish a revision "
            "to labels (key: event id; the new label with the previous one under "
            '"revision") for every event whose label flips. Progress is recorded in '
            "--state-dir: an interrupted replay resumes with the same --replay-id (the "
            "default id is derived from the set, version and range), a finished one does "
            "nothing, and a new replay of the same range finds no flip left."
        ),
    )
    rp.add_argument("--set", dest="lfset", required=True, metavar="NAME", help="LF set name")
    rp.add_argument("--version", required=True, metavar="V", help="LF set version to apply")
    rp.add_argument(
        "--from",
        dest="start",
        required=True,
        type=_time,
        metavar="TIME",
        help="start (inclusive): ISO-8601 (zone-less = UTC) or epoch seconds",
    )
    rp.add_argument(
        "--to",
        dest="stop",
        type=_time,
        default=None,
        metavar="TIME",
        help="end (exclusive); default: the end of events when the replay starts",
    )
    rp.add_argument("--replay-id", default=None, metavar="ID", help="names (and resumes) a replay")
    rp.add_argument("--reason", default=None, metavar="TEXT", help="stored in every revision")
    rp.add_argument(
        "--file",
        default=None,
        metavar="FILE",
        help="the version's spec (YAML/JSON) when lfsets no longer holds it (compaction)",
    )
    rp.add_argument(
        "--model-source",
        choices=("auto", "params", "stats"),
        default="auto",
        help="labelmodel-params (aggregator), labelmodel-stats (worker snapshot); default: auto",
    )
    rp.add_argument(
        "--state-dir",
        default="streamlabel-replay",
        metavar="DIR",
        help="progress, model copy and label index; default: streamlabel-replay",
    )
    rp.add_argument("--batch-size", type=_batch, default=2_000, metavar="N", help="default: 2000")
    rp.add_argument(
        "--label-margin",
        type=float,
        default=300.0,
        metavar="S",
        help="labels are indexed from --from minus this; default: 300 seconds",
    )
    rp.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    _add_broker_options(rp)
    rp.set_defaults(handler=run_replay_command, render=render_replay)


def run_replay_command(args: argparse.Namespace) -> dict[str, Any]:
    """Run ``streamlabel replay``; return the report as a dict."""
    from streamlabel.lf import load_lfset
    from streamlabel.stream._replay import ReplayError, ReplayRequest, start_replay

    if args.stop is not None and args.stop <= args.start:
        raise LFCommandError(f"--to ({args.stop}) must be after --from ({args.start})")
    settings = _settings(args)
    lfset = None
    if args.file is not None:
        lfset = load_lfset(Path(args.file))
        if (lfset.name, lfset.version) != (args.lfset, args.version):
            raise LFCommandError(
                f"{args.file} holds {lfset.name!r} version {lfset.version!r}, "
                f"not {args.lfset!r} version {args.version!r}"
            )
    request = ReplayRequest(
        args.lfset, args.version, args.start, args.stop, args.replay_id, args.reason
    )
    with _kafka_errors(settings, args.timeout):
        try:
            report = start_replay(
                settings,
                request,
                state_dir=Path(args.state_dir),
                lfset=lfset,
                model_source=args.model_source,
                timeout=args.timeout,
                batch_size=args.batch_size,
                label_margin=args.label_margin,
                progress=None if args.no_progress else sys.stderr,
            )
        except ReplayError as exc:
            raise LFCommandError(str(exc)) from None
        except KeyboardInterrupt:
            print(
                f"replay {request.resolved_id()!r} interrupted; run the same command "
                "(or --replay-id) to resume",
                file=sys.stderr,
            )
            raise
    return report.to_dict()


def render_replay(report: Mapping[str, Any]) -> str:
    """Text report of ``streamlabel replay``.

    Examples
    --------
    >>> print(render_replay({"replay_id": "r1", "lfset": "fraud", "version": "2",
    ...     "labelmodel_version": "9.1", "done": True, "already_done": False,
    ...     "resumed": False, "events_read": 10, "revisions_sent": 2,
    ...     "events_per_second": 5000.0, "labels_indexed": 12, "index_seconds": 0.1,
    ...     "summary": {"events": 10, "revised": 2, "unchanged": 8, "unlabeled": 0,
    ...                 "invalid": 0, "duplicates": 0, "flips": {"1->0": 2},
    ...                 "lf_changes": {"gc": 2}}}))
    replay r1: fraud v2 with label model 9.1 (done)
    this run: 10 events read, 2 revisions sent, 5000 events/s; 12 labels indexed in 0.1 s
    events 10: revised 2, unchanged 8, unlabeled 0, invalid 0
    flips: 1->0 2
    changed LFs: gc 2
    """
    from streamlabel.pipeline import ReplaySummary

    state = "already done" if report["already_done"] else "done" if report["done"] else "partial"
    if report["resumed"]:
        state += ", resumed"
    lines = [
        f"replay {report['replay_id']}: {report['lfset']} v{report['version']} with label "
        f"model {report['labelmodel_version']} ({state})",
        f"this run: {report['events_read']} events read, {report['revisions_sent']} revisions "
        f"sent, {report['events_per_second']:.0f} events/s; {report['labels_indexed']} labels "
        f"indexed in {report['index_seconds']:.1f} s",
        ReplaySummary.from_dict(report["summary"]).to_table(),
    ]
    return "\n".join(lines)
