"""Run one labeler worker: ``python -m streamlabel.stream._worker [--loglevel LEVEL]``.

Settings come from ``STREAMLABEL_*`` environment variables
(:meth:`~streamlabel.stream.StreamSettings.from_env`). The topics are created if missing,
then a ``faust.Worker`` runs the app from :func:`~streamlabel.stream.create_app` until
SIGTERM or SIGINT, which stop it gracefully (offsets committed, group left); the exit
status is then 0.

The options avoid ``-L`` and ``--datadir``: ``import faust`` reads those from ``sys.argv``.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from typing import Any, cast

from streamlabel.stream._app import create_app, ensure_topics
from streamlabel.stream._settings import StreamSettings

__all__ = ["main"]

logger = logging.getLogger("streamlabel.stream")


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the options, create the topics and run a worker until it is stopped.

    Parameters
    ----------
    argv : sequence of str, optional
        Options (``sys.argv[1:]`` by default): ``--loglevel`` (default ``warning``) and
        ``--no-ensure-topics``.

    Raises
    ------
    SystemExit
        Always: Faust's worker exits the process when it stops.
    """
    parser = argparse.ArgumentParser(prog="python -m streamlabel.stream._worker")
    parser.add_argument("--loglevel", default="warning", help="faust/worker log level")
    parser.add_argument(
        "--no-ensure-topics", action="store_true", help="do not create missing topics"
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    settings = StreamSettings.from_env()
    if not args.no_ensure_topics:
        created = ensure_topics(settings)
        if created:
            logger.warning("created topics %s", ", ".join(created))
    app = create_app(settings)

    import faust

    class _Worker(faust.Worker):
        async def on_startup_finished(self) -> None:
            await super().on_startup_finished()
            # WARNING so that it shows at the default level: tests and scripts wait on it.
            logger.warning("streamlabel worker ready in %.2f s", time.monotonic() - started)

    async def _on_assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
        assigned = args[0] if args else kwargs.get("assigned", ())
        logger.warning(
            "streamlabel partitions assigned after %.2f s: %d",
            time.monotonic() - started,
            len(assigned),
        )

    # cast: mypy does not match an ``async def`` against mode's SignalHandlerT union.
    app.on_partitions_assigned.connect(cast(Any, _on_assigned))
    worker = _Worker(app, loglevel=args.loglevel)
    worker.execute_from_commandline()


if __name__ == "__main__":  # pragma: no cover
    main()
