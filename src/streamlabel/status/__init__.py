"""The status page: a snapshot dict in, one self-contained HTML page out; and its server.

- :func:`render_status_page`: pure (snapshot -> HTML string): headline tiles, the LF
  table with sparklines of estimated accuracy and coverage, the drift timeline (phases,
  LF pushes, drift detections, model swaps), accuracy and throughput charts and the
  model versions; inline SVG, no external asset, no script;
- :func:`sparkline`, :func:`line_chart`, :func:`timeline`: the inline SVG pictures;
- :class:`StatusServer`: stdlib HTTP on loopback serving ``/``, ``/status.json`` and
  ``/metrics`` from callables (used by ``streamlabel demo``; the control API can serve
  the same page from its own snapshot).

Examples
--------
>>> from streamlabel.status import render_status_page
>>> "<svg" in render_status_page({"title": "x", "stream": {"events_total": 10}})
True
"""

from streamlabel.status._page import render_status_page
from streamlabel.status._server import METRICS_CONTENT_TYPE, StatusServer
from streamlabel.status._svg import COLORS, line_chart, sparkline, timeline

__all__ = [
    "COLORS",
    "METRICS_CONTENT_TYPE",
    "StatusServer",
    "line_chart",
    "render_status_page",
    "sparkline",
    "timeline",
]
