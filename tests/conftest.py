"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streamlabel.datasets import shared_data_dir

# Set to 1 (as CI does where the data is mounted) to turn missing-data skips into failures.
REQUIRE_DATA_ENV = "STREAMLABEL_REQUIRE_DATA"


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
