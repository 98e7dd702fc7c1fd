"""The fraud stream's drift is real: measured with the shipped LF sets against the truth."""

from __future__ import annotations

import numpy as np
from datasets_helpers import Voted

PHASES = ("baseline", "tactic_change", "new_pattern", "amount_shift", "fraud_rate_rise")


def test_gift_card_lf_goes_from_accurate_to_chance(fraud: Voted) -> None:
    lf = "gift_card_cashout@1"
    assert fraud.accuracy("1", lf, "baseline") >= 0.85
    assert fraud.accuracy("1", lf, "tactic_change") <= 0.6
    # Not for lack of votes: it fires about as often as before.
    votes = fraud.column("1", lf)
    before = (votes[fraud.stream.phase("baseline").as_slice()] == 1).mean()
    after = (votes[fraud.stream.phase("tactic_change").as_slice()] == 1).mean()
    assert 0.5 * before < after < 2 * before
    # The analyst's v2 of the LF is accurate again on the new traffic.
    assert fraud.accuracy("2", "gift_card_cashout@2", "tactic_change") >= 0.85


def test_new_pattern_is_uncovered_until_v3(fraud: Voted) -> None:
    s = fraud.stream
    new = s.kind == s.kind_id("wallet_topup")
    start = s.phase("new_pattern").start
    assert not new[:start].any()
    assert new[start:].sum() > 200
    # Every LF of v1 and v2 abstains on these fraud events; v3 and v4 vote fraud on all.
    for version in ("1", "2"):
        assert (fraud.L[version][new] == -1).all()
    for version in ("3", "4"):
        assert (fraud.L[version][new] == 1).any(axis=1).all()
    assert fraud.accuracy("3", "emulator@1", "new_pattern") >= 0.85


def test_amounts_shift(fraud: Voted) -> None:
    s = fraud.stream
    amounts = np.array([p["amount"] for p in s.payloads()])
    legit = s.y == 0
    base, shifted = s.phase("baseline").as_slice(), s.phase("amount_shift").as_slice()
    ratio = np.median(amounts[shifted][legit[shifted]]) / np.median(amounts[base][legit[base]])
    assert 1.3 < ratio < 1.7
    takeover = s.kind == s.kind_id("takeover")
    under = amounts[shifted][takeover[shifted]]
    assert ((under >= 1700) & (under < 2000)).all()
    # big_amount@1 turns to firing on legit spending; v4's replacement is accurate.
    assert fraud.accuracy("1", "big_amount@1", "tactic_change") >= 0.5
    assert fraud.accuracy("1", "big_amount@1", "amount_shift") <= 0.3
    assert fraud.accuracy("4", "just_under_limit@1", "amount_shift") >= 0.75


def test_fraud_rate_rises_in_the_last_phase(fraud: Voted) -> None:
    rates = [fraud.rate(p) for p in PHASES]
    assert all(0.035 < r < 0.065 for r in rates[:-1])
    assert rates[-1] > 2 * max(rates[:-1])


def test_fraud_patterns_follow_the_script(fraud: Voted) -> None:
    s = fraud.stream
    share = {}
    for p in ("baseline", "tactic_change"):
        k = s.kind[s.phase(p).as_slice()]
        share[p] = (k == s.kind_id("gift_card")).sum() / (k != 0).sum()
    assert share["baseline"] > 0.5 > 0.4 > share["tactic_change"]
