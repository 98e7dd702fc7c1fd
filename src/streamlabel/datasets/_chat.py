"""A seeded trade-surveillance chat stream whose suspicious lingo drifts, with ground truth.

Events are shaped as the labeler reads them, the trader as the entity::

    {"id": "msg000000042", "ts": 1700000021.3, "entity": "trader_0031",
     "payload": {"desk": "fx", "channel": "symphony", "hour": 10,
                 "text": "can you show me a two-way in EURUSD?"}}

The true class (0 benign, 1 suspicious) is returned beside the events, never inside them.

Distributions
-------------
``max(20, n // 100)`` traders, each on one desk (rates 25%, FX 25%, equities 20%, credit
15%, commodities 15%) that sets the products they talk about. Messages go out on Bloomberg
IB (55%), Symphony (30%) or Teams (15%), mostly in trading hours (peaks at 9-10 am and 2-3
pm, a little before 7 am and after 8 pm). Benign messages are quotes, tickets, desk
colour and small talk; 0.5% of them look like misconduct without being it ("move the
meeting before the client call", "split the ticket between us and ..."), 0.1% mention
cake (a birthday). Suspicious messages come from a ring of 5% of the traders and use one
of six kinds of lingo (``LabeledStream.kind_names``): ``secrecy`` ("keep this between
us"), ``take_offline`` ("let's take this offline"), ``off_channel`` ("call me on my
cell"), ``front_running`` ("get in ahead of the client"), ``fixing`` ("push the fix
higher") and ``code_words`` ("is the cake baked?"). Suspicious rates (4%, then 10%) are
inflated against real surveillance feeds so that every phase of a 20,000-message test has
enough of them to measure an LF's accuracy.

Drift script
------------
Four cumulative phases over fixed fractions of the stream (:func:`chat_phases`):

1. ``baseline`` (0-25%): 4% suspicious: secrecy 30%, take_offline 40%, front-running and
   fixing 15% each; 0.1% of benign messages say "offline". The starter LF
   ``take_offline`` (any "offline") is right ~95% of the time.
2. ``evasion`` (25-50%): traders learn that "offline" is flagged: take_offline lingo falls
   to 25% of suspicious messages, off-channel lingo ("ping me on signal") takes 25%, while
   a systems migration puts "offline" into 1.5% of benign messages: ``take_offline``
   drops to ~40%, below chance. Answered by ``chat_v2.yaml``.
3. ``new_code`` (50-75%): coded lingo about cakes and ovens (25% of suspicious messages;
   take_offline 15%, off-channel 25%, secrecy 20%, front-running 10%, fixing 5%) that no
   starter LF covers. Answered by ``chat_v3.yaml``.
4. ``month_end`` (75-100%): around the month-end fix the suspicious rate rises from 4% to
   10% (same lingo).

Shipped LF sets (``streamlabel/datasets/lfsets/chat_v*.yaml``, set
``chat-surveillance``, :func:`chat_lfsets`): v1 the starter set; v2 narrows
``take_offline`` to the phrases of the suspicious lingo (LF version 2) and adds
``off_channel``; v3 adds ``code_words``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from streamlabel.datasets._streams import (
    DriftPhase,
    LabeledStream,
    _draw_rows,
    _load_packaged_lfsets,
    _make_phases,
    _phase_index,
)
from streamlabel.datasets._transactions import _timestamps

if TYPE_CHECKING:
    from streamlabel.lf import LFSet

__all__ = ["chat_lfsets", "chat_phases", "make_chat_stream"]

_KIND_NAMES = (
    "benign",
    "secrecy",
    "take_offline",
    "off_channel",
    "front_running",
    "fixing",
    "code_words",
)


class _Phase(NamedTuple):
    name: str
    start: float  # fraction of the stream
    suspicious_rate: float
    # secrecy, take_offline, off_channel, front_running, fixing, code_words
    mix: tuple[float, float, float, float, float, float]
    benign_offline: float  # share of benign messages that say "offline"
    description: str


# The drift script: each phase keeps the changes of the ones before it.
_SCRIPT = (
    _Phase(
        "baseline",
        0.0,
        0.04,
        (0.3, 0.4, 0.0, 0.15, 0.15, 0.0),
        0.001,
        "4% suspicious: secrecy 30%, take-it-offline 40%, front-running 15%, fixing 15%; "
        "benign chat rarely says offline, so take_offline is ~95% accurate",
    ),
    _Phase(
        "evasion",
        0.25,
        0.04,
        (0.25, 0.25, 0.25, 0.125, 0.125, 0.0),
        0.015,
        "traders avoid 'offline' for off-channel lingo (signal, my cell) while a systems "
        "migration puts 'offline' into benign chat: take_offline drops to chance",
    ),
    _Phase(
        "new_code",
        0.5,
        0.04,
        (0.2, 0.15, 0.25, 0.1, 0.05, 0.25),
        0.015,
        "coded lingo about cakes and ovens (25% of suspicious messages), which no "
        "starter LF covers",
    ),
    _Phase(
        "month_end",
        0.75,
        0.10,
        (0.2, 0.15, 0.25, 0.1, 0.05, 0.25),
        0.015,
        "around the month-end fix the suspicious rate rises from 4% to 10%, same lingo",
    ),
)

_DESKS = ("rates", "fx", "equities", "credit", "commodities")
_DESK_P = (0.25, 0.25, 0.2, 0.15, 0.15)
_PRODUCTS = {
    "rates": ("10y UST", "5s30s", "EUR swaps", "2y Schatz", "gilts"),
    "fx": ("EURUSD", "USDJPY", "cable", "AUDUSD", "EURCHF"),
    "equities": ("SPX futs", "AAPL", "VOD LN", "a block of TSLA", "SX5E"),
    "credit": ("IG index", "HY bonds", "CDX", "iTraxx Main", "the new issue"),
    "commodities": ("Brent", "WTI", "gold", "copper", "nat gas"),
}
_CHANNELS = ("bloomberg_ib", "symphony", "teams")
_CHANNEL_P = (0.55, 0.3, 0.15)
_FLOOR_HOURS = np.array(
    [0.2, 0.2, 0.2, 0.2, 0.2, 0.3, 1, 4, 8, 10, 10, 9, 6, 7, 9, 9, 8, 5, 3, 2, 1, 1, 0.5, 0.3]
)
_FLOOR_HOUR_P = _FLOOR_HOURS / _FLOOR_HOURS.sum()
_SIZES = np.array([5, 10, 15, 20, 25, 50, 100])
_NAMES = ("Sam", "Priya", "Tom", "Ana", "Kenji", "Lena", "Omar")

# Templates: {p} product, {q} size in millions, {px} price, {who} a colleague.
_BENIGN = (
    "can you show me a two-way in {p}?",
    "{q}m {p} at {px}, done",
    "pls confirm the ticket for {q}m {p}",
    "any axes in {p} today?",
    "booked {q}m {p}, settlement T+2",
    "market looks heavy in {p}, careful",
    "lunch at 12:30?",
    "client asking for an indication in {p}",
    "running late, call you back in 5",
    "thanks, will check with {who}",
    "{who} is covering {p} this afternoon",
    "what's your view on {p} into the data?",
)
# Benign messages that look like misconduct to a careless rule.
_BENIGN_LOOKALIKE = (
    "can we move the meeting before the client call?",
    "split the {p} ticket between us and {who}'s book",
    "do you have time before the client lunch?",
    "the fix is at 4pm London, watch {p}",
)
_BENIGN_OFFLINE = (
    "systems offline tonight for the upgrade",
    "I'll be offline tomorrow, ping {who} for {p}",
    "pricer went offline again",
    "offline till 2, dentist",
)
_BENIGN_CAKE = ("cake in the kitchen for {who}'s birthday!", "who baked the cake? amazing")
_SUSPICIOUS = (
    (
        "keep this between us, {p} gets hit at the open",
        "delete this after you read it: {q}m {p} for my book",
        "off the record, the client is selling {p}",
        "don't put this in chat, same as last time in {p}",
    ),
    (
        "let's take this offline, big one in {p}",
        "take it offline, I'll tell you the size in {p}",
        "go offline and I'll explain the {p} trade",
    ),
    (
        "call me on my cell about {p}",
        "ping me on signal, not here",
        "whatsapp me the size in {p}",
        "use my personal phone for the {p} thing",
    ),
    (
        "big client order in {p} coming, get in ahead of the client",
        "buy {q}m {p} before the client ticket prints",
        "load up ahead of the client, {q}m {p}",
    ),
    (
        "push the fix higher in {p}, I need it",
        "we need a high print at the close in {p}",
        "let's move the close in {p}, you in?",
        "ramp the fix with {q}m {p}",
    ),
    (
        "is the cake baked for {p}?",
        "oven's hot, bake it at 4 in {p}",
        "usual recipe, {q}m {p}, same kitchen",
        "bring the cake to the party in {p}",
    ),
)
# One template list per text group: benign, lookalike, offline, cake, then the lingo of
# each suspicious kind in _KIND_NAMES order.
_GROUPS = (_BENIGN, _BENIGN_LOOKALIKE, _BENIGN_OFFLINE, _BENIGN_CAKE, *_SUSPICIOUS)
_LOOKALIKE_P = 0.005
_CAKE_P = 0.001

_LFSET_FILES = ("chat_v1.yaml", "chat_v2.yaml", "chat_v3.yaml")


def chat_phases(n: int) -> tuple[DriftPhase, ...]:
    """Return the drift phases of a chat stream of ``n`` messages.

    The phases start at 0%, 25%, 50% and 75% of the stream: ``baseline``, ``evasion``,
    ``new_code`` and ``month_end`` (see the module docstring for what each changes). Each
    keeps the changes of the ones before.

    Parameters
    ----------
    n
        Number of messages in the stream.

    Returns
    -------
    tuple of DriftPhase
        Consecutive phases covering ``0..n``.

    Examples
    --------
    >>> from streamlabel.datasets import chat_phases
    >>> [(p.name, p.start) for p in chat_phases(1000)]
    [('baseline', 0), ('evasion', 250), ('new_code', 500), ('month_end', 750)]
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return _make_phases(n, [(p.name, p.start, p.description) for p in _SCRIPT])


def make_chat_stream(n: int, seed: int = 0, *, start_ts: float = 1.7e9) -> LabeledStream:
    """Generate a trade-surveillance chat stream of ``n`` messages with its ground truth.

    Parameters
    ----------
    n
        Number of messages.
    seed
        Seed of the numpy random generator; the same seed gives the same stream.
    start_ts
        Timestamp (epoch seconds) of the first message; messages are about 0.5 s apart.

    Returns
    -------
    LabeledStream
        ``events`` (``{"id", "ts", "entity", "payload"}``, the entity a trader id; payload
        fields ``desk``, ``channel``, ``hour``, ``text``), ``y`` (0 benign, 1 suspicious),
        ``kind`` (the lingo, see ``kind_names``) and the phases of :func:`chat_phases`.

    Examples
    --------
    >>> from streamlabel.datasets import make_chat_stream
    >>> s = make_chat_stream(2000, seed=1)
    >>> s.events[0]["entity"][:7], sorted(s.events[0]["payload"])
    ('trader_', ['channel', 'desk', 'hour', 'text'])
    >>> code = s.kind == s.kind_id("code_words")
    >>> bool(code[: s.phase("new_code").start].any()), bool(code.any())
    (False, True)
    """
    phases = chat_phases(n)
    rng = np.random.default_rng(seed)
    ph = _phase_index(phases, n)
    kinds = np.array(
        [(1.0 - p.suspicious_rate, *(p.suspicious_rate * m for m in p.mix)) for p in _SCRIPT]
    )
    kind = _draw_rows(rng, kinds, ph)
    benign_groups = np.array(
        [
            (
                1.0 - _LOOKALIKE_P - p.benign_offline - _CAKE_P,
                _LOOKALIKE_P,
                p.benign_offline,
                _CAKE_P,
            )
            for p in _SCRIPT
        ]
    )
    # Text group: a benign group for benign messages, else the group of the message's lingo.
    group = np.where(kind == 0, _draw_rows(rng, benign_groups, ph), kind + 3)

    n_traders = max(20, n // 100)
    trader_desk = rng.choice(len(_DESKS), size=n_traders, p=_DESK_P)
    ring = rng.choice(n_traders, size=max(2, n_traders // 20), replace=False)
    trader = np.where(
        kind == 0,
        rng.integers(0, n_traders, size=n),
        ring[rng.integers(0, ring.size, size=n)],
    )
    channel = rng.choice(len(_CHANNELS), size=n, p=_CHANNEL_P)
    hour = rng.choice(24, size=n, p=_FLOOR_HOUR_P)
    template_u = rng.random(n)
    product_u = rng.random(n)
    size = rng.choice(_SIZES, size=n)
    price = np.round(rng.uniform(90.0, 110.0, size=n), 2)
    who = rng.integers(0, len(_NAMES), size=n)
    ts = _timestamps(rng, n, start_ts)

    events: list[dict[str, Any]] = []
    append = events.append
    for i, (g, tr, ch, h, tu, pu, q, px, w, t) in enumerate(
        zip(
            group.tolist(),
            trader.tolist(),
            channel.tolist(),
            hour.tolist(),
            template_u.tolist(),
            product_u.tolist(),
            size.tolist(),
            price.tolist(),
            who.tolist(),
            ts.tolist(),
            strict=True,
        )
    ):
        desk = _DESKS[trader_desk[tr]]
        templates = _GROUPS[g]
        products = _PRODUCTS[desk]
        text = templates[int(tu * len(templates))].format(
            p=products[int(pu * len(products))], q=q, px=f"{px:.2f}", who=_NAMES[w]
        )
        append(
            {
                "id": f"msg{i:09d}",
                "ts": t,
                "entity": f"trader_{tr:04d}",
                "payload": {"desk": desk, "channel": _CHANNELS[ch], "hour": h, "text": text},
            }
        )
    return LabeledStream(
        name="chat",
        events=events,
        y=(kind != 0).astype(np.int64),
        kind=kind,
        kind_names=_KIND_NAMES,
        phases=phases,
        label_names=("benign", "suspicious"),
    )


def chat_lfsets() -> list[LFSet]:
    """Load the shipped versions of the ``chat-surveillance`` LF set, oldest first.

    ``chat_v1.yaml`` is the starter set; ``chat_v2.yaml`` and ``chat_v3.yaml`` are what an
    analyst pushes after the ``evasion`` and ``new_code`` phases of
    :func:`make_chat_stream`. An LF whose logic changes gets a new LF version, so the list
    registers in order in an :class:`~streamlabel.lf.LFSetRegistry`.

    Returns
    -------
    list of LFSet
        Set versions ``"1"`` to ``"3"``.

    Examples
    --------
    >>> from streamlabel.datasets import chat_lfsets
    >>> sets = chat_lfsets()
    >>> [s.version for s in sets], sets[0].name
    (['1', '2', '3'], 'chat-surveillance')
    >>> sets[1].diff(sets[2]).added
    ('code_words@1',)
    """
    return _load_packaged_lfsets(_LFSET_FILES)
