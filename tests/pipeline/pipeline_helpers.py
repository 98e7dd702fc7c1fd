"""Helpers of the pipeline tests: a declarative LF set and events for generated transactions."""

from __future__ import annotations

import json
from typing import Any

from streamlabel.datasets import make_transactions
from streamlabel.lf import LFSet, load_lfset

# Seven LFs over the fields `make_transactions` produces (descriptor, amount, hour,
# merchant_category, country): five vote fraud (1), two legit (0).
TX_LFSET_V1 = r"""
name: tx
version: "1"
cardinality: 2
label_names: [legit, fraud]
lfs:
  - name: gambling
    label: 1
    when: {kind: keyword, field: descriptor, keywords: [casino, poker, slots, bet365],
           word_boundary: false}
  - name: crypto
    label: 1
    when: {kind: keyword, field: descriptor,
           keywords: [bitcoin, btc, crypto, coinbase, binance, kraken]}
  - name: big_amount
    label: 1
    when: {kind: threshold, field: amount, op: gt, value: 1500}
  - name: night
    label: 1
    when: {kind: range, field: hour, min: 0, max: 4}
  - name: scam_words
    label: 1
    when: {kind: keyword, field: descriptor, keywords: [urgent, verify account, 2fa],
           word_boundary: false}
  - name: refund
    label: 0
    when: {kind: regex, field: descriptor, pattern: '\brefund(?:ed)?\b', ignore_case: true}
  - name: small_grocery
    label: 0
    when:
      kind: all
      conditions:
        - {kind: equals, field: merchant_category, value: grocery}
        - {kind: threshold, field: amount, op: lt, value: 100}
"""

# Version 2: big_amount changes (new LF version, new threshold), night is removed,
# everyday is added; the other five are unchanged.
_BIG_V1 = "    when: {kind: threshold, field: amount, op: gt, value: 1500}\n"
_BIG_V2 = '    version: "2"\n    when: {kind: threshold, field: amount, op: gt, value: 1000}\n'
_NIGHT = "  - name: night\n    label: 1\n    when: {kind: range, field: hour, min: 0, max: 4}\n"
_EVERYDAY = """  - name: everyday
    label: 0
    when: {kind: lookup, field: merchant_category, values: [restaurant, fuel, pharmacy]}
"""
TX_LFSET_V2 = (
    TX_LFSET_V1.replace('version: "1"', 'version: "2"', 1)
    .replace(_BIG_V1, _BIG_V2)
    .replace(_NIGHT, _EVERYDAY)
)
assert TX_LFSET_V2.count("everyday") == 1 and TX_LFSET_V2.count("value: 1000") == 1


def tx_lfset(version: int = 1) -> LFSet:
    return load_lfset(TX_LFSET_V1 if version == 1 else TX_LFSET_V2)


def wrap(tx: dict[str, Any]) -> dict[str, Any]:
    """A generated transaction as an Event: id/ts/entity outside, the rest as payload."""
    payload = {k: v for k, v in tx.items() if k not in ("id", "ts", "entity")}
    return {"id": tx["id"], "ts": tx["ts"], "entity": tx["entity"], "payload": payload}


def tx_events(n: int, seed: int = 0, **kwargs: Any) -> list[bytes]:
    """``n`` generated transactions as Event JSON bytes."""
    return [json.dumps(wrap(tx)).encode() for tx in make_transactions(n, seed, **kwargs)]
