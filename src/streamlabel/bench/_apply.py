"""``bench apply``: throughput of LF application, code vs declarative vs a plain loop.

Ten labeling functions over generated card transactions (seven on the free-text
descriptor, three numeric), written once as plain Python functions and once as a
declarative spec with the same meaning, are applied to the same events by:

- a plain Python loop ``[[f(e) for f in fns] for e in events]`` (the floor any applier
  adds overhead to; its time excludes turning the lists into an array);
- :class:`~streamlabel.lf.LFApplier` over the code LFs;
- :class:`~streamlabel.lf.LFApplier` over the compiled declarative LFs;
- snorkel's ``PandasLFApplier`` over the same functions, when snorkel is installed (the
  DataFrame is built outside the timed region).

A second workload, ten one-keyword LFs (the shape of the earlier snorkel measurement),
is timed the same way and reported under ``keywords``. All methods must produce the
identical label matrix; the result says so.
"""

from __future__ import annotations

import gc
import platform
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamlabel.datasets import make_transactions
from streamlabel.lf import ABSTAIN, LabelingFunction, LFApplier, LFSet

__all__ = ["bench_apply", "bench_code_lfs", "bench_lfset_spec"]

FRAUD, LEGIT = 1, 0

_CRYPTO = re.compile(r"\b(?:bitcoin|btc|crypto|coinbase|binance|kraken)\b", re.IGNORECASE)
_WIRE = re.compile(r"wire\s+transfer", re.IGNORECASE)
_REFUND = re.compile(r"\brefund(?:ed)?\b", re.IGNORECASE)
_CASH = re.compile(r"\b(?:ATM|CASH ADVANCE)\b")


# The functions index events with ``x["field"]`` so that they run unchanged on dicts and on
# the pandas rows snorkel passes.
def lf_gambling(x: Any) -> int:
    """Gambling merchants."""
    t = x["descriptor"].lower()
    return FRAUD if ("casino" in t or "poker" in t or "slots" in t or "bet365" in t) else ABSTAIN


def lf_crypto(x: Any) -> int:
    """Crypto exchanges and ATMs."""
    return FRAUD if _CRYPTO.search(x["descriptor"]) else ABSTAIN


def lf_gift_cards(x: Any) -> int:
    """Gift and prepaid cards, a classic cash-out route."""
    t = x["descriptor"].lower()
    return FRAUD if ("gift card" in t or "prepaid" in t) else ABSTAIN


def lf_social_engineering(x: Any) -> int:
    """Words of scam scripts."""
    t = x["descriptor"].lower()
    return FRAUD if ("urgent" in t or "verify account" in t or "2fa" in t) else ABSTAIN


def lf_wire(x: Any) -> int:
    """Wire transfers."""
    return FRAUD if _WIRE.search(x["descriptor"]) else ABSTAIN


def lf_cash(x: Any) -> int:
    """Cash withdrawals and advances (upper-case card-network wording)."""
    return FRAUD if _CASH.search(x["descriptor"]) else ABSTAIN


def lf_refund(x: Any) -> int:
    """Refunds are rarely fraud."""
    return LEGIT if _REFUND.search(x["descriptor"]) else ABSTAIN


def lf_big_amount(x: Any) -> int:
    """Large amounts."""
    return FRAUD if x["amount"] > 1500.0 else ABSTAIN


def lf_night(x: Any) -> int:
    """Spending between midnight and 4 am."""
    return FRAUD if 0 <= x["hour"] <= 4 else ABSTAIN


def lf_small_grocery(x: Any) -> int:
    """Small grocery purchases are almost always legitimate."""
    return LEGIT if x["merchant_category"] == "grocery" and x["amount"] < 100.0 else ABSTAIN


_FUNCTIONS: tuple[tuple[Callable[[Any], int], tuple[str, ...]], ...] = (
    (lf_gambling, ("descriptor",)),
    (lf_crypto, ("descriptor",)),
    (lf_gift_cards, ("descriptor",)),
    (lf_social_engineering, ("descriptor",)),
    (lf_wire, ("descriptor",)),
    (lf_cash, ("descriptor",)),
    (lf_refund, ("descriptor",)),
    (lf_big_amount, ("amount",)),
    (lf_night, ("hour",)),
    (lf_small_grocery, ("merchant_category", "amount")),
)


_KEYWORDS = (
    "casino",
    "poker",
    "bitcoin",
    "gift card",
    "prepaid",
    "urgent",
    "wire transfer",
    "refund",
    "atm",
    "2fa",
)


def _substring_lf(word: str) -> Callable[[Any], int]:
    def lf(x: Any) -> int:
        return FRAUD if word in x["descriptor"].lower() else ABSTAIN

    lf.__name__ = lf.__qualname__ = "kw_" + word.replace(" ", "_")
    return lf


# The shape of the earlier snorkel measurement: ten one-keyword LFs on one text field.
_KEYWORD_FUNCTIONS = tuple((_substring_lf(w), ("descriptor",)) for w in _KEYWORDS)


def _kw(field: str, keywords: list[str], **options: Any) -> dict[str, Any]:
    return {"kind": "keyword", "field": field, "keywords": keywords, **options}


def bench_lfset_spec(workload: str = "mixed") -> dict[str, Any]:
    """Return the declarative spec equivalent to :func:`bench_code_lfs`, as a dict.

    ``workload`` is ``"mixed"`` (7 text LFs, 3 numeric) or ``"keywords"`` (10 one-keyword
    LFs).
    """
    d = "descriptor"
    if workload == "keywords":
        return {
            "name": "bench_keywords",
            "version": "1",
            "cardinality": 2,
            "lfs": [
                {"name": f.__name__, "label": FRAUD, "when": _kw(d, [w], word_boundary=False)}
                for (f, _), w in zip(_KEYWORD_FUNCTIONS, _KEYWORDS, strict=True)
            ],
        }
    if workload != "mixed":
        raise ValueError(f"unknown workload {workload!r}")
    whens: list[dict[str, Any]] = [
        _kw(d, ["casino", "poker", "slots", "bet365"], word_boundary=False),
        _kw(d, ["bitcoin", "btc", "crypto", "coinbase", "binance", "kraken"]),
        _kw(d, ["gift card", "prepaid"], word_boundary=False),
        _kw(d, ["urgent", "verify account", "2fa"], word_boundary=False),
        {"kind": "regex", "field": d, "pattern": r"wire\s+transfer", "ignore_case": True},
        _kw(d, ["ATM", "CASH ADVANCE"], case_sensitive=True),
        {"kind": "regex", "field": d, "pattern": r"\brefund(?:ed)?\b", "ignore_case": True},
        {"kind": "threshold", "field": "amount", "op": "gt", "value": 1500.0},
        {"kind": "range", "field": "hour", "min": 0, "max": 4},
        {
            "kind": "all",
            "conditions": [
                {"kind": "equals", "field": "merchant_category", "value": "grocery"},
                {"kind": "threshold", "field": "amount", "op": "lt", "value": 100.0},
            ],
        },
    ]
    labels = [FRAUD] * 6 + [LEGIT] + [FRAUD] * 2 + [LEGIT]
    return {
        "name": "bench_fraud",
        "version": "1",
        "cardinality": 2,
        "label_names": ["legit", "fraud"],
        "lfs": [
            {"name": f.__name__, "label": label, "when": when}
            for (f, _), label, when in zip(_FUNCTIONS, labels, whens, strict=True)
        ],
    }


def _functions(workload: str) -> tuple[tuple[Callable[[Any], int], tuple[str, ...]], ...]:
    if workload not in ("mixed", "keywords"):
        raise ValueError(f"unknown workload {workload!r}")
    return _FUNCTIONS if workload == "mixed" else _KEYWORD_FUNCTIONS


def bench_code_lfs(workload: str = "mixed") -> list[LabelingFunction]:
    """Return the ten code LFs of a benchmark workload (see :func:`bench_lfset_spec`)."""
    return [LabelingFunction(f.__name__, f, fields=fields) for f, fields in _functions(workload)]


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        gc.collect()  # start every run from the same heap state; gc stays enabled
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _snorkel_apply(
    events: list[dict[str, Any]], functions: Any, repeats: int
) -> tuple[dict[str, Any], Any]:
    try:
        import pandas as pd
        import snorkel
        from snorkel.labeling import LabelingFunction as SnorkelLF
        from snorkel.labeling import PandasLFApplier
    except Exception as exc:  # any import failure means "not available here"
        return {"available": False, "skipped": f"snorkel not importable: {exc!r}"}, None
    df = pd.DataFrame(events)
    lfs = [SnorkelLF(name=f.__name__, f=f) for f, _ in functions]
    applier = PandasLFApplier(lfs)
    seconds, L = _best(lambda: applier.apply(df, progress_bar=False), repeats)
    info = {"available": True, "version": getattr(snorkel, "__version__", "?"), "seconds": seconds}
    return info, np.asarray(L, dtype=np.int64)


def _run_workload(
    events: list[dict[str, Any]], workload: str, repeats: int
) -> tuple[dict[str, Any], NDArray[np.int64], LFSet]:
    """Time every method on one workload; check they all give the same ``L``."""
    n = len(events)
    fns = [f for f, _ in _functions(workload)]
    code = LFApplier(bench_code_lfs(workload), cardinality=2)
    lfset = LFSet.from_spec(bench_lfset_spec(workload))
    decl = LFApplier(lfset)

    seconds: dict[str, float] = {}
    seconds["plain_loop"], plain = _best(lambda: [[f(e) for f in fns] for e in events], repeats)
    L_plain: NDArray[np.int64] = np.asarray(plain, dtype=np.int64).reshape(n, len(fns))
    seconds["applier_code"], L_code = _best(lambda: code.apply_many(events), repeats)
    seconds["applier_declarative"], L_decl = _best(lambda: decl.apply_many(events), repeats)
    snorkel_info, L_snorkel = _snorkel_apply(events, _functions(workload), repeats)

    checks = {"applier_code": L_code, "applier_declarative": L_decl}
    if L_snorkel is not None:
        checks["snorkel_pandas"] = L_snorkel
        seconds["snorkel_pandas"] = snorkel_info.pop("seconds")
    for name, L in checks.items():
        if L.shape != L_plain.shape or not np.array_equal(L, L_plain):
            rows = np.flatnonzero((L != L_plain).any(axis=1))[:5].tolist()
            raise AssertionError(f"{name} label matrix differs from the plain loop at rows {rows}")
    faults = sum(code.fault_counts_.values()) + sum(decl.fault_counts_.values())
    invalid = sum(code.invalid_counts_.values()) + sum(decl.invalid_counts_.values())
    if faults or invalid:
        raise AssertionError(f"unexpected faults ({faults}) or invalid events ({invalid})")

    rate = {k: n / v for k, v in seconds.items()}
    ratios = {
        "code_vs_plain": rate["applier_code"] / rate["plain_loop"],
        "declarative_vs_plain": rate["applier_declarative"] / rate["plain_loop"],
    }
    if "snorkel_pandas" in rate:
        for k in ("plain_loop", "applier_code", "applier_declarative"):
            ratios[f"{k}_vs_snorkel"] = rate[k] / rate["snorkel_pandas"]
    result = {
        "rows_per_s": {k: round(v, 1) for k, v in rate.items()},
        "seconds": {k: round(v, 6) for k, v in seconds.items()},
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "identical_L": True,
        "snorkel": snorkel_info,
    }
    return result, L_plain, lfset


def bench_apply(n_events: int = 100_000, seed: int = 0, repeats: int = 3) -> dict[str, Any]:
    """Measure LF application throughput (rows/s, best of ``repeats``).

    The main workload (``"mixed"``: seven text LFs, three numeric) is reported at the top
    level; ``"keywords"`` (ten one-keyword LFs, the shape of the earlier snorkel
    measurement) is reported under the ``keywords`` key.

    Parameters
    ----------
    n_events
        Number of generated transactions.
    seed
        Seed of the transaction generator.
    repeats
        Timed runs per method; the best is kept.

    Returns
    -------
    dict
        JSON-able results: ``rows_per_s`` and ``seconds`` per method, ``ratios``,
        ``identical_L`` (always ``True``: a mismatch raises), coverage, and the snorkel
        status.

    Examples
    --------
    >>> from streamlabel.bench import bench_apply
    >>> out = bench_apply(n_events=200, repeats=1)
    >>> out["identical_L"], out["n_lfs"], sorted(out["rows_per_s"])[:3]
    (True, 10, ['applier_code', 'applier_declarative', 'plain_loop'])
    """
    if n_events < 1 or repeats < 1:
        raise ValueError("n_events and repeats must be >= 1")
    events = make_transactions(n_events, seed=seed)
    mixed, L, lfset = _run_workload(events, "mixed", repeats)
    keywords, _, _ = _run_workload(events, "keywords", repeats)
    keywords.pop("snorkel")
    return {
        "bench": "apply",
        "n_events": n_events,
        "seed": seed,
        "repeats": repeats,
        "workload": "mixed",
        "n_lfs": len(lfset),
        "lfs": {"text": 7, "numeric": 3},
        **mixed,
        "coverage": float(np.mean((L != ABSTAIN).any(axis=1))),
        "votes_per_lf": _votes_per_lf(L, lfset.ids),
        "keywords": {"workload": "10 one-keyword LFs on the descriptor", **keywords},
        "plain_loop_note": "time of the list-of-lists loop only (no conversion to an array)",
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def _votes_per_lf(L: NDArray[np.int64], ids: tuple[str, ...]) -> Mapping[str, int]:
    return {i: int(c) for i, c in zip(ids, (L != ABSTAIN).sum(axis=0).tolist(), strict=True)}
