"""The chat stream's drift is real: measured with the shipped LF sets against the truth."""

from __future__ import annotations

from datasets_helpers import Voted

PHASES = ("baseline", "evasion", "new_code", "month_end")


def test_take_offline_lf_goes_from_accurate_to_chance(chat: Voted) -> None:
    lf = "take_offline@1"
    assert chat.accuracy("1", lf, "baseline") >= 0.85
    assert chat.accuracy("1", lf, "evasion") <= 0.6
    # The analyst's v2 keeps to the ring's phrases and is accurate again.
    assert chat.accuracy("2", "take_offline@2", "evasion") >= 0.85


def test_off_channel_lingo_is_uncovered_until_v2(chat: Voted) -> None:
    s = chat.stream
    off = s.kind == s.kind_id("off_channel")
    assert not off[: s.phase("evasion").start].any()
    assert off.sum() > 100
    assert (chat.L["1"][off] == -1).all()
    assert (chat.column("2", "off_channel@1")[off] == 1).all()


def test_code_words_are_uncovered_until_v3(chat: Voted) -> None:
    s = chat.stream
    code = s.kind == s.kind_id("code_words")
    start = s.phase("new_code").start
    assert not code[:start].any()
    assert code[start:].sum() > 100
    for version in ("1", "2"):
        assert (chat.L[version][code] == -1).all()
    assert (chat.column("3", "code_words@1")[code] == 1).all()
    assert chat.accuracy("3", "code_words@1", "new_code") >= 0.85


def test_suspicious_rate_rises_at_month_end(chat: Voted) -> None:
    rates = [chat.rate(p) for p in PHASES]
    assert all(0.025 < r < 0.055 for r in rates[:-1])
    assert rates[-1] > 2 * max(rates[:-1])


def test_suspicious_messages_come_from_a_small_ring(chat: Voted) -> None:
    s = chat.stream
    traders = {e["entity"] for e in s.events}
    ring = {e["entity"] for e, y in zip(s.events, s.y.tolist(), strict=True) if y == 1}
    assert len(ring) <= 0.06 * len(traders)
