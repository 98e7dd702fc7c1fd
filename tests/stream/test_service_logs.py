"""kafka-python's read-after-close race is told in one line; every other traceback stays."""

from __future__ import annotations

import logging

import pytest

from streamlabel.stream._logs import KafkaCloseRace, quiet_kafka_close_race


def _log_error(exc: BaseException) -> None:
    try:
        raise exc
    except BaseException:
        logging.getLogger("kafka.net.transport").exception(
            "%s: Error receiving network data closing socket", "<KafkaTCPTransport>"
        )


def test_the_close_race_loses_its_traceback_and_nothing_else(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_kafka_close_race()
    quiet_kafka_close_race()  # installing twice adds one filter
    logger = logging.getLogger("kafka.net.transport")
    assert sum(isinstance(f, KafkaCloseRace) for f in logger.filters) == 1
    with caplog.at_level(logging.DEBUG, logger="kafka.net.transport"):
        _log_error(AttributeError("'NoneType' object has no attribute 'recv'"))
        _log_error(ConnectionResetError("reset by peer"))
    race, other = caplog.records
    assert (race.levelname, race.exc_info) == ("WARNING", None)
    assert race.getMessage().endswith("closing socket (its socket was already closed)")
    assert other.levelname == "ERROR" and other.exc_info is not None
    assert "Traceback" in caplog.text and "ConnectionResetError" in caplog.text
    assert "AttributeError" not in caplog.text
