"""Run one labeler worker: ``python -m streamlabel.stream._worker [--loglevel LEVEL]``.

Settings come from ``STREAMLABEL_*`` environment variables
(:meth:`~streamlabel.stream.StreamSettings.from_env`); ``streamlabel run`` calls
:func:`run_worker` with the same settings plus its flags. The topics are created if
missing, the LF set to start with is chosen (:func:`~streamlabel.stream.prepare_labeler`:
the newest valid version on ``lfsets``, else ``lfset_file``, else the worker refuses to
start, exit status 2) with the consumer group's latest label-model snapshot if any, then a
``faust.Worker`` runs the app from :func:`~streamlabel.stream.create_app` until SIGTERM or
SIGINT, which stop it gracefully (offsets committed, group left); a last label-model
snapshot is published and the exit status is then 0.

``--handler echo`` runs the adapter's stand-in handler instead (no LF set needed).

The options avoid ``-L`` and ``--datadir``: ``import faust`` reads those from ``sys.argv``.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, Literal, cast

from streamlabel.stream._app import create_app, ensure_topics
from streamlabel.stream._logs import quiet_kafka_close_race
from streamlabel.stream._service import (
    LabelerHandler,
    StartupError,
    prepare_labeler,
    publish_snapshot,
    service_metrics,
)
from streamlabel.stream._settings import StreamSettings

__all__ = ["main", "run_worker"]

logger = logging.getLogger("streamlabel.stream")


def run_worker(
    settings: StreamSettings,
    *,
    handler: Literal["labeler", "echo"] = "labeler",
    loglevel: str = "warning",
    create_topics: bool = True,
) -> None:
    """Create the topics, prepare the labeler and run a Faust worker until it is stopped.

    Parameters
    ----------
    settings : StreamSettings
        All settings of the worker.
    handler : {"labeler", "echo"}, default="labeler"
        The events handler: the labeler service, or the adapter's echo stand-in.
    loglevel : str, default="warning"
        Faust's and the worker's log level.
    create_topics : bool, default=True
        Whether missing topics are created first (:func:`ensure_topics`).

    Raises
    ------
    StartupError
        Before Faust starts: no LF set to serve (see
        :func:`~streamlabel.stream.prepare_labeler`).
    SystemExit
        Otherwise always: Faust's worker exits the process when it stops.
    """
    started = time.monotonic()
    # The worker allocates a few short-lived objects per event while holding a large,
    # long-lived heap (the feedback cache, the LF set): with CPython's default gen-0
    # threshold (700) collections ran every few events and took ~40% of the time at
    # 5k events/s. Collect young objects every 50,000 allocations instead.
    gc.set_threshold(50_000, 50, 100)
    quiet_kafka_close_race()  # a filter on kafka-python's logger: faust's set-up keeps it
    if create_topics:
        created = ensure_topics(settings)
        if created:
            logger.warning("created topics %s", ", ".join(created))
    labeler: LabelerHandler | None = None
    server = None
    if handler == "labeler":
        start = prepare_labeler(settings)
        labeler = start.handler
        lfset = start.handler.labeler.lfset
        metrics, server = service_metrics(settings, "labeler", label_names=lfset.label_names)
        labeler.metrics = metrics
        ready_note = f"; LF set {lfset.name!r} version {lfset.version!r} from {start.origin}"
        ready_note += (
            f"; label model {start.restored} from a snapshot"
            if start.restored is not None
            else "; fresh label model"
        )
        app = create_app(
            settings,
            start.handler,
            on_feedback=start.handler.on_feedback,
            on_lfset=start.handler.offer_lfset,
            lfsets_from=start.lfsets_from,
            started=started,
            on_params=start.handler.offer_params,
            params_from=start.params_from,
            feedback_from=start.feedback_from,
            metrics=metrics,
            on_candidate=start.handler.offer_candidate,
            candidates_from=start.candidates_from,
            on_tick=start.handler.shadow_report,
            tick_interval=settings.shadow_report_interval,
        )
    else:
        ready_note = "; echo handler"
        app = create_app(settings, started=started)

    import faust

    class _Worker(faust.Worker):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # No terminal spinner: it sets the root logger to DEBUG (to spin on every
            # record), so each message sent built ~3 debug log records, ~25% of the
            # worker's time at 1-2k events/s.
            self.spinner = None

        async def on_startup_finished(self) -> None:
            await super().on_startup_finished()
            # WARNING so that it shows at the default level: tests and scripts wait on it.
            logger.warning(
                "streamlabel worker ready in %.2f s%s", time.monotonic() - started, ready_note
            )

    async def _on_assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
        assigned = args[0] if args else kwargs.get("assigned", ())
        logger.warning(
            "streamlabel partitions assigned after %.2f s: %d",
            time.monotonic() - started,
            len(assigned),
        )

    if settings.events_reader == "faust":  # the batched reader logs its own assignments
        # cast: mypy does not match an ``async def`` against mode's SignalHandlerT union.
        app.on_partitions_assigned.connect(cast(Any, _on_assigned))
    worker = _Worker(app, loglevel=loglevel)
    try:
        worker.execute_from_commandline()
    finally:
        # Faust has stopped (agents done, offsets committed): the model is final.
        if labeler is not None and settings.snapshot_every:
            publish_snapshot(settings, labeler)
        if server is not None:
            server.close()


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the options and run a worker with settings from the environment.

    Parameters
    ----------
    argv : sequence of str, optional
        Options (``sys.argv[1:]`` by default): ``--loglevel`` (default ``warning``),
        ``--handler labeler|echo`` (default ``labeler``) and ``--no-ensure-topics``.

    Raises
    ------
    SystemExit
        Always: status 2 with the reason when the labeler cannot start, else Faust's.
    """
    parser = argparse.ArgumentParser(prog="python -m streamlabel.stream._worker")
    parser.add_argument("--loglevel", default="warning", help="faust/worker log level")
    parser.add_argument(
        "--handler",
        choices=("labeler", "echo"),
        default="labeler",
        help="events handler: the labeler (default) or the echo stand-in",
    )
    parser.add_argument(
        "--no-ensure-topics", action="store_true", help="do not create missing topics"
    )
    args = parser.parse_args(argv)
    try:
        run_worker(
            StreamSettings.from_env(),
            handler=args.handler,
            loglevel=args.loglevel,
            create_topics=not args.no_ensure_topics,
        )
    except StartupError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
