"""``streamlabel demo``: the whole pipeline in one process, with a status page and metrics.

The loop itself is :class:`streamlabel.demo.DemoRun` (no engine, no network); this module
adds what a person watches: a progress bar with a live summary line on stderr, the status
page, ``/status.json`` and ``/metrics`` on 127.0.0.1 (:class:`streamlabel.status.StatusServer`)
and the final summary tables.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["render_demo", "run_demo"]


def run_demo(
    n_events: int = 30_000,
    seed: int = 0,
    *,
    speed: float | None = None,
    port: int | None = 0,
    linger: float = 0.0,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Run the embedded demo; return :meth:`DemoRun.report` (plus ``url`` when served).

    Parameters
    ----------
    n_events, seed
        Size and seed of the generated stream.
    speed
        Events per second (``None``: as fast as it goes).
    port
        Port of the status server on 127.0.0.1 (0: a free one); ``None``: no server.
    linger
        Seconds to keep serving after the run (bounded; Ctrl-C ends it early).
    progress
        Show the progress bar (default: when stderr is a terminal).

    Examples
    --------
    >>> r = run_demo(n_events=2_000, seed=1, port=None, progress=False)
    >>> r["events"], [p["lfset_version"] for p in r["pushes"]]
    (2000, ['2', '3', '4'])
    """
    from tqdm import tqdm

    from streamlabel.demo import DemoConfig, DemoRun
    from streamlabel.status import StatusServer

    run = DemoRun(DemoConfig(events=n_events, seed=seed, speed=speed or None))
    server = None
    try:
        if port is not None:
            server = StatusServer(run.snapshot, run.metrics.render, port=port).start()
            print(
                f"status page {server.url}  metrics {server.url}metrics  "
                f"snapshot {server.url}status.json",
                file=sys.stderr,
                flush=True,
            )
        bar = tqdm(
            total=run.n,
            unit="ev",
            file=sys.stderr,
            disable=not sys.stderr.isatty() if progress is None else not progress,
            dynamic_ncols=True,
        )
        last = [0]

        def on_batch(r: DemoRun) -> None:
            bar.update(r.done - last[0])
            last[0] = r.done
            bar.set_postfix_str(r.summary_line(), refresh=False)

        with bar:
            run.run(on_batch)
        report = run.report()
        if server is not None:
            report["url"] = server.url
            if linger > 0:
                print(f"serving for {linger:g} s more (Ctrl-C to stop)", file=sys.stderr)
                with contextlib.suppress(KeyboardInterrupt):
                    threading.Event().wait(linger)
        return report
    finally:
        if server is not None:
            server.stop()
        run.close()


def render_demo(report: Mapping[str, Any]) -> str:
    """Render the demo's report as text tables (see :func:`streamlabel.demo.render_report`)."""
    from streamlabel.demo import render_report

    return render_report(report)
