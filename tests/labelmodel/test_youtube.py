"""The acceptance criterion on real data: WRENCH YouTube, one streamed pass, no gold."""

from __future__ import annotations

from pathlib import Path

from streamlabel.datasets import load_wrench
from streamlabel.labelmodel import MajorityVote, OnlineLabelModel


def test_youtube_one_pass_no_gold(youtube_wrench_dir: Path) -> None:
    train = load_wrench(youtube_wrench_dir, "train")
    test = load_wrench(youtube_wrench_dir, "test")
    assert len(train) == 1586
    ids = [f"lf{j:02d}@1" for j in range(train.n_lfs)]
    model = OnlineLabelModel(cardinality=2)
    for start in range(0, len(train), 256):
        model.learn_many(train.L[start : start + 256], ids)
    acc = float((model.predict_many(test.L, ids) == test.y).mean())
    # Measured 0.840 on the 250 test rows (MajorityVote: 0.776; WRENCH's majority vote
    # 0.840); acceptance is >= 0.84. The tenth session's model read 0.848: the majority
    # rule's floor (eleventh session), and since the twelfth every strict majority, keeps
    # four rows of one two-against-one pattern at the majority's class, three of them
    # wrongly.
    assert acc >= 0.84
    mv = MajorityVote(2)
    mv.learn_many(train.L, ids)
    assert acc > float((mv.predict_many(test.L, ids) == test.y).mean())
