"""One seeded fraud stream slice, labeled and trained on once for the session (~2 s)."""

from __future__ import annotations

import pytest
from models_helpers import FraudSetup, make_fraud_setup


@pytest.fixture(scope="session")
def fraud() -> FraudSetup:
    return make_fraud_setup(seed=0)
