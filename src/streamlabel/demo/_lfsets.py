"""The demo's LF set versions: the shipped fraud sets plus one code LF that can fault."""

from __future__ import annotations

from typing import Any

from streamlabel.datasets import fraud_lfsets
from streamlabel.lf import ABSTAIN, LFSet, labeling_function

__all__ = ["COUNTRY_RISK", "country_risk", "demo_lfsets"]

#: Risk tier per country code (0 low .. 3 high) of the legacy rule below. A code missing
#: here makes the rule raise: the demo injects events from a newly launched market ("XK")
#: so that LF faults are counted (and the LF abstains there) without stopping the stream.
COUNTRY_RISK: dict[str, int] = {
    "US": 0,
    "GB": 0,
    "DE": 0,
    "FR": 0,
    "CA": 0,
    "IN": 1,
    "BR": 2,
    "CN": 2,
    "RU": 3,
    "NG": 3,
}


@labeling_function(
    name="country_risk", resources={"table": COUNTRY_RISK}, fields=["country", "device", "amount"]
)
def country_risk(event: Any, table: dict[str, int]) -> int:
    """Vote fraud on card-not-present purchases of $200+ from high-risk countries.

    A legacy code LF with a look-up table that raises ``KeyError`` on a country it does
    not know (a fault: the applier counts it and the LF abstains on that event).

    Examples
    --------
    >>> country_risk({"country": "NG", "device": "web", "amount": 350.0})
    1
    >>> country_risk({"country": "US", "device": "web", "amount": 350.0})
    -1
    """
    risk = table[event["country"]]  # KeyError on an unknown country: the bug on purpose
    if risk >= 2 and not str(event["device"]).startswith("pos_") and event["amount"] >= 200:
        return 1
    return ABSTAIN


def demo_lfsets() -> list[LFSet]:
    """Return the demo's LF set versions ``"1"`` to ``"4"``.

    Each is the shipped :func:`~streamlabel.datasets.fraud_lfsets` version with the code
    LF :func:`country_risk` appended (unchanged across versions).

    Examples
    --------
    >>> sets = demo_lfsets()
    >>> [s.version for s in sets], sets[0].ids[-1]
    (['1', '2', '3', '4'], 'country_risk@1')
    """
    return [
        LFSet(s.name, s.version, [*s.lfs, country_risk], s.cardinality, s.label_names)
        for s in fraud_lfsets()
    ]
