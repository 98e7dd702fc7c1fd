"""The small LF sets on generated transactions that the handler unit tests push, and
those transactions as ``events`` records."""

from __future__ import annotations

import json
from typing import Any

from streamlabel.datasets import make_transactions
from streamlabel.lf import load_lfset_spec
from streamlabel.stream import RawEvent

SPEC_V1: dict[str, Any] = {
    "name": "tx",
    "version": "1",
    "cardinality": 2,
    "resources": {"risky": ["gambling", "crypto", "gift_cards"]},
    "lfs": [
        {
            "name": "risky",
            "label": 1,
            "when": {"kind": "lookup", "field": "merchant_category", "resource": "risky"},
        },
        {
            "name": "big_amount",
            "label": 1,
            "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 1500},
        },
        {
            "name": "small_grocery",
            "label": 0,
            "when": {"kind": "threshold", "field": "amount", "op": "lt", "value": 20},
        },
    ],
}


def spec(version: str = "1") -> dict[str, Any]:
    """SPEC_V1 as the contract's JSON, under another set version."""
    data = load_lfset_spec(SPEC_V1).model_dump(mode="json")
    data["version"] = version
    return data


def v2() -> dict[str, Any]:
    """big_amount@2 (threshold 1000) and no small_grocery."""
    data = spec("2")
    data["lfs"][1]["version"] = "2"
    data["lfs"][1]["when"]["value"] = 1000
    del data["lfs"][2]
    return data


def events(n: int, start: int = 0) -> list[RawEvent]:
    """``n`` generated transactions as ``events`` records."""
    out = []
    for i, tx in enumerate(make_transactions(start + n, 0)[start:]):
        payload = {k: v for k, v in tx.items() if k not in ("id", "ts", "entity")}
        value = {"id": tx["id"], "ts": tx["ts"], "entity": tx["entity"], "payload": payload}
        out.append(RawEvent(b"e", json.dumps(value).encode(), "p.events", 0, start + i))
    return out
