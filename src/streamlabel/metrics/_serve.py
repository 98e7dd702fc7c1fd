"""A ``/metrics`` HTTP server for a :class:`~streamlabel.metrics.Metrics` bundle.

Services without a web server of their own (the labeler worker, the aggregator, the
trainer) serve their bundle with prometheus_client's WSGI server in a daemon thread; the
predictor adds ``/metrics`` to its aiohttp application instead (:func:`metrics_response`).
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, start_http_server

from streamlabel.metrics._bundle import Metrics

__all__ = ["CONTENT_TYPE", "SERVICE_PORTS", "MetricsServer", "serve_metrics"]

logger = logging.getLogger("streamlabel.metrics")

#: Content type of the text exposition format served at ``/metrics``.
CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Default ``/metrics`` port of each service (the predictor's is its HTTP port).
SERVICE_PORTS = {"labeler": 9101, "aggregator": 9102, "trainer": 9103}


class MetricsServer:
    """A running ``/metrics`` server (a daemon thread); :meth:`close` stops it.

    Attributes
    ----------
    host : str
    port : int
        Where it listens (the port the OS chose when asked for 0).

    Examples
    --------
    >>> import urllib.request
    >>> m = Metrics()
    >>> m.events_processed.inc(5)
    >>> server = serve_metrics(m, "127.0.0.1", 0)
    >>> url = f"http://127.0.0.1:{server.port}/metrics"
    >>> with urllib.request.urlopen(url, timeout=5) as r:
    ...     "streamlabel_events_processed_total 5.0" in r.read().decode()
    True
    >>> server.close()
    """

    def __init__(self, httpd: Any, thread: Any) -> None:
        self._httpd = httpd
        self._thread = thread
        self.host = str(httpd.server_address[0])
        self.port = int(httpd.server_port)

    def close(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def serve_metrics(
    metrics: Metrics, host: str, port: int, *, service: str = "streamlabel"
) -> MetricsServer | None:
    """Serve ``metrics`` at ``http://host:port/metrics`` from a daemon thread.

    Returns None (and logs an error) when the address cannot be bound: metrics are an
    addition, a port clash never stops the stream. The address is logged at WARNING
    (``streamlabel <service> metrics on http://host:port/metrics``).
    """
    try:
        httpd, thread = start_http_server(port, host, registry=metrics.registry)
    except OSError as exc:
        logger.error("streamlabel %s metrics not served on %s:%d: %s", service, host, port, exc)
        return None
    server = MetricsServer(httpd, thread)
    logger.warning(
        "streamlabel %s metrics on http://%s:%d/metrics", service, server.host, server.port
    )
    return server
