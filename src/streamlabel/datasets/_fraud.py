"""A seeded, drifting card-fraud stream with ground truth, and its shipped LF set versions.

Events are shaped as the labeler reads them::

    {"id": "tx000000042", "ts": 1700000021.3, "entity": "card_000317",
     "payload": {"amount": 54.1, "merchant_category": "grocery", "country": "US",
                 "device": "pos_chip", "hour": 18, "tx_last_hour": 0, "tx_last_day": 2,
                 "descriptor": "KROGER #4821 BERLIN"}}

The true class (0 legit, 1 fraud) is returned beside the events, never inside them.

Distributions
-------------
Legit purchases reuse the transaction generator's world (:func:`make_transactions`):
its category mix, countries, merchant words, descriptors (``MERCHANT #store CITY``), local
hours and lognormal amounts (sigma 0.8 around a per-category median). Legit gift cards are
small presents (median $50, 70% of them bought online). A category's share of
card-not-present purchases sets the device (in store: chip 70% / contactless 30%; online:
web 55%, iOS app 25%, Android app ~20%, an Android emulator 0.2%). Velocity features are the
card's transaction counts over the last hour and day as the issuer's feature store would
report them (drawn, not counted from the stream, which is only a sample of the traffic):
Poisson(0.3) in the last hour and Poisson(3) more over the day for most cards, Poisson(2.5)
and Poisson(10) more for the 3% of heavy users. Descriptors end in
``" refund"`` for 2.5% of legit purchases and ``" urgent care"`` (a clinic) for 0.1%.

Fraud comes in four patterns (``LabeledStream.kind_names``):

- ``gift_card``: cash-out through gift cards: $200-$500 cards plus an activation fee,
  bought online, half of them between midnight and 5 am, from fraud-heavy countries,
  1.5 purchases an hour on the card;
- ``takeover``: account takeover: electronics, online retail and jewelry around $1,800
  (lognormal, sigma 0.5), bursts of 3 + Poisson(3) purchases in the last hour;
- ``scam``: the cardholder talked into paying (online retail, travel, electronics, crypto;
  median $400): descriptors carry ``urgent``, ``verify account``, ``2FA`` or ``wire
  transfer``; the cardholder's own country and habits otherwise;
- ``wallet_topup``: wallet top-ups of $50-$300 in round amounts from an Android emulator,
  through residential proxies in the cardholder's region (US, GB, DE, FR, CA), throttled to
  at most 2 an hour.

Fraud rates are inflated (5%, then 12%) against real card portfolios (~0.1%) so that a
20,000-event test has enough fraud in every phase to measure an LF's accuracy.

Drift script
------------
Five cumulative phases over fixed fractions of the stream (:func:`fraud_phases`):

1. ``baseline`` (0-20%): fraud 5%: gift cards 60%, takeover 25%, scam 15%; legit gift
   cards are 0.2% of purchases. The starter LF ``gift_card_cashout`` (any gift-card
   descriptor votes fraud) is right ~95% of the time.
2. ``tactic_change`` (20-40%): fraudsters leave gift cards (30% of fraud; takeover 50%,
   scam 20%) while a gift-card promotion makes them 4.5% of legit purchases:
   ``gift_card_cashout`` falls to ~28%, below chance, and is the only vote on legit gift
   cards bought online, ~3% of all events (the static pipeline of ``bench drift`` never
   recovers from it). Answered by ``fraud_v2.yaml``.
3. ``new_pattern`` (40-60%): wallet top-ups from emulators appear (35% of fraud); a
   digital wallet also launches for legit customers (1.2% of purchases). No starter LF
   fires on these fraud events. Answered by ``fraud_v3.yaml``.
4. ``amount_shift`` (60-80%): a premium portfolio joins, legit amounts grow by half;
   takeover fraudsters keep under the $2,000 review limit ($1,700-$2,000): ``big_amount``
   (over $2,000) now fires mostly on legit spending. Answered by ``fraud_v4.yaml``.
5. ``fraud_rate_rise`` (80-100%): the fraud rate rises from 5% to 12% (same patterns).

Shipped LF sets (``streamlabel/datasets/lfsets/fraud_v*.yaml``, set ``fraud-stream``,
:func:`fraud_lfsets`): v1 the starter set; v2 narrows ``gift_card_cashout`` to online
cards of $200 or more (LF version 2) and adds ``small_gift_card`` (legit); v3 adds
``emulator`` and ``wallet_topup``; v4 drops ``big_amount`` and adds ``just_under_limit``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from streamlabel.datasets._streams import (
    DriftPhase,
    LabeledStream,
    _draw_rows,
    _load_packaged_lfsets,
    _make_phases,
    _phase_index,
)
from streamlabel.datasets._transactions import (
    _AMOUNT_MEDIAN,
    _AMOUNT_SIGMA,
    _CATEGORIES,
    _CATEGORY_P,
    _CITIES,
    _COUNTRIES,
    _COUNTRY_P,
    _HOUR_P,
    _MERCHANTS,
    _descriptor,
    _timestamps,
)

if TYPE_CHECKING:
    from streamlabel.lf import LFSet

__all__ = ["fraud_lfsets", "fraud_phases", "make_fraud_stream"]

_KIND_NAMES = ("legit", "gift_card", "takeover", "scam", "wallet_topup")
_LEGIT, _GIFT, _TAKEOVER, _SCAM, _WALLET = range(len(_KIND_NAMES))


class _Phase(NamedTuple):
    name: str
    start: float  # fraction of the stream
    fraud_rate: float
    mix: tuple[float, float, float, float]  # gift_card, takeover, scam, wallet_topup
    legit_gift_cards: float  # share of legit purchases that are gift cards
    legit_wallet: float  # share of legit purchases that are wallet top-ups
    amount_shift: bool  # legit amounts x1.5; takeover kept under the $2,000 limit
    description: str


# The drift script: each phase keeps the changes of the ones before it.
_SCRIPT = (
    _Phase(
        "baseline",
        0.0,
        0.05,
        (0.6, 0.25, 0.15, 0.0),
        0.002,
        0.0,
        False,
        "fraud 5%: gift-card cash-out 60%, account takeover 25%, scams 15%; legit "
        "gift cards are rare, so gift_card_cashout is ~95% accurate",
    ),
    _Phase(
        "tactic_change",
        0.2,
        0.05,
        (0.3, 0.5, 0.2, 0.0),
        0.045,
        0.0,
        False,
        "fraudsters leave gift cards (30% of fraud) while a promotion makes them 4.5% of "
        "legit purchases: gift_card_cashout drops below chance",
    ),
    _Phase(
        "new_pattern",
        0.4,
        0.05,
        (0.15, 0.35, 0.15, 0.35),
        0.045,
        0.012,
        False,
        "wallet top-ups from Android emulators (35% of fraud), which no starter LF "
        "covers; legit customers start using the wallet too",
    ),
    _Phase(
        "amount_shift",
        0.6,
        0.05,
        (0.15, 0.35, 0.15, 0.35),
        0.045,
        0.012,
        True,
        "legit amounts grow by half (a premium portfolio joins) while takeover fraud "
        "stays just under the $2,000 limit: big_amount fires mostly on legit spending",
    ),
    _Phase(
        "fraud_rate_rise",
        0.8,
        0.12,
        (0.15, 0.35, 0.15, 0.35),
        0.045,
        0.012,
        True,
        "the fraud rate rises from 5% to 12%, same patterns",
    ),
)

_F_CATEGORIES = (*_CATEGORIES, "digital_wallet")
_F_MERCHANTS = {**_MERCHANTS, "digital_wallet": ("WLT*TOPUP",)}
# Legit gift cards are small presents, unlike the cash-out cards of the transaction mix.
_F_MEDIAN = {**_AMOUNT_MEDIAN, "gift_cards": 50.0, "digital_wallet": 60.0}
_CAT = {c: i for i, c in enumerate(_F_CATEGORIES)}
# Share of a category's legit purchases made card-not-present (online or in an app).
_CNP_P = {
    "grocery": 0.05,
    "restaurant": 0.1,
    "fuel": 0.02,
    "pharmacy": 0.1,
    "online_retail": 1.0,
    "travel": 0.9,
    "electronics": 0.5,
    "atm": 0.0,
    "jewelry": 0.2,
    "gift_cards": 0.7,
    "gambling": 0.95,
    "crypto": 1.0,
    "digital_wallet": 1.0,
}

_DEVICES = (
    "pos_chip",
    "pos_contactless",
    "web_browser",
    "ios_app",
    "android_app",
    "android_emulator",
)
_IN_STORE_DEVICE_P = (0.7, 0.3, 0.0, 0.0, 0.0, 0.0)
_ONLINE_DEVICE_P = (0.0, 0.0, 0.55, 0.25, 0.198, 0.002)
_FRAUD_DEVICE_P = {
    _GIFT: (0.0, 0.0, 0.7, 0.0, 0.3, 0.0),
    # A few takeovers tap a stolen phone's wallet at a till.
    _TAKEOVER: (0.0, 0.05, 0.55, 0.2, 0.2, 0.0),
    _SCAM: (0.0, 0.0, 0.6, 0.2, 0.2, 0.0),
    _WALLET: (0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
}
# Where stolen-card fraud is run from, in _COUNTRIES order (US first: most cards are there).
_FRAUD_COUNTRY_P = (0.3, 0.06, 0.04, 0.04, 0.04, 0.12, 0.06, 0.14, 0.12, 0.08)
_TAKEOVER_CATS = (("electronics", 0.5), ("online_retail", 0.3), ("jewelry", 0.2))
_SCAM_CATS = (("online_retail", 0.4), ("travel", 0.2), ("electronics", 0.2), ("crypto", 0.2))
_LEGIT_SUFFIXES = ("", " refund", " urgent care")
_LEGIT_SUFFIX_P = (0.974, 0.025, 0.001)
_SCAM_SUFFIXES = (" urgent", " verify account", " 2FA", " wire transfer")
_ALL_SUFFIXES = (*_LEGIT_SUFFIXES, *_SCAM_SUFFIXES)
_GIFT_DENOMINATIONS = np.array([200.0, 250.0, 300.0, 500.0])
_GIFT_FEES = np.array([4.95, 5.95, 6.95])
#: The review limit takeover fraudsters learn to stay under in ``amount_shift``.
_REVIEW_LIMIT = 2000.0

_LFSET_FILES = ("fraud_v1.yaml", "fraud_v2.yaml", "fraud_v3.yaml", "fraud_v4.yaml")


def fraud_phases(n: int) -> tuple[DriftPhase, ...]:
    """Return the drift phases of a fraud stream of ``n`` events.

    The phases start at 0%, 20%, 40%, 60% and 80% of the stream: ``baseline``,
    ``tactic_change``, ``new_pattern``, ``amount_shift`` and ``fraud_rate_rise`` (see the
    module docstring for what each changes). Each keeps the changes of the ones before.

    Parameters
    ----------
    n
        Number of events in the stream.

    Returns
    -------
    tuple of DriftPhase
        Consecutive phases covering ``0..n``.

    Examples
    --------
    >>> from streamlabel.datasets import fraud_phases
    >>> [(p.name, p.start, p.stop) for p in fraud_phases(100)][:2]
    [('baseline', 0, 20), ('tactic_change', 20, 40)]
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return _make_phases(n, [(p.name, p.start, p.description) for p in _SCRIPT])


def _legit_category_table() -> NDArray[np.float64]:
    base = dict(zip(_CATEGORIES, _CATEGORY_P, strict=True))
    del base["gift_cards"]
    rest = sum(base.values())
    rows = []
    for ph in _SCRIPT:
        scale = (1.0 - ph.legit_gift_cards - ph.legit_wallet) / rest
        row = {c: p * scale for c, p in base.items()}
        row["gift_cards"] = ph.legit_gift_cards
        row["digital_wallet"] = ph.legit_wallet
        rows.append([row[c] for c in _F_CATEGORIES])
    return np.array(rows)


def _categories(
    rng: np.random.Generator, pairs: tuple[tuple[str, float], ...], size: int
) -> NDArray[np.int64]:
    idx = rng.choice(len(pairs), size=size, p=[p for _, p in pairs])
    return np.array([_CAT[c] for c, _ in pairs], dtype=np.int64)[idx]


def make_fraud_stream(n: int, seed: int = 0, *, start_ts: float = 1.7e9) -> LabeledStream:
    """Generate a drifting card-fraud stream of ``n`` events with its ground truth.

    Parameters
    ----------
    n
        Number of events.
    seed
        Seed of the numpy random generator; the same seed gives the same stream.
    start_ts
        Timestamp (epoch seconds) of the first event; events are about 0.5 s apart.

    Returns
    -------
    LabeledStream
        ``events`` (``{"id", "ts", "entity", "payload"}``; payload fields ``amount``,
        ``merchant_category``, ``country``, ``device``, ``hour``, ``tx_last_hour``,
        ``tx_last_day``, ``descriptor``), ``y`` (0 legit, 1 fraud), ``kind`` (the fraud
        pattern, see ``kind_names``) and the phases of :func:`fraud_phases`.

    Examples
    --------
    >>> from streamlabel.datasets import make_fraud_stream
    >>> s = make_fraud_stream(2000, seed=1)
    >>> sorted(s.events[0]), sorted(s.events[0]["payload"])[:4]
    (['entity', 'id', 'payload', 'ts'], ['amount', 'country', 'descriptor', 'device'])
    >>> s.y.shape, s.kind_names[s.kind[s.y == 1][0]] != "legit"
    ((2000,), True)
    >>> bool(s.y[s.phase("fraud_rate_rise").as_slice()].mean() > s.y[:400].mean())
    True
    """
    phases = fraud_phases(n)
    rng = np.random.default_rng(seed)
    ph = _phase_index(phases, n)
    kinds = np.array([(1.0 - p.fraud_rate, *(p.fraud_rate * m for m in p.mix)) for p in _SCRIPT])
    kind = _draw_rows(rng, kinds, ph)
    shifted = np.array([p.amount_shift for p in _SCRIPT])[ph]

    # Every event is first drawn as a legit purchase; fraud rows are then overwritten
    # field by field with their pattern's distributions.
    cat = _draw_rows(rng, _legit_category_table(), ph)
    country = rng.choice(len(_COUNTRIES), size=n, p=_COUNTRY_P)
    hour = rng.choice(24, size=n, p=_HOUR_P)
    medians = np.array([_F_MEDIAN[c] for c in _F_CATEGORIES])[cat]
    amount = medians * rng.lognormal(0.0, _AMOUNT_SIGMA, size=n) * np.where(shifted, 1.5, 1.0)
    online = rng.random(n) < np.array([_CNP_P[c] for c in _F_CATEGORIES])[cat]
    device = np.where(
        online,
        rng.choice(len(_DEVICES), size=n, p=_ONLINE_DEVICE_P),
        rng.choice(len(_DEVICES), size=n, p=_IN_STORE_DEVICE_P),
    )
    heavy = rng.random(n) < 0.03
    tx_hour = rng.poisson(np.where(heavy, 2.5, 0.3))
    tx_day = tx_hour + rng.poisson(np.where(heavy, 10.0, 3.0))
    suffix = rng.choice(len(_LEGIT_SUFFIXES), size=n, p=_LEGIT_SUFFIX_P)

    fraud = kind != _LEGIT
    suffix[fraud] = 0
    n_fraud = int(fraud.sum())
    tx_day[fraud] = rng.poisson(3.0, size=n_fraud)  # the hour's count is added below
    for k, probs in _FRAUD_DEVICE_P.items():
        sel = kind == k
        device[sel] = rng.choice(len(_DEVICES), size=int(sel.sum()), p=probs)

    sel = kind == _GIFT
    m = int(sel.sum())
    cat[sel] = _CAT["gift_cards"]
    amount[sel] = rng.choice(_GIFT_DENOMINATIONS, size=m) + rng.choice(_GIFT_FEES, size=m)
    hour[sel] = np.where(rng.random(m) < 0.5, rng.integers(0, 5, size=m), hour[sel])
    country[sel] = rng.choice(len(_COUNTRIES), size=m, p=_FRAUD_COUNTRY_P)
    tx_hour[sel] = rng.poisson(1.5, size=m)

    sel = kind == _TAKEOVER
    m = int(sel.sum())
    cat[sel] = _categories(rng, _TAKEOVER_CATS, m)
    amount[sel] = np.where(
        shifted[sel],
        # Just under the limit, the cent-rounded amount included.
        rng.uniform(_REVIEW_LIMIT - 300.0, _REVIEW_LIMIT - 0.01, size=m),
        1800.0 * rng.lognormal(0.0, 0.5, size=m),
    )
    country[sel] = rng.choice(len(_COUNTRIES), size=m, p=_FRAUD_COUNTRY_P)
    tx_hour[sel] = 3 + rng.poisson(3.0, size=m)

    sel = kind == _SCAM
    m = int(sel.sum())
    cat[sel] = _categories(rng, _SCAM_CATS, m)
    amount[sel] = 400.0 * rng.lognormal(0.0, _AMOUNT_SIGMA, size=m)
    suffix[sel] = len(_LEGIT_SUFFIXES) + rng.integers(0, len(_SCAM_SUFFIXES), size=m)
    tx_hour[sel] = rng.poisson(0.8, size=m)

    sel = kind == _WALLET
    m = int(sel.sum())
    cat[sel] = _CAT["digital_wallet"]
    amount[sel] = 50.0 * rng.integers(1, 7, size=m)
    home = np.asarray(_COUNTRY_P[:5])
    country[sel] = rng.choice(5, size=m, p=home / home.sum())
    tx_hour[sel] = np.minimum(rng.poisson(0.4, size=m), 2)

    tx_day[fraud] += tx_hour[fraud]
    amount = np.round(amount, 2)
    card = rng.integers(0, max(10, n // 20), size=n)
    ts = _timestamps(rng, n, start_ts)
    merch_u = rng.random(n)
    city = rng.integers(0, len(_CITIES), size=n)
    store = rng.integers(100, 10_000, size=n)

    events: list[dict[str, Any]] = []
    append = events.append
    for i, (c, k, dv, h, a, th, td, sf, cd, t, u, ct, st) in enumerate(
        zip(
            cat.tolist(),
            country.tolist(),
            device.tolist(),
            hour.tolist(),
            amount.tolist(),
            tx_hour.tolist(),
            tx_day.tolist(),
            suffix.tolist(),
            card.tolist(),
            ts.tolist(),
            merch_u.tolist(),
            city.tolist(),
            store.tolist(),
            strict=True,
        )
    ):
        category = _F_CATEGORIES[c]
        append(
            {
                "id": f"tx{i:09d}",
                "ts": t,
                "entity": f"card_{cd:06d}",
                "payload": {
                    "amount": a,
                    "merchant_category": category,
                    "country": _COUNTRIES[k],
                    "device": _DEVICES[dv],
                    "hour": h,
                    "tx_last_hour": th,
                    "tx_last_day": td,
                    "descriptor": _descriptor(_F_MERCHANTS[category], u, st, ct, _ALL_SUFFIXES[sf]),
                },
            }
        )
    return LabeledStream(
        name="fraud",
        events=events,
        y=(kind != _LEGIT).astype(np.int64),
        kind=kind,
        kind_names=_KIND_NAMES,
        phases=phases,
        label_names=("legit", "fraud"),
    )


def fraud_lfsets() -> list[LFSet]:
    """Load the shipped versions of the ``fraud-stream`` LF set, oldest first.

    ``fraud_v1.yaml`` is the starter set; ``fraud_v2.yaml``, ``fraud_v3.yaml`` and
    ``fraud_v4.yaml`` are what an analyst pushes after the ``tactic_change``,
    ``new_pattern`` and ``amount_shift`` phases of :func:`make_fraud_stream`. An LF whose
    logic changes gets a new LF version, so the list registers in order in an
    :class:`~streamlabel.lf.LFSetRegistry`.

    Returns
    -------
    list of LFSet
        Set versions ``"1"`` to ``"4"``.

    Examples
    --------
    >>> from streamlabel.datasets import fraud_lfsets
    >>> sets = fraud_lfsets()
    >>> [s.version for s in sets], sets[0].name
    (['1', '2', '3', '4'], 'fraud-stream')
    >>> sets[0].diff(sets[1]).changed
    (('gift_card_cashout@1', 'gift_card_cashout@2'),)
    """
    return _load_packaged_lfsets(_LFSET_FILES)


#: The phases of :func:`make_fraud_stream` an analyst answers with an LF set push, and the
#: index of the pushed set in :func:`fraud_lfsets`.
FRAUD_PUSHES = (("tactic_change", 1), ("new_pattern", 2), ("amount_shift", 3))


def fraud_push_points(
    stream: LabeledStream, delay: int, batch_size: int = 1
) -> list[tuple[int, int]]:
    """Return when the analyst pushes each answering LF set: ``(event index, set index)``.

    Each push comes ``delay`` events after the start of the phase it answers, moved on to
    the next multiple of ``batch_size`` (a push takes effect between batches); pushes that
    would fall at or after the stream's end are left out.

    Examples
    --------
    >>> from streamlabel.datasets import fraud_push_points, make_fraud_stream
    >>> fraud_push_points(make_fraud_stream(10_000), 300, batch_size=500)
    [(2500, 1), (4500, 2), (6500, 3)]
    """
    n = len(stream.y)
    points = []
    for name, k in FRAUD_PUSHES:
        at = -(-(stream.phase(name).start + delay) // batch_size) * batch_size
        if at < n:
            points.append((at, k))
    return points
