"""The embedded demo: the whole pipeline in one process over a generated drifting stream.

- :class:`DemoRun` / :class:`DemoConfig`: the closed loop (labeler, drift watch,
  trainer, hot-swapped serving model, the analyst's LF pushes) over
  :func:`~streamlabel.datasets.make_fraud_stream`, feeding a
  :class:`~streamlabel.metrics.Metrics` bundle and a status snapshot;
- :class:`EventLog`: the in-process partitioned log the run reads (its backlog is the
  consumer lag of embedded mode);
- :func:`demo_lfsets`: the shipped fraud LF sets plus a code LF that faults on purpose;
- :func:`render_report`: the final summary as text tables.

No faust, Kafka client or web framework is imported here; ``streamlabel demo`` adds the
terminal display and the HTTP server (:class:`streamlabel.status.StatusServer`).

Examples
--------
>>> from streamlabel.demo import DemoConfig, DemoRun
>>> run = DemoRun(DemoConfig(events=2_000, batch_size=200, train_window=1_000))
>>> run.step(), run.done
(True, 200)
>>> run.close()
"""

from streamlabel.demo._lfsets import COUNTRY_RISK, country_risk, demo_lfsets
from streamlabel.demo._log import EventLog, LogRecord
from streamlabel.demo._report import render_report
from streamlabel.demo._run import NEW_MARKET, PUSHES, DemoConfig, DemoRun, malformed_input

__all__ = [
    "COUNTRY_RISK",
    "NEW_MARKET",
    "PUSHES",
    "DemoConfig",
    "DemoRun",
    "EventLog",
    "LogRecord",
    "country_risk",
    "demo_lfsets",
    "malformed_input",
    "render_report",
]
