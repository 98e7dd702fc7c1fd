"""Argument parsing, dispatch and report printing for the ``streamlabel`` command.

Only the standard library is imported at module level, so ``streamlabel --help`` and
``streamlabel --version`` return at once; each handler imports its benchmark when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from streamlabel import __version__
from streamlabel.cli._args import ranged

#: The proxies of ``bench proxies`` (``streamlabel.bench._proxies.PROXIES``; named here so
#: the parser needs no numpy).
PROXY_NAMES = ("sms", "agnews", "trec", "semeval")

__all__ = ["build_parser", "main"]

#: Exit code for usage and data errors (argparse uses the same).
EXIT_USAGE = 2

_Handler = Callable[[argparse.Namespace], dict[str, Any]]


class _CommandError(Exception):
    """An expected failure of a command: printed as ``streamlabel: error: ...``, exit 2."""


_unit_interval = ranged(float, "a number", 0.0, 1.0)
_positive_int = ranged(int, "an integer", 1)
_nonnegative_int = ranged(int, "an integer", 0)
_port = ranged(int, "a port number", 1, 65535)


def build_parser() -> argparse.ArgumentParser:
    """Build the ``streamlabel`` argument parser.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> args = build_parser().parse_args(["bench", "labelmodel", "--wrench", "d", "--json"])
    >>> args.wrench, args.peers, args.json
    ('d', True, True)
    """
    parser = argparse.ArgumentParser(
        prog="streamlabel",
        description="Streaming programmatic relabeling: benchmarks and tools.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    bench = commands.add_parser("bench", help="run a benchmark", description="Run a benchmark.")
    benches = bench.add_subparsers(dest="bench", metavar="BENCH", required=True)

    lm = benches.add_parser(
        "labelmodel",
        help="label models on a WRENCH dataset, streamed, beside Snorkel",
        description=(
            "Stream a WRENCH train split (weak labels only, file order) through the "
            "streamlabel label models and score them on the test split, beside a "
            "WRENCH-style majority vote and, when installed, Snorkel's label models."
        ),
    )
    lm.add_argument(
        "--wrench", required=True, metavar="DIR", help="WRENCH folder (train.json, test.json)"
    )
    lm.add_argument("--no-peers", dest="peers", action="store_false", help="skip the Snorkel peers")
    lm.add_argument("--json", action="store_true", help="print one JSON document")
    lm.set_defaults(handler=_run_labelmodel, render=_render_labelmodel)

    ap = benches.add_parser(
        "apply",
        help="LF application throughput (code vs declarative vs Snorkel)",
        description="Measure labeling-function application throughput on generated events.",
    )
    ap.add_argument(
        "--events", type=_positive_int, default=100_000, metavar="N", help="default: 100000"
    )
    ap.add_argument("--seed", type=int, default=0, metavar="S", help="default: 0")
    ap.add_argument(
        "--repeats", type=_positive_int, default=3, metavar="R", help="best of R; default: 3"
    )
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    ap.set_defaults(handler=_run_apply, render=_render_generic)

    sp = benches.add_parser(
        "lmspeed",
        help="label-model throughput (learn/predict, one and many) beside Snorkel",
        description="Time the label-model verbs on a seeded synthetic stream.",
    )
    sp.add_argument(
        "--events", type=_positive_int, default=200_000, metavar="N", help="default: 200000"
    )
    sp.add_argument("--lfs", type=_positive_int, default=10, metavar="M", help="default: 10")
    sp.add_argument("--classes", type=_positive_int, default=2, metavar="K", help="default: 2")
    sp.add_argument(
        "--unipolar",
        action="store_true",
        help="keyword-style LFs that each vote one class (default: LFs that vote any class)",
    )
    sp.add_argument(
        "--repeats", type=_positive_int, default=3, metavar="R", help="best of R; default: 3"
    )
    sp.add_argument("--no-peers", dest="peers", action="store_false", help="skip Snorkel")
    sp.add_argument("--json", action="store_true", help="print one JSON document")
    sp.set_defaults(handler=_run_lmspeed, render=_render_generic)

    rg = benches.add_parser(
        "regimes",
        help="label models on the synthetic regimes (unipolar, sparse, imbalanced, ...)",
        description="Stream each synthetic regime once and score label models on held-out rows.",
    )
    rg.add_argument("--seeds", type=_positive_int, default=3, metavar="S", help="default: 3")
    rg.add_argument("--no-peers", dest="peers", action="store_false", help="skip Snorkel")
    rg.add_argument("--json", action="store_true", help="print one JSON document")
    rg.set_defaults(handler=_run_regimes, render=_render_generic)

    px = benches.add_parser(
        "proxies",
        help="the label model on generated sets shaped like WRENCH's, beside majority vote",
        description=(
            "For sets shaped like WRENCH's SMS, AG News, TREC and SemEval (classes, LFs, "
            "events to learn from, the source corpus's class shares) at four shapes of "
            "one-class LF, learn each stream once and score held-out events against "
            "majority vote."
        ),
    )
    px.add_argument("--seeds", type=_positive_int, default=8, metavar="S", help="default: 8")
    px.add_argument(
        "--proxy",
        dest="proxies",
        action="append",
        choices=list(PROXY_NAMES),
        metavar="NAME",
        help=f"one of {', '.join(PROXY_NAMES)} (repeatable); default: all",
    )
    px.add_argument("--json", action="store_true", help="print one JSON document")
    px.set_defaults(handler=_run_proxies, render=_render_proxies)

    sh = benches.add_parser(
        "shapes",
        help="the label model on streams of random shape, beside majority vote",
        description=(
            "Draw streams whose whole shape is random (classes, LFs, balance, LF kinds and "
            "quality, copies, a per-event firing intensity), learn each once, score "
            "held-out events against majority vote and the model without its intensity "
            "guard."
        ),
    )
    sh.add_argument("--streams", type=_positive_int, default=150, metavar="N", help="default: 150")
    sh.add_argument(
        "--first", type=_nonnegative_int, default=0, metavar="SEED", help="first seed; default: 0"
    )
    sh.add_argument("--json", action="store_true", help="print one JSON document")
    sh.set_defaults(handler=_run_shapes, render=_render_shapes)

    kw = benches.add_parser(
        "keywords",
        help="label models on real YouTube comments with keyword LFs chosen from one video",
        description=(
            "For each UCI YouTube video in turn, choose keyword LFs from its labelled "
            "comments (frequent words mostly of one class), apply them to the other four "
            "videos' comments, learn each label model once without gold and score it "
            "against majority vote (and Snorkel when installed)."
        ),
    )
    kw.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="folder holding uci_raw/; default: the shared data folder's youtube/ "
        "(../shared/data beside the repo, or STREAMLABEL_SHARED_DATA)",
    )
    kw.add_argument(
        "--task",
        choices=["spam", "video", "video-spam", "spam-thresholds", "spam-rare"],
        default="spam",
        help="spam (2 classes, LFs chosen on one video), video (5 classes: which video) or "
        "video-spam (10 classes), LFs chosen on a random fifth of all comments; "
        "spam-thresholds: the spam folds with threshold LFs on a comment's length, "
        "capitals, punctuation, author and hour instead of keywords; spam-rare: the spam "
        "folds with the scored spam thinned to a tenth; default: spam",
    )
    kw.add_argument(
        "--seed",
        type=_nonnegative_int,
        default=0,
        help="the random split and order of the multiclass tasks, and the spam spam-rare "
        "keeps; default: 0",
    )
    kw.add_argument("--no-peers", dest="peers", action="store_false", help="skip Snorkel")
    kw.add_argument("--json", action="store_true", help="print one JSON document")
    kw.set_defaults(handler=_run_keywords, render=_render_keywords)

    dr = benches.add_parser(
        "drift",
        help="the closed loop on a drifting stream (generated fraud, or real YouTube comments)",
        description=(
            "Replay a drifting stream through the streamlabel loop (labeler, drift watch with "
            "late gold, retraining, champion/challenger swaps). fraud (default): the "
            "generated fraud stream through a static label model and end model, the loop "
            "and the loop with the analyst's LF set pushes; report label and serving "
            "accuracy per window and per phase, detection delays, false alarms, recovery "
            "times and swaps. youtube: the UCI YouTube Spam Collection, videos 1-4 in date "
            "order; report prequential label accuracy per window, video and quarter, drift "
            "events, retraining and swaps, and the served end model on the 250-row Shakira "
            "test split beside majority-vote and gold-label peers and the published figures."
        ),
    )
    dr.add_argument(
        "--dataset",
        choices=("fraud", "youtube"),
        default="fraud",
        help="fraud (generated) or youtube (real, read from --data); default: fraud",
    )
    dr.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="youtube only: folder holding uci_raw/ and wrench/; default: the shared data "
        "folder's youtube/ (../shared/data beside the repo, or STREAMLABEL_SHARED_DATA)",
    )
    dr.add_argument(
        "--events",
        type=_positive_int,
        default=100_000,
        metavar="N",
        help="fraud only (youtube streams its 1,586 comments); default: 100000",
    )
    dr.add_argument("--seed", type=int, default=0, metavar="S", help="fraud only; default: 0")
    dr.add_argument(
        "--prior-weight",
        type=_unit_interval,
        default=1.0,
        metavar="W",
        help="fraud only: prior_weight of the three pipelines' label models; default: 1",
    )
    dr.add_argument(
        "--unanimous-weight",
        type=_unit_interval,
        default=0.0,
        metavar="U",
        help="fraud only: unanimous_weight of the three pipelines' label models; default: 0",
    )
    dr.add_argument(
        "--no-forget-on-drift",
        dest="forget_on_drift",
        action="store_false",
        help="fraud only: drift alarms on an LF do not make the label model re-learn it",
    )
    dr.add_argument("--json", action="store_true", help="print one JSON document")
    dr.set_defaults(handler=_run_drift, render=_render_drift)

    qu = benches.add_parser(
        "quality",
        help="the label-free accuracy estimate of emitted labels against the truth",
        description=(
            "Label the generated drifting fraud stream (LF set v1 and the analyst's pushes) "
            "and estimate the labels' accuracy from their posteriors calibrated by late gold "
            "(LabelQuality), before any gold of the scored events exists; report the "
            "estimate, the raw mean confidence and the true accuracy per window and phase."
        ),
    )
    qu.add_argument(
        "--events", type=_positive_int, default=100_000, metavar="N", help="default: 100000"
    )
    qu.add_argument("--seed", type=int, default=0, metavar="S", help="default: 0")
    qu.add_argument(
        "--gold-every",
        type=_positive_int,
        default=5,
        metavar="G",
        help="one event in G gets a late gold label; default: 5",
    )
    qu.add_argument("--json", action="store_true", help="print one JSON document")
    qu.set_defaults(handler=_run_quality, render=_render_generic)

    dc = benches.add_parser(
        "driftcost",
        help="what drift watching adds to the labeler's time per event (in-process)",
        description=(
            "Label the generated fraud stream with Labeler.process_many alone, with a "
            "DriftWatch feeding its detectors every value and with the default (chunked) "
            "DriftWatch, side by side in one run; report µs per event and the ratios."
        ),
    )
    dc.add_argument(
        "--events", type=_positive_int, default=20_000, metavar="N", help="default: 20000"
    )
    dc.add_argument("--seed", type=int, default=0, metavar="S", help="default: 0")
    dc.add_argument(
        "--lfset", type=int, choices=(1, 2, 3, 4), default=4, metavar="V", help="default: 4"
    )
    dc.add_argument("--batch", type=_positive_int, default=500, metavar="B", help="default: 500")
    dc.add_argument("--repeats", type=_positive_int, default=3, metavar="R", help="default: 3")
    dc.add_argument("--json", action="store_true", help="print one JSON document")
    dc.set_defaults(handler=_run_driftcost, render=_render_generic)

    st = benches.add_parser(
        "stream",
        help="the labeler service end to end on Kafka: throughput, latency, crash test",
        description=(
            "Produce generated events (a few percent malformed) to a broker, run labeler "
            "workers, account for every event (label or DLQ) and report throughput, "
            "end-to-end latency and the broker's own kafka-python ceiling."
        ),
    )
    st.add_argument(
        "--events", type=_positive_int, default=20_000, metavar="N", help="default: 20000"
    )
    st.add_argument("--workers", type=_positive_int, default=1, metavar="W", help="default: 1")
    st.add_argument(
        "--crash-after",
        type=_positive_int,
        default=None,
        metavar="K",
        help="SIGKILL a worker after K labels and start a replacement",
    )
    st.add_argument(
        "--rate", type=float, default=None, metavar="R", help="events/s (default: full speed)"
    )
    st.add_argument(
        "--brokers",
        default=None,
        metavar="HOST:PORT",
        help="broker to use (default: start a temporary local broker)",
    )
    st.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="default: 120 seconds"
    )
    st.add_argument("--seed", type=int, default=0, metavar="S", help="default: 0")
    st.add_argument(
        "--backlog",
        action="store_true",
        help="produce every event first, then time the workers on the backlog",
    )
    st.add_argument(
        "--no-drift",
        dest="drift",
        action="store_false",
        help="run the workers without their DriftWatch (drift_enabled=false; default: on)",
    )
    st.add_argument("--json", action="store_true", help="print one JSON document")
    st.set_defaults(handler=_run_stream, render=_render_generic)

    rb = benches.add_parser(
        "replay",
        help="replay throughput against the live labeler's, on Kafka, in the same run",
        description=(
            "Produce N fraud-stream events to a broker, label them with a labeler worker "
            "(LF set v1), push v2, stop the worker and replay the whole range with v2 "
            "(streamlabel replay's code path); report both throughputs and their ratio."
        ),
    )
    rb.add_argument(
        "--events", type=_positive_int, default=50_000, metavar="N", help="default: 50000"
    )
    rb.add_argument(
        "--batch-size", type=_positive_int, default=2_000, metavar="B", help="default: 2000"
    )
    rb.add_argument(
        "--brokers",
        default=None,
        metavar="HOST:PORT",
        help="broker to use (default: start a temporary local broker)",
    )
    rb.add_argument("--seed", type=int, default=0, metavar="S", help="default: 0")
    rb.add_argument("--json", action="store_true", help="print one JSON document")
    rb.set_defaults(handler=_run_bench_replay, render=_render_generic)

    demo = commands.add_parser(
        "demo",
        help="the whole pipeline in one process on a drifting fraud stream, with a status page",
        description=(
            "Run the full pipeline in one process, no external services: the generated "
            "drifting fraud stream is labeled with LF set v1, drifts, the analyst pushes "
            "v2-v4, the end model is retrained and hot-swapped. A progress bar and a live "
            "summary go to stderr; the status page, /status.json and /metrics are served on "
            "127.0.0.1 while it runs (URL printed); a summary table ends it. With --kafka "
            "the same runs against a Kafka broker."
        ),
    )
    demo.add_argument(
        "--events", type=_positive_int, default=30_000, metavar="N", help="default: 30000"
    )
    demo.add_argument(
        "--speed",
        type=float,
        default=0.0,
        metavar="EV/S",
        help="events per second, to watch it (default: 0 = as fast as it goes)",
    )
    demo.add_argument("--seed", type=int, default=0, metavar="S", help="default: 0")
    demo.add_argument(
        "--port", type=int, default=0, metavar="P", help="status server port (default: 0 = free)"
    )
    demo.add_argument("--no-serve", action="store_true", help="run without the status server")
    demo.add_argument(
        "--linger",
        type=float,
        default=0.0,
        metavar="S",
        help="keep serving the final status this many seconds after the run (default: 0)",
    )
    demo.add_argument("--kafka", action="store_true", help="run against a Kafka broker")
    demo.add_argument(
        "--brokers",
        default=None,
        help="with --kafka: default $STREAMLABEL_BROKERS or 127.0.0.1:9092",
    )
    demo.add_argument(
        "--prefix", default=None, help="with --kafka: topic prefix (default: a fresh one)"
    )
    demo.add_argument("--json", action="store_true", help="print one JSON document")
    demo.set_defaults(handler=_run_demo, render=_render_demo)

    _add_dev(commands)
    _add_run(commands)
    _add_aggregate(commands)
    _add_predict(commands)
    _add_train(commands)
    _add_trace(commands)
    from streamlabel.cli._control import add_models_commands
    from streamlabel.cli._lf import add_lf_commands
    from streamlabel.cli._replay import add_replay_command

    add_lf_commands(commands)
    add_models_commands(commands)
    add_replay_command(commands)
    _add_api(commands)
    return parser


def _add_dev(commands: Any) -> None:
    """``streamlabel dev kafka up|down|status|logs``."""
    dev = commands.add_parser(
        "dev", help="development tools (a local Kafka broker)", description="Development tools."
    )
    tools = dev.add_subparsers(dest="tool", metavar="TOOL", required=True)
    kafka = tools.add_parser(
        "kafka",
        help="a local single-node Apache Kafka broker (needs Java 17+ and Maven)",
        description=(
            "Run the official Apache Kafka broker (version pinned in deploy/kafka/pom.xml, "
            "jars fetched by Maven) in KRaft mode on 127.0.0.1, data under var/kafka."
        ),
    )
    verbs = kafka.add_subparsers(dest="verb", metavar="VERB", required=True)
    data_dir = {"metavar": "DIR", "help": "broker data folder; default: <repository>/var/kafka"}

    up = verbs.add_parser(
        "up",
        help="start the broker and wait until it answers",
        description="Start the broker (if not running) and wait until it answers metadata.",
    )
    up.add_argument("--port", type=_port, default=9092, metavar="P", help="default: 9092")
    up.add_argument(
        "--controller-port", type=_port, default=None, metavar="P", help="default: port + 1"
    )
    up.add_argument("--data-dir", **data_dir)
    up.add_argument(
        "--timeout", type=_positive_int, default=60, metavar="S", help="seconds; default: 60"
    )
    up.set_defaults(handler=_run_kafka_up, render=_render_kafka_status, json=False)

    down = verbs.add_parser("down", help="stop the broker", description="Stop the broker.")
    down.add_argument("--data-dir", **data_dir)
    down.add_argument(
        "--timeout",
        type=_positive_int,
        default=30,
        metavar="S",
        help="seconds before SIGKILL; default: 30",
    )
    down.set_defaults(handler=_run_kafka_down, render=_render_kafka_down, json=False)

    status = verbs.add_parser("status", help="is it running, where", description="Broker status.")
    status.add_argument("--data-dir", **data_dir)
    status.add_argument("--json", action="store_true", help="print one JSON document")
    status.set_defaults(handler=_run_kafka_status, render=_render_kafka_status)

    logs = verbs.add_parser("logs", help="the broker's last log lines", description="Broker log.")
    logs.add_argument("--data-dir", **data_dir)
    logs.add_argument(
        "-n", "--lines", type=_positive_int, default=50, metavar="N", help="default: 50"
    )
    logs.set_defaults(handler=_run_kafka_logs, render=lambda r: r["text"], json=False)


def _run_labelmodel(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.bench._labelmodel import bench_labelmodel

    return bench_labelmodel(args.wrench, peers=args.peers)


def _run_lmspeed(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.bench._speed import bench_lmspeed

    return bench_lmspeed(
        args.events,
        args.lfs,
        args.classes,
        unipolar=args.unipolar,
        repeats=args.repeats,
        peers=args.peers,
    )


def _run_regimes(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.bench._regimes import bench_regimes

    return bench_regimes(seeds=tuple(range(args.seeds)), peers=args.peers)


def _run_proxies(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.bench._proxies import bench_proxies

    return bench_proxies(seeds=args.seeds, proxies=args.proxies or PROXY_NAMES)


def _render_proxies(result: Mapping[str, Any]) -> str:
    """Per proxy and shape: the model minus majority vote, in points.

    Examples
    --------
    >>> row = {"mean_points": -0.25, "worst_points": -1.0, "below_by_0.1_points": 3}
    >>> vs = {"vs MajorityVote": {"accuracy": row, "macro_f1": row}}
    >>> print(_render_proxies({"seeds": 8, "proxies": {"sms": {"shapes": {"s1": vs}}},
    ...                        "summary": {"sms": vs}}))
    proxy    shape                        accuracy                 macro-F1
    sms      s1                           -0.25 / -1.00 / 3        -0.25 / -1.00 / 3
    sms      all shapes                   -0.25 / -1.00 / 3        -0.25 / -1.00 / 3
    model minus MajorityVote, points: mean / worst / streams more than 0.1 below (of 8 per shape)
    """
    lines = [f"{'proxy':<8} {'shape':<28} {'accuracy':<24} macro-F1"]
    for name, proxy in result["proxies"].items():
        rows = [*proxy["shapes"].items(), ("all shapes", result["summary"][name])]
        for shape, per_base in rows:
            gaps = per_base["vs MajorityVote"]
            acc, macro = (
                f"{gaps[m]['mean_points']:+.2f} / {gaps[m]['worst_points']:+.2f} / "
                f"{gaps[m]['below_by_0.1_points']}"
                for m in ("accuracy", "macro_f1")
            )
            lines.append(f"{name:<8} {shape:<28} {acc:<24} {macro}")
    lines.append(
        "model minus MajorityVote, points: mean / worst / streams more than 0.1 below "
        f"(of {result['seeds']} per shape)"
    )
    return "\n".join(lines)


def _run_shapes(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.bench._shapes import bench_shapes

    return bench_shapes(seeds=range(args.first, args.first + args.streams))


def _render_shapes(result: Mapping[str, Any]) -> str:
    """Per group of streams: the model minus each baseline, in points.

    Examples
    --------
    >>> row = {"mean_points": 0.5, "worst_points": -1.25, "below_by_0.1_points": 2}
    >>> print(_render_shapes({"summary": {"all": {"vs MajorityVote": {
    ...     "n": 9, "accuracy": row, "macro_f1": row}}}}))
    streams           baseline        accuracy mean / worst / below    macro-F1 mean / worst / below
    all (9)           MajorityVote    +0.50 / -1.25 / 2                +0.50 / -1.25 / 2
    """
    lines = [
        f"{'streams':<17} {'baseline':<15} {'accuracy mean / worst / below':<32} "
        "macro-F1 mean / worst / below"
    ]
    for group, per_base in result["summary"].items():
        for base, row in per_base.items():
            cells = [
                f"{row[m]['mean_points']:+.2f} / {row[m]['worst_points']:+.2f} / "
                f"{row[m]['below_by_0.1_points']}"
                for m in ("accuracy", "macro_f1")
            ]
            name = f"{group} ({row['n']})"
            lines.append(f"{name:<17} {base.removeprefix('vs '):<15} {cells[0]:<32} {cells[1]}")
    return "\n".join(lines)


def _run_keywords(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.bench._keywords import bench_keywords

    # No data folder: exit 2.
    return bench_keywords(args.data, peers=args.peers, task=args.task, seed=args.seed)


def _render_keywords(result: Mapping[str, Any]) -> str:
    """Mean accuracy (on covered comments) per setting and model, then each minus MV's.

    Examples
    --------
    >>> acc = {"accuracy": 0.61, "macro_f1": 0.6, "covered_accuracy": 0.75}
    >>> vs = {"mean_points": 1.5, "worst_points": -2.0, "below_by_0.1_points": 1}
    >>> print(_render_keywords({"settings": [{"lfs_per_class": 5, "precision": 0.8,
    ...     "models": {"A": acc, "MajorityVote": acc}}],
    ...     "summary": {"folds": 5, "A vs MajorityVote": {
    ...         "accuracy": vs, "covered_accuracy": vs, "macro_f1": vs}}}))
    accuracy (on covered comments)
    LFs/class  precision  A              MajorityVote
    5          0.80       0.610 (0.750)  0.610 (0.750)
    <BLANKLINE>
    minus MajorityVote over 5 folds: accuracy | covered comments | macro-F1 (mean / worst / below)
    A: +1.50 / -2.00 / 1 | +1.50 / -2.00 / 1 | +1.50 / -2.00 / 1

    A report saved before macro-F1 was summarised shows a dash there:

    >>> old = {"settings": [], "summary": {"folds": 5, "A vs MajorityVote": {
    ...     "accuracy": vs, "covered_accuracy": vs}}}
    >>> print(_render_keywords(old).splitlines()[-1])
    A: +1.50 / -2.00 / 1 | +1.50 / -2.00 / 1 | -
    """
    from streamlabel.bench._keywords import _model_names

    names = _model_names(result["settings"])  # settings carry "models" as folds do
    widths = [max(len(n), 13) for n in names]
    head = [f"{'LFs/class':<9}", f"{'precision':<9}"] + [
        f"{n:<{w}}" for n, w in zip(names, widths, strict=True)
    ]
    lines = ["accuracy (on covered comments)", "  ".join(head).rstrip()]
    for s in result["settings"]:
        cells = [
            f"{_num(s['models'], n, 'accuracy')} ({_num(s['models'], n, 'covered_accuracy')})"
            for n in names
        ]
        row = [f"{s['lfs_per_class']:<9}", f"{s['precision']:<9.2f}"] + [
            f"{c:<{w}}" for c, w in zip(cells, widths, strict=True)
        ]
        lines.append("  ".join(row).rstrip())
    summary = result["summary"]
    lines += [
        "",
        f"minus MajorityVote over {summary['folds']} folds: accuracy | covered comments "
        "| macro-F1 (mean / worst / below)",
    ]
    for key, rows in summary.items():
        if key == "folds":
            continue
        cells = [
            f"{r['mean_points']:+.2f} / {r['worst_points']:+.2f} / {r['below_by_0.1_points']}"
            if "mean_points" in r
            else "-"
            # A report written before macro-F1 was summarised has none.
            for r in (rows["accuracy"], rows["covered_accuracy"], rows.get("macro_f1", {}))
        ]
        # A peer that ran on fewer folds (Snorkel refuses fewer than 3 LFs) says on how many.
        n = rows["accuracy"].get("folds", summary["folds"])
        fewer = f" (on {n} folds)" if n != summary["folds"] else ""
        lines.append(f"{key.removesuffix(' vs MajorityVote')}{fewer}: " + " | ".join(cells))
    return "\n".join(lines)


def _num(models: Mapping[str, Any], name: str, metric: str) -> str:
    """Format a setting's mean ``metric`` of ``name`` (3 digits; "-" where never scored).

    Examples
    --------
    >>> _num({"A": {"accuracy": 0.5}}, "A", "accuracy"), _num({}, "A", "accuracy")
    ('0.500', '-')
    """
    value = models.get(name, {}).get(metric)
    return "-" if value is None else f"{value:.3f}"


def _run_drift(args: argparse.Namespace) -> dict[str, Any]:
    if args.dataset == "youtube":
        from streamlabel.bench._youtube import bench_drift_youtube

        return bench_drift_youtube(args.data)  # no data folder: FileNotFoundError, exit 2
    if args.data is not None:
        raise _CommandError("--data applies to --dataset youtube only")
    from streamlabel.bench._drift import bench_drift

    return bench_drift(
        n_events=args.events,
        seed=args.seed,
        prior_weight=args.prior_weight,
        unanimous_weight=args.unanimous_weight,
        forget_on_drift=args.forget_on_drift,
    )


def _run_quality(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.bench._quality import bench_quality

    return bench_quality(n_events=args.events, seed=args.seed, gold_every=args.gold_every)


def _run_driftcost(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.bench._driftcost import bench_driftcost

    return bench_driftcost(
        args.events,
        seed=args.seed,
        lfset_version=args.lfset,
        batch_size=args.batch,
        repeats=args.repeats,
    )


def _run_demo(args: argparse.Namespace) -> dict[str, Any]:
    if args.speed < 0 or args.linger < 0:
        raise ValueError("--speed and --linger must be >= 0")
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must lie in 0..65535, got {args.port}")
    if args.kafka:
        from streamlabel.cli._demo_kafka import run_kafka_demo

        return run_kafka_demo(
            n_events=args.events,
            seed=args.seed,
            brokers=args.brokers,
            prefix=args.prefix,
            speed=args.speed or None,
            port=None if args.no_serve else args.port,
            linger=args.linger,
        )
    from streamlabel.cli._demo import run_demo

    return run_demo(
        n_events=args.events,
        seed=args.seed,
        speed=args.speed or None,
        port=None if args.no_serve else args.port,
        linger=args.linger,
    )


def _render_demo(report: Mapping[str, Any]) -> str:
    from streamlabel.cli._demo import render_demo

    return render_demo(report)


def _run_apply(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.bench._apply import bench_apply

    return bench_apply(n_events=args.events, seed=args.seed, repeats=args.repeats)


def _run_stream(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.bench._stream import bench_stream

    return bench_stream(
        args.brokers,
        n_events=args.events,
        workers=args.workers,
        crash_after=args.crash_after,
        rate=args.rate,
        timeout=args.timeout,
        seed=args.seed,
        backlog=args.backlog,
        drift=args.drift,
    )


def _run_bench_replay(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.bench._replay import bench_replay

    return bench_replay(
        args.brokers, n_events=args.events, seed=args.seed, batch_size=args.batch_size
    )


def _local_kafka(args: argparse.Namespace, **settings: Any) -> Any:
    from streamlabel.dev import KafkaDevError, LocalKafka

    try:
        return LocalKafka(data_dir=args.data_dir, **settings)
    except KafkaDevError as exc:
        raise _CommandError(str(exc)) from None


def _run_kafka_up(args: argparse.Namespace) -> dict[str, Any]:
    import logging
    import shlex

    from streamlabel.dev import KafkaDevError

    broker = _local_kafka(args, port=args.port, controller_port=args.controller_port)
    progress = logging.StreamHandler(sys.stderr)
    progress.setFormatter(logging.Formatter("streamlabel: %(message)s"))
    dev_logger = logging.getLogger("streamlabel.dev")
    dev_logger.addHandler(progress)
    dev_logger.setLevel(logging.INFO)
    logging.getLogger("kafka").setLevel(logging.ERROR)  # retries while it starts are expected
    try:
        broker.up(timeout=args.timeout)
    except KafkaDevError as exc:
        raise _CommandError(str(exc)) from None
    finally:
        dev_logger.removeHandler(progress)
    status: dict[str, Any] = broker.status()
    status["stop"] = "streamlabel dev kafka down" + (
        f" --data-dir {shlex.quote(args.data_dir)}" if args.data_dir else ""
    )
    return status


def _run_kafka_down(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.dev import KafkaDevError

    broker = _local_kafka(args)
    try:
        stopped = broker.down(timeout=args.timeout)
    except KafkaDevError as exc:
        raise _CommandError(str(exc)) from None
    return {"stopped": stopped, "data_dir": str(broker.data_dir)}


def _run_kafka_status(args: argparse.Namespace) -> dict[str, Any]:
    status: dict[str, Any] = _local_kafka(args).status()
    return status


def _run_kafka_logs(args: argparse.Namespace) -> dict[str, Any]:
    broker = _local_kafka(args)
    text = broker.logs(args.lines)
    return {"text": text or f"(no broker log yet at {broker.log_file})"}


def _render_kafka_status(status: Mapping[str, Any]) -> str:
    """Readable broker status.

    Examples
    --------
    >>> print(_render_kafka_status({"running": False, "version": "4.1.1",
    ...                             "data_dir": "/d", "log": "/d/logs/kafka.out"}))
    Kafka 4.1.1: not running (data /d)
    """
    if not status["running"]:
        return f"Kafka {status['version']}: not running (data {status['data_dir']})"
    state = "listening on" if status["listening"] else "started, not answering on"
    return "\n".join(
        [
            f"Kafka {status['version']} {state} {status['bootstrap']} (pid {status['pid']})",
            f"data: {status['data_dir']}",
            f"log:  {status['log']}",
            *([f"stop: {status['stop']}"] if "stop" in status else []),
        ]
    )


def _render_kafka_down(result: Mapping[str, Any]) -> str:
    return (
        f"Kafka stopped (data {result['data_dir']})"
        if result["stopped"]
        else f"Kafka was not running (data {result['data_dir']})"
    )


def _add_run(commands: Any) -> None:
    """``streamlabel run``: one labeler worker."""
    run = commands.add_parser(
        "run",
        help="run a labeler worker against Kafka (events -> labels, review, dlq)",
        description=(
            "Run one labeler worker: create the topics if missing, start with the newest "
            "valid version of the LF set on the lfsets topic (else --lfset-file), then label "
            "events until SIGTERM/SIGINT. Settings come from STREAMLABEL_* variables; the "
            "flags override them."
        ),
    )
    _add_stream_options(run)
    _add_metrics_option(run, 9101)
    run.add_argument("--lfset", metavar="NAME", help="LF set to serve; default: $STREAMLABEL_LFSET")
    run.add_argument(
        "--lfset-file",
        metavar="FILE",
        help="LF set (YAML/JSON) used until one is on lfsets; default: $STREAMLABEL_LFSET_FILE",
    )
    run.set_defaults(handler=_run_labeler, render=_render_generic, json=False)


def _add_stream_options(parser: Any) -> None:
    """Add the options ``run`` and ``aggregate`` share (they override STREAMLABEL_*)."""
    parser.add_argument(
        "--brokers",
        metavar="HOST:PORT[,...]",
        help="default: $STREAMLABEL_BROKERS or 127.0.0.1:9092",
    )
    parser.add_argument(
        "--prefix", metavar="P", help="topic name prefix; default: $STREAMLABEL_TOPIC_PREFIX"
    )
    parser.add_argument("--loglevel", default="warning", metavar="LEVEL", help="default: warning")


def _port_or_zero(text: str) -> int:
    return 0 if text.strip() == "0" else _port(text)


def _add_metrics_option(parser: Any, port: int) -> None:
    """Add ``--metrics-port`` (overrides STREAMLABEL_METRICS_PORT) to a service command."""
    parser.add_argument(
        "--metrics-port",
        type=_port_or_zero,
        metavar="PORT",
        help=f"/metrics port; $STREAMLABEL_METRICS_PORT or {port}; 0: a free port (logged)",
    )


def _add_aggregate(commands: Any) -> None:
    agg = commands.add_parser(
        "aggregate",
        help="merge every labeler worker's label-model statistics into shared parameters",
        description=(
            "Follow labelmodel-stats, merge the latest statistics of every worker of the "
            "labeler group and publish the merged model to labelmodel-params (which every "
            "worker predicts with) at most every STREAMLABEL_PARAMS_INTERVAL seconds, until "
            "SIGTERM/SIGINT. Run one per labeler group."
        ),
    )
    _add_stream_options(agg)
    _add_metrics_option(agg, 9102)
    agg.set_defaults(handler=_run_aggregate, render=_render_generic, json=False)


def _add_train(commands: Any) -> None:
    train = commands.add_parser(
        "train",
        help="retrain the end model on recent labels; publish champions to the models topic",
        description=(
            "Follow events, labels and feedback (consumer group <group>-trainer) into a "
            "window of recent labeled events; every STREAMLABEL_TRAIN_EVERY labeled events "
            "and on retraining requests from the drift topic, fit a challenger, compare it "
            "with the champion on a holdout, register it and, if better, publish it to the "
            "compacted models topic. Needs the end model's features "
            "(STREAMLABEL_FEATURE_TEXT / _NUMERIC / _CATEGORICAL). Runs until SIGTERM/SIGINT."
        ),
    )
    _add_stream_options(train)
    _add_metrics_option(train, 9103)
    train.add_argument(
        "--model-name", metavar="NAME", help="key on models; default: $STREAMLABEL_MODEL_NAME"
    )
    train.add_argument(
        "--registry-dir",
        metavar="DIR",
        help="model registry folder; default: $STREAMLABEL_REGISTRY_DIR or streamlabel-registry",
    )
    train.set_defaults(handler=_run_train, render=_render_generic, json=False)


def _run_train(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.stream import StartupError
    from streamlabel.stream._trainer import serve_trainer

    try:
        serve_trainer(run_settings(args), loglevel=args.loglevel)  # exits when stopped
    except StartupError as exc:
        raise _CommandError(str(exc)) from None
    return {"stopped": True}


def _add_trace(commands: Any) -> None:
    """``streamlabel trace EVENT_ID``: one event's audit chain from the topics."""
    tr = commands.add_parser(
        "trace",
        help="show one event's chain: source, LF votes, posterior, revisions, predictions, gold",
        description=(
            "Read every retained record keyed by EVENT_ID (labels, review, revisions, "
            "predictions, feedback: one partition of each, outside any consumer group) and "
            "the event at the source its label names, and print the chain. Exit 2 when "
            "nothing is found."
        ),
    )
    tr.add_argument("event_id", metavar="EVENT_ID")
    tr.add_argument("--timeout", type=float, default=30.0, metavar="S", help="default: 30")
    tr.add_argument("--json", action="store_true", help="print one JSON document")
    _add_stream_options(tr)
    tr.set_defaults(handler=_run_trace, render=_render_trace)


def _run_trace(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.stream._trace import read_trace

    trace = read_trace(run_settings(args), args.event_id, timeout=args.timeout)
    if not trace.found:
        raise _CommandError(f"no retained record of event {args.event_id!r}")
    return trace.to_dict()


def _render_trace(result: Mapping[str, Any]) -> str:
    from streamlabel.pipeline import Trace, TraceRecord

    def recs(key: str) -> tuple[TraceRecord, ...]:
        return tuple(TraceRecord(**r) for r in result[key])

    event = result["event"]
    return Trace(
        result["event_id"],
        None if event is None else TraceRecord(**event),
        recs("labels"),
        recs("revisions"),
        recs("predictions"),
        recs("feedback"),
        recs("review"),
    ).render()


def _run_aggregate(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.stream._aggregator import serve_aggregator

    serve_aggregator(run_settings(args), loglevel=args.loglevel)  # exits when stopped
    return {"stopped": True}


def _add_predict(commands: Any) -> None:
    """``streamlabel predict``: the predictor service."""
    pr = commands.add_parser(
        "predict",
        help="serve the champion model of the models topic: events -> predictions, HTTP",
        description=(
            "Run the predictor: follow the compacted models topic for the champion of "
            "--model (hot-swapped once verified), predict every event into predictions "
            "(invalid ones to dlq) in the predictor's own consumer group, and answer "
            "POST /predict, GET /healthz, /readyz and /model over HTTP. Events are not read "
            "before a model serves. Settings come from STREAMLABEL_* variables; the flags "
            "override them."
        ),
    )
    _add_stream_options(pr)
    pr.add_argument("--model", metavar="NAME", help="model to serve; $STREAMLABEL_PREDICTOR_MODEL")
    pr.add_argument(
        "--shadow",
        metavar="NAME",
        help="model scored alongside, not served; $STREAMLABEL_PREDICTOR_SHADOW",
    )
    pr.add_argument(
        "--host", metavar="ADDR", help="HTTP address; $STREAMLABEL_PREDICTOR_HOST or 127.0.0.1"
    )
    pr.add_argument(
        "--port", type=_port, metavar="PORT", help="HTTP port; $STREAMLABEL_PREDICTOR_PORT or 8080"
    )
    pr.add_argument(
        "--model-wait",
        metavar="SECONDS",
        help="exit (status 2) if no model serves within this; 0 waits forever (default)",
    )
    pr.set_defaults(handler=_run_predictor, render=_render_generic, json=False)


def _add_api(commands: Any) -> None:
    """``streamlabel api``: the control API."""
    api = commands.add_parser(
        "api",
        help="serve the control API (LF sets, analysis, drift, models) over HTTP",
        description=(
            "Serve the HTTP control API over the Kafka topics: push, list, diff and roll "
            "back LF sets; read LF analysis, label-model parameters, drift events and "
            "model versions; promote and roll back models. Writes need a bearer token "
            "(STREAMLABEL_API_TOKENS=name:token:role,...; roles read, write). Settings come "
            "from STREAMLABEL_* and STREAMLABEL_API_* variables; the flags override them. "
            "OpenAPI schema at /openapi.json."
        ),
    )
    _add_stream_options(api)
    api.add_argument("--host", metavar="ADDR", help="default: $STREAMLABEL_API_HOST or 127.0.0.1")
    api.add_argument(
        "--port", type=_port, metavar="PORT", help="default: $STREAMLABEL_API_PORT or 8090"
    )
    api.set_defaults(handler=_run_api, render=_render_generic, json=False)


def _run_api(args: argparse.Namespace) -> dict[str, Any]:
    import os

    from pydantic import ValidationError

    from streamlabel.api import ApiSettings, TokenError, serve_api

    env = dict(os.environ)
    for flag, name in (("host", "HOST"), ("port", "PORT")):
        value = getattr(args, flag)
        if value is not None:
            env["STREAMLABEL_API_" + name] = str(value)
    try:
        settings = ApiSettings.from_env(environ=env)
        serve_api(settings, run_settings(args), loglevel=args.loglevel)
    except (TokenError, ValidationError) as exc:
        raise _CommandError(str(exc)) from None
    return {"stopped": True}


def _run_predictor(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.stream import StartupError
    from streamlabel.stream._predictor import serve_predictor

    try:
        serve_predictor(run_settings(args), loglevel=args.loglevel)  # exits when stopped
    except StartupError as exc:
        raise _CommandError(str(exc)) from None
    return {"stopped": True}


def run_settings(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Any:
    """``StreamSettings`` of ``streamlabel run``: the environment, overridden by the flags.

    Examples
    --------
    >>> args = build_parser().parse_args(["run", "--brokers", "h:1", "--lfset", "fraud"])
    >>> s = run_settings(args, environ={"STREAMLABEL_TOPIC_PREFIX": "x.", "STREAMLABEL_LFSET": "y"})
    >>> s.brokers, s.topic_prefix, s.lfset, s.lfset_file, s.metrics_port
    (['h:1'], 'x.', 'fraud', None, None)
    >>> run_settings(build_parser().parse_args(["run", "--metrics-port", "0"]), {}).metrics_port
    0
    >>> args = build_parser().parse_args(["predict", "--model", "fraud", "--port", "9000"])
    >>> s = run_settings(args, environ={"STREAMLABEL_PREDICTOR_SHADOW": "fraud-next"})
    >>> s.predictor_model, s.predictor_shadow, s.predictor_host, s.predictor_port
    ('fraud', 'fraud-next', '127.0.0.1', 9000)
    """
    import os

    from streamlabel.stream import StreamSettings

    env = dict(os.environ if environ is None else environ)
    for flag, name in (
        ("brokers", "BROKERS"),
        ("prefix", "TOPIC_PREFIX"),
        ("lfset", "LFSET"),
        ("lfset_file", "LFSET_FILE"),
        ("model", "PREDICTOR_MODEL"),
        ("shadow", "PREDICTOR_SHADOW"),
        ("host", "PREDICTOR_HOST"),
        ("port", "PREDICTOR_PORT"),
        ("model_wait", "PREDICTOR_MODEL_WAIT"),
        ("model_name", "MODEL_NAME"),
        ("registry_dir", "REGISTRY_DIR"),
        ("metrics_port", "METRICS_PORT"),
    ):
        value = getattr(args, flag, None)  # each command has its own subset of flags
        if value is not None:
            env["STREAMLABEL_" + name] = str(value)
    return StreamSettings.from_env(environ=env)


def _run_labeler(args: argparse.Namespace) -> dict[str, Any]:
    from streamlabel.stream import StartupError
    from streamlabel.stream._worker import run_worker

    settings = run_settings(args)
    try:
        run_worker(settings, loglevel=args.loglevel)  # exits the process when it stops
    except StartupError as exc:
        raise _CommandError(str(exc)) from None
    return {"stopped": True}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``streamlabel`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit code: 0 on success, 2 on usage or data errors (message on stderr, no
        traceback), 130 when interrupted.

    Examples
    --------
    >>> main(["--version"])
    streamlabel 0.1.0
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors; main returns, not exits
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)

    handler: _Handler = args.handler
    try:
        # Peers may chatter on stdout; keep stdout for the report alone (one JSON document).
        with contextlib.redirect_stdout(sys.stderr):
            result = handler(args)
    except (FileNotFoundError, NotADirectoryError, ValueError, _CommandError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130

    if args.json:
        print(json.dumps(_finite(result), indent=2, allow_nan=False))
    else:
        render: Callable[[Mapping[str, Any]], str] = args.render
        print(render(result))
    return 0


# --------------------------------------------------------------------------- reports


def _finite(obj: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) by None, recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _fmt(value: Any, digits: int = 4) -> str:
    """Format one cell: thousands separators for big numbers, ``-`` for None.

    Examples
    --------
    >>> [_fmt(None), _fmt(True), _fmt(12345), _fmt(171012.7), _fmt(0.87301), _fmt(0.0485, 3)]
    ['-', 'True', '12,345', '171,013', '0.8730', '0.049']
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}f}"
    return str(value)


def _table(headers: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> str:
    """Align a table (header optional): first column left, the others right.

    Examples
    --------
    >>> print(_table(["model", "acc"], [["a", "0.5"], ["bbb", "0.75"]]))
    model   acc
    a       0.5
    bbb    0.75
    """
    lines = [*([headers] if headers is not None else []), *rows]
    widths = [max(len(r[i]) for r in lines) for i in range(len(lines[0]))]
    out = []
    for r in lines:
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


_LM_COLUMNS = (
    ("accuracy", "acc", 4),
    ("f1_class1", "F1(1)", 4),
    ("macro_f1", "macro-F1", 4),
    ("coverage", "coverage", 4),
    ("learn_seconds", "learn s", 4),
    ("learn_rows_per_s", "learn rows/s", 0),
    ("predict_rows_per_s", "predict rows/s", 0),
)


_VOTE_KINDS = {"majority": "strict majority", "tie": "tie", "no_votes": "no votes"}


def _render_labelmodel(result: Mapping[str, Any]) -> str:
    """Readable report of ``bench labelmodel``."""
    lines = [
        f"bench labelmodel: {result['dataset']} ({result['wrench_dir']})",
        f"train {result['n_train']:,} rows streamed once in chunks of {result['chunk_size']} "
        f"(no gold); test {result['n_test']:,} rows; {result['n_lfs']} LFs; "
        f"{result['cardinality']} classes",
        "",
    ]
    rows = [
        [name] + [_fmt(m.get(key), digits) for key, _, digits in _LM_COLUMNS]
        for name, m in result["models"].items()
    ]
    lines.append(_table(["model", *(title for _, title, _ in _LM_COLUMNS)], rows))
    lines.append("")
    # Where a model departs from majority vote: ties and silent rows get its prior.
    kinds = result.get("rows_by_votes")
    if kinds:
        lines.append("accuracy by the test row's votes (rows):")
        heads = [f"{_VOTE_KINDS.get(kind, kind)} ({n:,})" for kind, n in kinds.items()]
        rows = [
            [name] + [_fmt(m.get("accuracy_by_votes", {}).get(kind), 4) for kind in kinds]
            for name, m in result["models"].items()
        ]
        lines.append(_table(["model", *heads], rows))
        lines.append("")
    peers = result.get("peers", {})
    if "skipped" in peers:
        lines.append(f"peers: skipped: {peers['skipped']}")
    else:
        lines.append(
            f"peers: snorkel {peers.get('snorkel_version')}, ties broken with "
            f"tie_break_policy={peers.get('tie_break_policy')!r}"
        )
    ratio = result.get("ratio")
    if ratio:
        diff = ratio.get("accuracy_minus_snorkel_labelmodel")
        time_ratio = ratio.get("learn_time_vs_snorkel_labelmodel")
        lines.append(
            "OnlineLabelModel vs snorkel LabelModel: accuracy "
            + ("-" if diff is None else f"{diff:+.4f}")
            + ", learn time x"
            + _fmt(time_ratio)
        )
    return "\n".join(lines)


def _render_drift(result: Mapping[str, Any]) -> str:
    """Text report of ``bench drift``: the YouTube run has its own layout."""
    return (
        _render_youtube(result) if result.get("dataset") == "youtube" else _render_generic(result)
    )


def _render_youtube(result: Mapping[str, Any]) -> str:
    """Readable report of ``bench drift --dataset youtube`` (test accuracies in %).

    Examples
    --------
    >>> cell = {"events": 2, "coverage": 1.0, "label_accuracy": 0.5,
    ...         "label_accuracy_covered": 0.5, "serving_accuracy": None}
    >>> r = {"dataset": "youtube", "n_events": 2, "lfset": "y@1", "end_model": "LR",
    ...      "test": {"served": {"version": "v1", "accuracy": 90.0, "macro_f1": 89.9},
    ...               "label_model": 85.0, "always_majority": 52.8,
    ...               "published": {"wrench_mv_lr": 90.72}},
    ...      "prequential": {"label_accuracy": 0.5, "coverage": 1.0},
    ...      "videos": {"Psy": cell}, "phases": {}, "windows": [],
    ...      "loop": {"trainings": [], "drift_events": [], "retrains": []}}
    >>> print(_render_youtube(r))  # doctest: +ELLIPSIS
    youtube comment stream: 2 comments, LF set y@1, end model LR
    <BLANKLINE>
    Shakira test split (accuracy %)
    served (v1)               90.0000
    ...
    """
    test = result["test"]
    lines = [
        f"youtube comment stream: {_fmt(result['n_events'])} comments, LF set "
        f"{result['lfset']}, end model {result['end_model']}",
        "",
        "Shakira test split (accuracy %)",
    ]
    rows = [[f"served ({test['served'].get('version')})", _fmt(test["served"].get("accuracy"))]]
    rows += [[k, _fmt(test[k]["accuracy"])] for k in test if k.startswith("peer_")]
    rows += [["label_model", _fmt(test["label_model"])]]
    rows += [["always_majority", _fmt(test["always_majority"])]]
    rows += [[f"published {k}", _fmt(v)] for k, v in test["published"].items()]
    lines += [
        _table(None, rows),
        "",
        "prequential " + ", ".join(f"{k} {_fmt(v)}" for k, v in result["prequential"].items()),
    ]
    cols = ["events", "coverage", "label_accuracy", "label_accuracy_covered", "serving_accuracy"]
    for title, section in (
        ("video", result["videos"]),
        ("quarter", result["phases"]),
        ("window", {f"{w['start']}-{w['stop']}": w for w in result["windows"]}),
    ):
        if section:
            body = [[name] + [_fmt(cell.get(c)) for c in cols] for name, cell in section.items()]
            lines += ["", _table([title, *cols], body)]
    loop = result["loop"]
    lines += ["", "trainings"]
    for t in loop["trainings"]:
        acc = t.get("test", {}).get("accuracy")
        where = f" -> {t['version']}, test accuracy {_fmt(acc)}" if "version" in t else ""
        lines.append(f"  at {t['at']} ({t['trigger']}): {t['action']}{where}")
    lines += ["drift events"] + [
        f"  {e['index']} {e['monitor']} ({e['video']})" for e in loop["drift_events"]
    ]
    lines += ["retrain requests"] + [f"  {r['index']} {r['reason']}" for r in loop["retrains"]]
    return "\n".join(lines)


def _render_generic(result: Mapping[str, Any]) -> str:
    """Readable report of any flat-ish result dict.

    Scalars print as ``key: value``. Sections that are dicts of scalars print as tables;
    sections with the same keys share one table (e.g. ``rows_per_s`` beside ``seconds``).

    Examples
    --------
    >>> print(_render_generic({"n": 3, "rate": {"a": 1.5, "b": 2.0}, "s": {"a": 0.1, "b": 0.2},
    ...                        "meta": {"ok": True}}))
    n: 3
    <BLANKLINE>
           rate       s
    a    1.5000  0.1000
    b    2.0000  0.2000
    <BLANKLINE>
    meta
    ok  True
    """
    scalars = [f"{k}: {_fmt(v)}" for k, v in result.items() if not isinstance(v, Mapping)]
    groups: dict[tuple[str, ...], list[str]] = {}
    for key, value in result.items():
        if isinstance(value, Mapping):
            groups.setdefault(tuple(value), []).append(key)
    blocks = ["\n".join(scalars)] if scalars else []
    for row_keys, sections in groups.items():
        rows = [[str(rk)] + [_fmt(result[s][rk]) for s in sections] for rk in row_keys]
        if not rows:
            continue
        if len(sections) == 1:  # a lone section reads better titled above its rows
            blocks.append(f"{sections[0]}\n{_table(None, rows)}")
        else:
            blocks.append(_table(["", *sections], rows))
    return "\n\n".join(blocks)
