"""One labeler worker as a subprocess: used by ``bench stream`` and the integration tests.

``python -m streamlabel.stream._worker`` runs in its own process group with its output in a
log file; the wrapper reads the worker's log lines ("ready", "partitions assigned") to
know where it is, and stops it with SIGTERM (bounded), then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from streamlabel.stream._settings import StreamSettings

__all__ = ["READY_PATTERN", "WorkerProcess", "worker_env"]

#: The line the worker logs once it runs (``_worker.py``).
READY_PATTERN = re.compile(r"streamlabel worker ready in ([0-9.]+) s")
_ASSIGNED = re.compile(r"streamlabel partitions assigned after [0-9.]+ s: (\d+)")


def worker_env(settings: StreamSettings) -> dict[str, str]:
    """Return the environment that makes a worker use ``settings`` (and nothing stale).

    ``STREAMLABEL_*`` variables naming a setting are replaced, all others kept.

    Examples
    --------
    >>> env = worker_env(StreamSettings(brokers=["127.0.0.1:1"], topic_prefix="t."))
    >>> env["STREAMLABEL_BROKERS"], env["STREAMLABEL_TOPIC_PREFIX"]
    ('127.0.0.1:1', 't.')
    """
    fields = StreamSettings.model_fields
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("STREAMLABEL_") and k[12:].lower() in fields)
    }
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, list):
            value = ",".join(value)
        env["STREAMLABEL_" + name.upper()] = str(value)
    return env


class WorkerProcess:
    """A ``python -m streamlabel.stream._worker`` subprocess with its output in ``log``.

    Parameters
    ----------
    settings
        Passed through the environment (:func:`worker_env`).
    log
        File receiving the worker's stdout and stderr (appended).
    args
        Extra worker arguments, e.g. ``["--handler", "echo"]``.
    module
        The module run with ``python -m``: the labeler worker by default;
        ``streamlabel.stream._trainer`` or ``streamlabel.stream._aggregator`` run the
        other services the same way.
    """

    def __init__(
        self,
        settings: StreamSettings,
        log: Path,
        args: Sequence[str] = (),
        *,
        module: str = "streamlabel.stream._worker",
    ) -> None:
        self.log = log
        self.started = time.monotonic()
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                env=worker_env(settings),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        """Return the worker's output so far."""
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def wait_log(self, pattern: str | re.Pattern[str], timeout: float) -> re.Match[str]:
        """Wait (bounded) for a line matching ``pattern``; raise if the worker exits first."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = regex.search(self.text())
            if match:
                return match
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"worker exited with {self.proc.returncode}:\n{self.text()[-3000:]}"
                )
            time.sleep(0.05)
        raise RuntimeError(f"no {regex.pattern!r} in {timeout:.0f} s:\n{self.text()[-3000:]}")

    def is_ready(self) -> bool:
        """Whether the worker has logged its readiness line."""
        return READY_PATTERN.search(self.text()) is not None

    def wait_ready(self, timeout: float) -> float:
        """Wait for the readiness line; return seconds since the start."""
        self.wait_log(READY_PATTERN, timeout)
        return time.monotonic() - self.started

    def assigned(self) -> int | None:
        """Partitions in the worker's latest assignment, None before the first."""
        found = _ASSIGNED.findall(self.text())
        return int(found[-1]) if found else None

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the worker's process group if it still runs."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL; return the exit code."""
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        return self.proc.returncode

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the worker's process group and reap it (bounded)."""
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=timeout)
