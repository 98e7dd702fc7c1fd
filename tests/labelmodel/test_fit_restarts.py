"""The moment fit's restarts from the prior and the pairs it leaves out as unexplained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamlabel.bench._keywords import _load, _vote_matrix, choose_keywords
from streamlabel.bench._shapes import _AllPairs, _Unrestarted
from streamlabel.datasets import chat_lfsets, make_chat_stream, make_unipolar_stream
from streamlabel.labelmodel import MajorityVote, OnlineLabelModel
from streamlabel.lf import LFApplier


class _Neither(_AllPairs, _Unrestarted):
    """The eighth session's fit: warm starts only, every pair."""


def learned(model: OnlineLabelModel, L: np.ndarray, ids: list[str], chunk: int) -> None:
    for start in range(0, len(L), chunk):
        model.learn_many(L[start : start + chunk], ids)


def test_restarts_follow_the_doubling_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    s = make_unipolar_stream(6000, 2, 8, seed=0)
    model = OnlineLabelModel(2, half_life=2000)
    restarts: list[int] = []
    als = OnlineLabelModel._als

    def spy(self: OnlineLabelModel, prob: object, mu: np.ndarray, iters: int) -> object:
        if np.array_equal(mu, prob.mu0):  # type: ignore[attr-defined]
            restarts.append(self.n_events_)
        return als(self, prob, mu, iters)  # type: ignore[arg-type]

    monkeypatch.setattr(OnlineLabelModel, "_als", spy)
    learned(model, s.L, s.lf_ids, 500)
    # Refits at 64, 128, 256, then every 250 events (8 per half-life): 506, 756, ... The
    # first fit starts from the prior anyway; a restart follows once the events have
    # doubled (128, 256, 756 >= 512, 1,756 >= 1,512, 3,756 >= 3,512) or a half-life of
    # 2,000 events has passed (5,756).
    assert restarts == [64, 128, 256, 756, 1756, 3756, 5756]
    assert model._last_restart == 5756


def test_two_rules_that_never_meet_stay_informative() -> None:
    # The chat stream's routine_ops and small_talk vote "legit" on two kinds of message and
    # never on the same one (0 co-firings, 1,813 by chance). Fitted anyway, the pair can only
    # reach a zero covariance by making one of the two uninformative.
    s = make_chat_stream(20000, seed=1)
    lfset = chat_lfsets()[0]
    L = LFApplier(lfset).apply_many(s.payloads())
    ids = [lf.id for lf in lfset]
    ours, every, mv = OnlineLabelModel(2), _AllPairs(2), MajorityVote(2)
    for model in (ours, every, mv):
        learned(model, L, ids, 500)
    assert ours.unexplained_pairs_ >= 1 and every.unexplained_pairs_ == 0
    acc = {m: float((m.predict_many(L, ids) == s.y).mean()) for m in (ours, every, mv)}
    # Measured: 0.9673 (majority vote 0.9673), fitting every pair 0.9657 (33 events).
    assert acc[ours] >= acc[mv] > acc[every] + 0.001
    # small_talk's precision (truly 1.0): 0.980, fitting every pair 0.932.
    assert ours.lf_precisions()["small_talk@1"][0] > every.lf_precisions()["small_talk@1"][0] + 0.03


def test_pairs_are_left_out_only_with_two_classes() -> None:
    s = make_unipolar_stream(4000, 3, 12, intensity=1.0, seed=2)
    model = OnlineLabelModel(3)
    learned(model, s.L, s.lf_ids, 500)
    assert model.unexplained_pairs_ == 0


def test_both_on_a_real_keyword_fold(youtube_dir: Path) -> None:
    # 15 keyword LFs per class at precision 0.6 chosen on KatyPerry, learned on the other
    # four videos. Measured on covered comments: majority vote 0.849, the eighth session's
    # fit 0.714 (a warm start from before the guard turned on, at event 1,024, kept a fit
    # where "check", "out", "on" fire on ham as often as on spam); now with both mechanisms
    # 0.873, restarts only 0.868, the unexplained pairs left out only 0.872, neither 0.849
    # (every strict majority kept, twelfth session; under the eleventh's floor 0.874,
    # 0.868, 0.872 and 0.847).
    # The majority rule hides most of a bad fit, so the fits are compared without it too
    # (unanimous_weight 0, the same learned state): both 0.857, each alone 0.856-0.857,
    # neither 0.697.
    videos = _load(youtube_dir)
    lfs = choose_keywords(*videos[1], 15, 0.6)
    ids = [f"kw_{w}_{c}@1" for w, c in lfs]
    rest = [v for i, v in enumerate(videos) if i != 1]
    L = _vote_matrix([w for words, _ in rest for w in words], lfs)
    y = np.concatenate([labels for _, labels in rest])
    covered = (L >= 0).any(axis=1)
    models = {
        "both": OnlineLabelModel(2),
        "restarts": _AllPairs(2),
        "pairs": _Unrestarted(2),
        "neither": _Neither(2),
    }
    mv = MajorityVote(2)
    learned(mv, L, ids, 256)
    acc_mv = float((mv.predict_many(L, ids) == y)[covered].mean())
    acc, alone = {}, {}
    for name, model in models.items():
        learned(model, L, ids, 256)
        acc[name] = float((model.predict_many(L, ids) == y)[covered].mean())
        model.unanimous_weight = 0.0
        alone[name] = float((model.predict_many(L, ids) == y)[covered].mean())
    assert alone["neither"] < acc_mv - 0.1
    for name in ("both", "restarts", "pairs"):
        assert alone[name] > alone["neither"] + 0.1, name
        assert acc[name] > acc_mv, name
