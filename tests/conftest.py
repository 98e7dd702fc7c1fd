"""Shared test fixtures."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamlabel.datasets import shared_data_dir

# Set to 1 (as CI does where the data is mounted) to turn missing-data skips into failures.
REQUIRE_DATA_ENV = "STREAMLABEL_REQUIRE_DATA"
# A bootstrap address (host:port) of a broker to use instead of starting one.
KAFKA_ENV = "STREAMLABEL_KAFKA"
# Set to 1 (as .ci/run does) to turn "the broker did not start" skips into failures.
REQUIRE_KAFKA_ENV = "STREAMLABEL_REQUIRE_KAFKA"


@pytest.fixture(scope="session")
def youtube_wrench_dir() -> Path:
    """The shared WRENCH YouTube folder; skip (or fail if required) when it is absent."""
    base = shared_data_dir()
    path = base / "youtube" / "wrench" if base is not None else None
    if path is None or not (path / "test.json").is_file():
        where = path if path is not None else "../shared/data/youtube/wrench beside the repo"
        msg = (
            f"shared WRENCH YouTube data not found at {where} "
            "(set STREAMLABEL_SHARED_DATA to the shared data folder)"
        )
        if os.environ.get(REQUIRE_DATA_ENV) == "1":
            pytest.fail(f"{msg} and {REQUIRE_DATA_ENV}=1", pytrace=False)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def youtube_dir() -> Path:
    """The shared YouTube folder (uci_raw/ and wrench/); skip (or fail if required) if absent."""
    base = shared_data_dir()
    path = base / "youtube" if base is not None else None
    needed = ("uci_raw/Youtube01-Psy.csv", "uci_raw/Youtube05-Shakira.csv", "wrench/test.json")
    if path is None or not all((path / f).is_file() for f in needed):
        where = path if path is not None else "../shared/data/youtube beside the repo"
        msg = (
            f"shared YouTube data (uci_raw/ and wrench/) not found at {where} "
            "(set STREAMLABEL_SHARED_DATA to the shared data folder)"
        )
        if os.environ.get(REQUIRE_DATA_ENV) == "1":
            pytest.fail(f"{msg} and {REQUIRE_DATA_ENV}=1", pytrace=False)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a Kafka broker for the whole session.

    ``STREAMLABEL_KAFKA`` if set; else a :class:`~streamlabel.dev.LocalKafka` on free ports
    with a temporary data folder, stopped at the end of the session. A broker that cannot
    start skips the test, or fails it when ``STREAMLABEL_REQUIRE_KAFKA=1``.
    """
    external = os.environ.get(KAFKA_ENV, "").strip()
    if external:
        yield external
        return

    from streamlabel.dev import KafkaDevError, start_on_free_ports

    try:
        broker = start_on_free_ports(tmp_path_factory.mktemp("kafka"), timeout=90)
    except KafkaDevError as exc:
        msg = f"local Kafka broker did not start: {exc}"
        if os.environ.get(REQUIRE_KAFKA_ENV) == "1":
            pytest.fail(f"{msg}\n({REQUIRE_KAFKA_ENV}=1)", pytrace=False)
        pytest.skip(msg)
    try:
        yield broker.bootstrap
    finally:
        broker.down()


@pytest.fixture
def topic_prefix() -> str:
    """A unique topic (and group) name prefix for one test, e.g. ``t1a2b3c4d.``."""
    return f"t{uuid.uuid4().hex[:8]}."
