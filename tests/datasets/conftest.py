"""Session-wide drifting streams (generated and voted on once, ~1 s in all)."""

from __future__ import annotations

import pytest
from datasets_helpers import N_EVENTS, Voted

from streamlabel.datasets import chat_lfsets, fraud_lfsets, make_chat_stream, make_fraud_stream


@pytest.fixture(scope="session")
def fraud() -> Voted:
    return Voted(make_fraud_stream(N_EVENTS, seed=0), fraud_lfsets())


@pytest.fixture(scope="session")
def chat() -> Voted:
    return Voted(make_chat_stream(N_EVENTS, seed=0), chat_lfsets())
