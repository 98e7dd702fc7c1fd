from __future__ import annotations

import hashlib
import json

import pytest

from streamlabel.datasets import make_transactions

# sha256 of json.dumps(make_transactions(n, seed, malformed_rate=r), sort_keys=True), taken
# from the implementation before its internals were shared with the drifting fraud stream.
# Benchmarks and tests depend on these exact events: the refactor must not change them.
_GOLDEN = {
    (20_000, 0, 0.0): "e5e8b8cb9f58cea740991b88fdc95b7fcf67e1c2e8fb2d81d18865a03a8d684f",
    (3000, 7, 0.05): "3305d8ee108e7f10f67645ce9f2ab1a84f77701917e5affc32421dd2df1136d2",
    (5000, 11, 0.3): "7e6ad5142e596472bc0ee6581f4029edf1d7a24c368115a7cd308736ca589d3d",
}


@pytest.mark.parametrize(("n", "seed", "rate"), sorted(_GOLDEN))
def test_make_transactions_output_is_unchanged(n: int, seed: int, rate: float) -> None:
    events = make_transactions(n, seed=seed, malformed_rate=rate)
    digest = hashlib.sha256(json.dumps(events, sort_keys=True).encode()).hexdigest()
    assert digest == _GOLDEN[(n, seed, rate)]
