"""``streamlabel bench keywords``: label models on real comments, keyword LFs chosen from one video.

The UCI YouTube Spam Collection's five videos (``youtube/uci_raw``), in turn: keyword LFs
are chosen from one video's labelled comments, as an analyst with a labelled sample would
(words seen in at least :data:`MIN_SUPPORT` of its comments whose share of one class is at
least ``precision``, the ``lfs_per_class`` most frequent per class; a link marker counts
as a word), then applied to the other four videos' comments in file order. The label
models learn from those once (chunks of 256, no gold) and label them; scored against the
UCI classes. Real text breaks conditional independence in ways a generator does not:
near-duplicate LFs (``http``, ``www``, ``com``), words that come together, long comments
that trip many keywords, and one class covered far better than the other (spam words are
specific, ham words are not).

Reported per setting (LFs per class x precision) and model: accuracy, macro-F1 and the
accuracy on the comments some LF voted on (``covered_accuracy``) averaged over the five
folds, and per fold; plus, over all folds and settings, each model's accuracy and covered
accuracy minus :class:`~streamlabel.labelmodel.MajorityVote`'s (mean, worst, folds more
than 0.1 point below). Snorkel's ``LabelModel`` (500 epochs, on the same rows) runs beside
when installed; majority vote with random ties (Snorkel's tie-break, as WRENCH publishes
it) too, and the ablations of ``bench shapes`` (the model without its intensity guard,
with it but without the pair inflation, without the moment fit's restarts, fitting every
pair of LFs, and without the unanimity rule). A comment
no LF voted on gets the class prior from our models (a required property) and a coin from
majority vote with random ties, so on the uncovered comments, most of them ham, every
model but the last puts all in one class. The truth is near 50/50 spam on every fold (0.50-0.52).
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamlabel.bench._labelmodel import snorkel_random_tie_break, vote_counts
from streamlabel.bench._regimes import _scores, _snorkel_fit_predict
from streamlabel.bench._shapes import (
    ALL_PAIRS,
    UNGUARDED,
    UNHEDGED,
    UNINFLATED,
    UNRESTARTED,
    _AllPairs,
    _Unguarded,
    _Uninflated,
    _Unrestarted,
    gap_points,
    without_unanimity,
)
from streamlabel.datasets._youtube import (
    YOUTUBE_STREAM_VIDEOS,
    YOUTUBE_TEST_VIDEO,
    _read_csv,
    youtube_data_dir,
)
from streamlabel.labelmodel import MajorityVote, OnlineLabelModel

__all__ = ["bench_keywords", "choose_keywords", "comment_words"]

#: A word becomes a candidate LF when at least this many comments of the video hold it.
MIN_SUPPORT = 4
LINK = "<link>"
_WORD = re.compile(r"[a-z0-9']+")
_VIDEOS = (*YOUTUBE_STREAM_VIDEOS, YOUTUBE_TEST_VIDEO)

OURS = "OnlineLabelModel"
MV = "MajorityVote"
RANDOM_MV = "majority vote, random ties"
SNORKEL = "snorkel LabelModel"


def comment_words(text: str) -> frozenset[str]:
    """Return the lower-case words of a comment, plus :data:`LINK` when it holds a link.

    Examples
    --------
    >>> sorted(comment_words("Check out my channel: www.example.com"))
    ['<link>', 'channel', 'check', 'com', 'example', 'my', 'out', 'www']
    """
    low = text.lower()
    words = set(_WORD.findall(low))
    if "http" in low or "www" in low or ".com" in low:
        words.add(LINK)
    return frozenset(words)


def choose_keywords(
    comments: Sequence[frozenset[str]],
    y: NDArray[np.int64],
    lfs_per_class: int,
    precision: float,
    min_support: int = MIN_SUPPORT,
) -> list[tuple[str, int]]:
    """Choose keyword LFs ``(word, class)``, the most frequent first per class.

    Examples
    --------
    >>> docs = [frozenset({"check", "song"})] * 4 + [frozenset({"song"})] * 6
    >>> choose_keywords(docs, np.array([1] * 4 + [0] * 6), 2, 0.6)
    [('song', 0), ('check', 1)]
    """
    counts: dict[str, list[int]] = {}
    for words, c in zip(comments, y.tolist(), strict=True):
        for w in words:
            counts.setdefault(w, [0, 0])[c] += 1
    chosen: list[tuple[str, int]] = []
    for c in (0, 1):
        cands = sorted(
            ((-(n0 + n1), w) for w, (n0, n1) in counts.items() if n0 + n1 >= min_support),
        )
        keep = [w for neg, w in cands if counts[w][c] / -neg >= precision]
        chosen += [(w, c) for w in keep[:lfs_per_class]]
    return chosen


def _vote_matrix(
    comments: Sequence[frozenset[str]], lfs: Sequence[tuple[str, int]]
) -> NDArray[np.int64]:
    L = np.full((len(comments), len(lfs)), -1, dtype=np.int64)
    for j, (word, c) in enumerate(lfs):
        L[[word in words for words in comments], j] = c
    return L


def _load(
    data_dir: str | os.PathLike[str] | None,
) -> list[tuple[list[frozenset[str]], NDArray[np.int64]]]:
    folder = youtube_data_dir(data_dir) / "uci_raw"
    videos = []
    for name in _VIDEOS:
        rows = _read_csv(folder / f"{name}.csv")
        words = [comment_words(r["CONTENT"]) for r in rows]
        videos.append((words, np.array([int(r["CLASS"]) for r in rows], dtype=np.int64)))
    return videos


def bench_keywords(
    data_dir: str | os.PathLike[str] | None = None,
    lfs_per_class: Sequence[int] = (5, 15, 40, 80),
    precisions: Sequence[float] = (0.6, 0.8, 0.95),
    peers: bool = True,
    chunk_size: int = 256,
) -> dict[str, Any]:
    """Score the label models with keyword LFs on real comments; return a JSON-able report.

    Parameters
    ----------
    data_dir
        Folder holding ``uci_raw/``; default the shared data folder's ``youtube/``.
    lfs_per_class, precisions
        The settings: LFs chosen per class, and the least share of its class a word must
        have in the video it is chosen from.
    peers
        Run Snorkel's ``LabelModel`` beside when installed.
    chunk_size
        Events per ``learn_many`` call.

    Raises
    ------
    FileNotFoundError
        When the data folder or a UCI file is absent (the message names it).

    Examples
    --------
    >>> from streamlabel.datasets import shared_data_dir
    >>> here = shared_data_dir() is not None  # the shared data (../shared/data)
    >>> r = bench_keywords(lfs_per_class=[5], precisions=[0.8], peers=False) if here else None
    >>> r is None or (len(r["settings"][0]["folds"]), r["summary"]["folds"]) == (5, 5)
    True
    """
    videos = _load(data_dir)
    snorkel = _snorkel_fit_predict() if peers else None
    settings: list[dict[str, Any]] = []
    for n_per, prec in itertools.product(lfs_per_class, precisions):
        folds: list[dict[str, Any]] = []
        for held in range(len(videos)):
            lfs = choose_keywords(*videos[held], n_per, prec)
            ids = [f"kw_{w}_{c}@1" for w, c in lfs]
            rest = [v for i, v in enumerate(videos) if i != held]
            comments = [w for words, _ in rest for w in words]
            y = np.concatenate([labels for _, labels in rest])
            L = _vote_matrix(comments, lfs)
            covered: NDArray[np.bool_] = np.asarray((L >= 0).any(axis=1))
            fold: dict[str, Any] = {
                "chosen_on": _VIDEOS[held],
                "n_lfs": len(lfs),
                "n_events": len(y),
                "spam_share": float(y.mean()),
                "coverage": float(covered.mean()),
                "votes_per_event": float((L >= 0).sum(axis=1).mean()),
                "models": {},
            }
            ours = OnlineLabelModel(2)
            models: tuple[tuple[str, Any], ...] = (
                (OURS, ours),
                (UNGUARDED, _Unguarded(2)),
                (UNINFLATED, _Uninflated(2)),
                (UNRESTARTED, _Unrestarted(2)),
                (ALL_PAIRS, _AllPairs(2)),
                (MV, MajorityVote(2)),
            )
            for name, model in models:
                t0 = time.perf_counter()
                for start in range(0, len(L), chunk_size):
                    model.learn_many(L[start : start + chunk_size], ids)
                secs = time.perf_counter() - t0
                pred = model.predict_many(L, ids)
                fold["models"][name] = _fold_scores(pred, y, covered, secs)
            pred = without_unanimity(ours).predict_many(L, ids)
            fold["models"][UNHEDGED] = _fold_scores(
                pred, y, covered, fold["models"][OURS]["learn_seconds"]
            )
            pred = snorkel_random_tie_break(vote_counts(L, 2))
            fold["models"][RANDOM_MV] = _fold_scores(pred, y, covered, None)
            if snorkel is not None:
                pred, secs = snorkel(L, L, 2)
                fold["models"][SNORKEL] = _fold_scores(pred, y, covered, secs)
            fold["class_balance"] = ours.class_balance_.tolist()
            fold["cofiring_ratio"] = ours.cofiring_ratio_
            folds.append(fold)
        names = list(folds[0]["models"])
        settings.append(
            {
                "lfs_per_class": n_per,
                "precision": prec,
                "models": {
                    name: {
                        metric: float(np.mean([f["models"][name][metric] for f in folds]))
                        for metric in ("accuracy", "macro_f1", "covered_accuracy")
                    }
                    for name in names
                },
                "folds": folds,
            }
        )
    return {
        "bench": "keywords",
        "settings": settings,
        "summary": _summary([f for s in settings for f in s["folds"]]),
    }


def _fold_scores(
    pred: NDArray[np.int64], y: NDArray[np.int64], covered: NDArray[np.bool_], secs: float | None
) -> dict[str, Any]:
    return {
        **_scores(pred, y, 2),
        "covered_accuracy": float((pred == y)[covered].mean()),
        "learn_seconds": secs,
    }


def _summary(folds: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"folds": len(folds)}
    for name in folds[0]["models"]:
        if name == MV:
            continue
        out[f"{name} vs {MV}"] = {
            metric: gap_points(folds, name, MV, metric)
            for metric in ("accuracy", "covered_accuracy")
        }
    return out
