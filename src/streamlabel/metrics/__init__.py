"""Prometheus metrics of streamlabel: one bundle per process, on an explicit registry.

- :class:`Metrics` -- every metric family (``streamlabel_`` prefix, counters ending in
  ``_total``, times in seconds, bounded labels), fed from the core's plain counters and
  records by the services and the demo; ``render()`` gives the text exposition.

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

__all__ = ["LATENCY_BUCKETS", "Metrics"]
