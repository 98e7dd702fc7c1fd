"""``streamlabel api``: the control API under uvicorn, on the Kafka backend, until SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING

from streamlabel.api._settings import ApiSettings

if TYPE_CHECKING:
    from streamlabel.stream import StreamSettings

__all__ = ["serve_api"]

logger = logging.getLogger("streamlabel.api")


def serve_api(api: ApiSettings, stream: StreamSettings, *, loglevel: str = "warning") -> None:
    """Serve the control API on ``api.host:api.port`` until SIGTERM or SIGINT.

    Refuses to start (:class:`~streamlabel.api.TokenError`, a ``ValueError``) without any
    token or with a malformed one. Tokens are never logged; the ready line names the
    principals only.
    """
    import uvicorn

    from streamlabel.api._app import create_api
    from streamlabel.api._auth import TokenError, Tokens
    from streamlabel.api._kafka import KafkaBackend

    tokens = Tokens.parse(api.tokens)
    if len(tokens) == 0:
        raise TokenError("no tokens: set STREAMLABEL_API_TOKENS=name:token:role[,...]")
    backend = KafkaBackend(
        stream,
        timeout=api.timeout,
        analysis_window=api.analysis_window,
        drift_limit=api.drift_limit,
        replay_dir=api.replay_dir,
    )
    from streamlabel.metrics import Metrics

    app = create_api(api, backend, Metrics() if api.metrics_enabled else None)
    config = uvicorn.Config(
        app,
        host=api.host,
        port=api.port,
        log_level=loglevel,
        access_log=False,  # the Authorization header is never logged, nor anything else
    )
    server = uvicorn.Server(config)
    logging.basicConfig(level=getattr(logging, loglevel.upper(), logging.WARNING))
    from streamlabel.stream._logs import quiet_kafka_close_race  # the backend reads Kafka

    quiet_kafka_close_race()
    logger.warning(
        "streamlabel api on http://%s:%d (principals %s; brokers %s, prefix %r)",
        api.host,
        api.port,
        tokens,
        ",".join(stream.bootstrap_servers),
        stream.topic_prefix,
    )
    # uvicorn handles SIGTERM/SIGINT (requests in flight finish), restores the handlers it
    # found and raises the signal again: with these no-op handlers in place the process
    # then returns normally, exit 0 like the other services, instead of dying by signal.
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: None)
    try:
        server.run()
    finally:
        backend.close()
    logger.warning("streamlabel api stopped")
