"""Prometheus metrics of streamlabel: one bundle per process, on an explicit registry.

- :class:`Metrics` -- every metric family (``streamlabel_`` prefix, counters ending in
  ``_total``, times in seconds, bounded labels), fed from the core's plain counters and
  records by the services and the demo; ``render()`` gives the text exposition.
- :func:`serve_metrics` -- a ``/metrics`` server in a daemon thread (:class:`MetricsServer`)
  for the services without a web server; :data:`SERVICE_PORTS` their default ports.

Nothing is registered at import, and the pipeline core never imports this package.

Examples
--------
>>> from streamlabel.metrics import Metrics
>>> m = Metrics()
>>> m.dlq.labels("not_json").inc()
>>> m.registry.get_sample_value("streamlabel_dlq_total", {"reason": "not_json"})
1.0
"""

from streamlabel.metrics._bundle import LATENCY_BUCKETS, Metrics
from streamlabel.metrics._serve import CONTENT_TYPE, SERVICE_PORTS, MetricsServer, serve_metrics

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS",
    "SERVICE_PORTS",
    "Metrics",
    "MetricsServer",
    "serve_metrics",
]
