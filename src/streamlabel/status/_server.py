"""A small stdlib HTTP server for the status page, ``/status.json`` and ``/metrics``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from streamlabel.status._page import render_status_page

__all__ = ["StatusServer"]

#: Content type of the Prometheus text exposition format.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StatusServer:
    r"""Serve ``/`` (the status page), ``/status.json`` and ``/metrics`` from a thread.

    Parameters
    ----------
    snapshot
        Returns the current status snapshot (called per request, from the server thread:
        it must be thread-safe, as :meth:`streamlabel.demo.DemoRun.snapshot` is).
    metrics
        Returns the Prometheus text exposition (e.g. ``Metrics.render``).
    host, port
        Where to listen; port 0 picks a free port (see :attr:`port`). Only loopback
        addresses are accepted: the page has no authentication.
    refresh
        Seconds between automatic reloads of the page; ``None``: none.

    Examples
    --------
    >>> import urllib.request
    >>> with StatusServer(lambda: {"title": "t"}, lambda: b"m 1\\n") as srv:
    ...     body = urllib.request.urlopen(srv.url + "metrics", timeout=5).read()
    ...     page = urllib.request.urlopen(srv.url, timeout=5).read().decode()
    >>> body, "<h1>t</h1>" in page
    (b'm 1\\n', True)
    """

    def __init__(
        self,
        snapshot: Callable[[], dict[str, Any]],
        metrics: Callable[[], bytes],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        refresh: float | None = 2.0,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the status server binds loopback only, not {host!r}")
        self.snapshot = snapshot
        self.metrics = metrics
        self.refresh = refresh
        handler = self._handler()
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port/``."""
        host = str(self._httpd.server_address[0])
        return f"http://{host}:{self.port}/"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                try:
                    if path == "/metrics":
                        self._send(200, METRICS_CONTENT_TYPE, server.metrics())
                    elif path == "/status.json":
                        body = json.dumps(server.snapshot()).encode()
                        self._send(200, "application/json", body)
                    elif path in ("/", "/index.html"):
                        page = render_status_page(server.snapshot(), refresh=server.refresh)
                        self._send(200, "text/html; charset=utf-8", page.encode())
                    else:
                        self._send(404, "text/plain; charset=utf-8", b"not found\n")
                except Exception as exc:  # a broken snapshot must not kill the server
                    self._send(500, "text/plain; charset=utf-8", f"{exc!r}\n".encode())

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the terminal shows the demo's progress

        return Handler

    def start(self) -> StatusServer:
        """Start serving in a daemon thread; return self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, name="streamlabel-status", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> StatusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
