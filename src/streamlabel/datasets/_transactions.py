"""A seeded generator of card-transaction-like events.

The events feed ``streamlabel bench apply`` and the tests of the labeling-function
package. They are plain dicts, deterministic for a given seed, and generated with
numpy's vectorised RNG so that a million of them take about a second.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["make_transactions"]

_CATEGORIES = (
    "grocery",
    "restaurant",
    "fuel",
    "pharmacy",
    "online_retail",
    "travel",
    "electronics",
    "atm",
    "jewelry",
    "gift_cards",
    "gambling",
    "crypto",
)
_CATEGORY_P = (0.2, 0.17, 0.12, 0.07, 0.15, 0.06, 0.06, 0.06, 0.03, 0.03, 0.03, 0.02)

_COUNTRIES = ("US", "GB", "DE", "FR", "CA", "BR", "IN", "NG", "RU", "CN")
_COUNTRY_P = (0.55, 0.1, 0.07, 0.06, 0.06, 0.04, 0.04, 0.03, 0.03, 0.02)

# Merchant words per category: the descriptor mixes them with noise the way card
# statements do ("SQ *", store numbers, cities), so keyword rules have real work to do.
_MERCHANTS: dict[str, tuple[str, ...]] = {
    "grocery": ("WHOLEFDS", "TRADER JOES", "SAFEWAY", "KROGER", "ALDI Market"),
    "restaurant": ("SQ *BLUE BOTTLE", "CHIPOTLE", "Starbucks Store", "TST* Pizza Bar"),
    "fuel": ("SHELL OIL", "CHEVRON", "BP Fuel", "EXXONMOBIL"),
    "pharmacy": ("CVS/PHARMACY", "WALGREENS", "Boots Pharmacy"),
    "online_retail": ("AMZN Mktp US", "EBAY O*", "ETSY.COM", "PAYPAL *SHOP"),
    "travel": ("UNITED AIRLINES", "MARRIOTT", "AIRBNB * HM", "Uber Trip"),
    "electronics": ("BEST BUY", "APPLE.COM/BILL", "NEWEGG Electronics"),
    "atm": ("ATM WITHDRAWAL", "CASH ADVANCE ATM", "Cash Withdrawal"),
    "jewelry": ("TIFFANY & CO", "Gold Buyers Jewelry", "PANDORA"),
    "gift_cards": ("GIFT CARD MALL", "Prepaid Gift Card", "VANILLA GIFT"),
    "gambling": ("BET365 Casino", "POKERSTARS", "Online Casino Ltd", "LUCKY SLOTS bet"),
    "crypto": ("COINBASE", "BINANCE Crypto", "Bitcoin ATM", "KRAKEN btc exchange"),
}
_CITIES = ("NEW YORK", "LONDON", "BERLIN", "PARIS", "TORONTO", "LAGOS", "MOSCOW", "ONLINE")
_SUFFIXES = ("", "", "", " urgent", " wire transfer", " refund", " verify account", " 2FA")

# Typical amount scale (lognormal median) per category.
_AMOUNT_MEDIAN = {
    "grocery": 45.0,
    "restaurant": 25.0,
    "fuel": 40.0,
    "pharmacy": 20.0,
    "online_retail": 35.0,
    "travel": 320.0,
    "electronics": 250.0,
    "atm": 120.0,
    "jewelry": 600.0,
    "gift_cards": 150.0,
    "gambling": 200.0,
    "crypto": 500.0,
}

#: Lognormal sigma of amounts around their category median.
_AMOUNT_SIGMA = 0.8

# Local hour of a purchase: night-time spending is rarer but not absent.
_HOUR_WEIGHTS = np.array([1, 1, 1, 1, 1, 2, 3, 5, 6, 7, 7, 8, 9, 8, 7, 7, 7, 8, 8, 7, 6, 4, 3, 2.0])
_HOUR_P = _HOUR_WEIGHTS / _HOUR_WEIGHTS.sum()


def _timestamps(rng: np.random.Generator, n: int, start_ts: float) -> NDArray[np.float64]:
    """Event times from ``start_ts``, about 0.5 s apart (Poisson arrivals, ~2 events/s)."""
    return np.asarray(start_ts + np.cumsum(rng.exponential(0.5, size=n)), dtype=np.float64)


def _descriptor(merchants: tuple[str, ...], u: float, store: int, city: int, suffix: str) -> str:
    """Build a card-statement descriptor: merchant (picked by ``u`` in [0, 1)), store, city."""
    return f"{merchants[int(u * len(merchants))]} #{store} {_CITIES[city]}{suffix}"


def make_transactions(
    n: int, seed: int = 0, *, malformed_rate: float = 0.0, start_ts: float = 1.7e9
) -> list[dict[str, Any]]:
    """Generate ``n`` card-transaction-like events.

    Parameters
    ----------
    n
        Number of events.
    seed
        Seed of the numpy random generator; the same seed gives the same events.
    malformed_rate
        Fraction of events that get one defect: a missing ``descriptor``, an ``amount``
        given as a string, or a ``hour`` set to ``None``. Zero by default.
    start_ts
        Timestamp (epoch seconds) of the first event; events are about 0.5 s apart.

    Returns
    -------
    list of dict
        Events with keys ``id`` (str), ``ts`` (float), ``entity`` (card id, str),
        ``amount`` (float), ``merchant_category`` (str), ``country`` (str), ``hour``
        (int, 0-23) and ``descriptor`` (free text with merchant words).

    Examples
    --------
    >>> from streamlabel.datasets import make_transactions
    >>> events = make_transactions(3, seed=1)
    >>> sorted(events[0])
    ['amount', 'country', 'descriptor', 'entity', 'hour', 'id', 'merchant_category', 'ts']
    >>> events == make_transactions(3, seed=1)
    True
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= malformed_rate <= 1.0:
        raise ValueError(f"malformed_rate must be in [0, 1], got {malformed_rate}")
    rng = np.random.default_rng(seed)
    cat_idx = rng.choice(len(_CATEGORIES), size=n, p=_CATEGORY_P)
    country_idx = rng.choice(len(_COUNTRIES), size=n, p=_COUNTRY_P)
    n_cards = max(10, n // 20)
    card_idx = rng.integers(0, n_cards, size=n)
    ts = _timestamps(rng, n, start_ts)
    hours = rng.choice(24, size=n, p=_HOUR_P)
    medians = np.array([_AMOUNT_MEDIAN[c] for c in _CATEGORIES])[cat_idx]
    amounts = np.round(medians * rng.lognormal(0.0, _AMOUNT_SIGMA, size=n), 2)
    merch_u = rng.random(n)
    city_idx = rng.integers(0, len(_CITIES), size=n)
    suffix_idx = rng.choice(len(_SUFFIXES), size=n, p=(0.4, 0.2, 0.2, 0.04, 0.05, 0.06, 0.03, 0.02))
    store_no = rng.integers(100, 10_000, size=n)

    events: list[dict[str, Any]] = []
    append = events.append
    for i, (c, k, card, t, h, a, u, city, suf, store) in enumerate(
        zip(
            cat_idx.tolist(),
            country_idx.tolist(),
            card_idx.tolist(),
            ts.tolist(),
            hours.tolist(),
            amounts.tolist(),
            merch_u.tolist(),
            city_idx.tolist(),
            suffix_idx.tolist(),
            store_no.tolist(),
            strict=True,
        )
    ):
        cat = _CATEGORIES[c]
        append(
            {
                "id": f"tx{i:09d}",
                "ts": t,
                "entity": f"card_{card:06d}",
                "amount": a,
                "merchant_category": cat,
                "country": _COUNTRIES[k],
                "hour": h,
                "descriptor": _descriptor(_MERCHANTS[cat], u, store, city, _SUFFIXES[suf]),
            }
        )
    if malformed_rate > 0.0 and n > 0:
        bad = np.flatnonzero(rng.random(n) < malformed_rate)
        kinds = rng.integers(0, 3, size=bad.size)
        for i, kind in zip(bad.tolist(), kinds.tolist(), strict=True):
            event = events[i]
            if kind == 0:
                del event["descriptor"]
            elif kind == 1:
                event["amount"] = f"{event['amount']:.2f}"
            else:
                event["hour"] = None
    return events
