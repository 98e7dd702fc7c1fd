"""Logging of the services: one format, and kafka-python's close race told in one line.

kafka-python 3.0.12's network layer can wake a read on a socket that another task has
just closed (the transport's ``_sock`` is already None): it then logs "Error receiving
network data closing socket" with an ``AttributeError`` traceback, on a connection that
was going away anyway (seen when a service closes a consumer right after reading a topic
to its end). The filter keeps the line, as a warning, and drops the traceback, so a
traceback in a service log always means one of ours.
"""

from __future__ import annotations

import logging

__all__ = ["KafkaCloseRace", "configure_service_logging", "quiet_kafka_close_race"]

_TRANSPORT = "kafka.net.transport"
FORMAT = "[%(asctime)s] %(levelname)s %(message)s"


class KafkaCloseRace(logging.Filter):
    """Turn kafka-python's read-after-close traceback into a one-line warning.

    Examples
    --------
    >>> try:
    ...     None.recv(4096)  # what the transport does once its socket is gone
    ... except AttributeError:
    ...     import sys
    ...     record = logging.LogRecord(
    ...         _TRANSPORT, logging.ERROR, __file__, 1,
    ...         "%s: Error receiving network data closing socket", ("conn",), sys.exc_info())
    >>> KafkaCloseRace().filter(record), record.levelname, record.exc_info
    (True, 'WARNING', None)
    >>> record.getMessage()
    'conn: Error receiving network data closing socket (its socket was already closed)'
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, AttributeError) and "'NoneType' object" in str(exc):
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = f"{record.msg} (its socket was already closed)"
        return True


def quiet_kafka_close_race() -> None:
    """Install :class:`KafkaCloseRace` on kafka-python's transport logger (once)."""
    logger = logging.getLogger(_TRANSPORT)
    if not any(isinstance(f, KafkaCloseRace) for f in logger.filters):
        logger.addFilter(KafkaCloseRace())


def configure_service_logging(loglevel: str) -> None:
    """Set the services' log format and level, and install :class:`KafkaCloseRace`."""
    logging.basicConfig(level=loglevel.upper(), format=FORMAT)
    quiet_kafka_close_race()
