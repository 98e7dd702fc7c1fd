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
pair of LFs, and without the unanimity rule), and the model with ``balance="cofiring"``
(the setting for rule LFs that fire on their own class and a rare class). A comment
no LF voted on gets the class prior from our models (a required property) and a coin from
majority vote with random ties, so on the uncovered comments, most of them ham, every
model but the last puts all in one class. The truth is near 50/50 spam on every fold (0.50-0.52).

Two multiclass tasks on the same comments (``task``), where the class is which video a
comment was left under (``"video"``, 5 classes) or that and whether it is spam
(``"video-spam"``, 10 classes): the comments are split at random (``seed``) into five
parts; in turn keyword LFs are chosen from one part's labels, by the same rule for every
class, and the label models learn from the other four parts in a random order (the
files are grouped by video: in file order the stream would be one class after another).
Real text with more than two classes is what these add: the generators draw the
multiclass streams of ``bench shapes`` and ``bench regimes``; an artist's name is a
precise LF, "song" or "love" a vague one shared by several classes, and a spam comment
is much alike under every video. Snorkel's ``LabelModel`` refuses fewer than 3 LFs; a
fold where fewer are chosen leaves it out.

A third kind of LF on the spam folds (``"spam-thresholds"``, twelfth session, after every
choice of the model): thresholds on what a comment looks like rather than on its words
(:data:`FEATURES`: its length in characters and words, its share of capitals, digits,
exclamation and question marks, other punctuation, non-ASCII characters, a link, the
author name's length and whether it holds a digit, the mean word length, the hour it was
posted), as an analyst with a labelled sample would write "a long comment is spam". A
threshold LF votes its class on one side of a decile of the feature on the chosen video,
where that class's share reaches ``precision`` and it fires on at least 5% of the
comments (:func:`choose_thresholds`). These are weak, dense and dependent LFs: characters
and words measure nearly the same thing, and two thresholds on one side of a feature
nest; census-style stump LFs are like them.

A rare class (``"spam-rare"``, thirteenth session, after every choice of the model): the
spam folds with the scored videos' spam comments thinned at random (``seed``) to
:data:`RARE_SHARE` of what is scored, every ham comment kept, in file order; the LFs are
chosen as for ``"spam"`` on the whole chosen video. Fraud, an SMS spam filter or a
relation extractor look like this: the rare class's LFs are specific and cover it well,
the other class's are vague and few, so most events draw no vote at all and are of the
common class, and the events that do draw votes are mostly voted rare. Which class the
uncovered events get, from each model's class balance, then decides most of the score;
macro-F1 is reported beside accuracy, as it is for every task.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamlabel.bench._labelmodel import COFIRING, snorkel_random_tie_break, vote_counts
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

__all__ = [
    "FEATURES",
    "TASKS",
    "bench_keywords",
    "choose_keywords",
    "choose_thresholds",
    "comment_features",
    "comment_words",
]

#: The tasks: the number of classes of each.
TASKS = {"spam": 2, "video": 5, "video-spam": 10, "spam-thresholds": 2, "spam-rare": 2}
#: ``"spam-rare"``: the share of spam left in the comments scored (the SMS collection has 13%).
RARE_SHARE = 0.1

#: The features of a comment that threshold LFs test (:func:`comment_features`).
FEATURES = (
    "chars",
    "words",
    "capitals",
    "digits",
    "exclamations",
    "questions",
    "punctuation",
    "non_ascii",
    "link",
    "author_chars",
    "author_digit",
    "word_length",
    "hour",
)
#: A threshold LF must fire on at least this share of the comments it is chosen from.
MIN_COVERAGE = 0.05
#: At most this many thresholds per feature and side (the widest first): they nest.
THRESHOLDS_PER_SIDE = 2
_HOUR = re.compile(r"T(\d\d)")

#: A word becomes a candidate LF when at least this many comments of the video hold it.
MIN_SUPPORT = 4
LINK = "<link>"
_WORD = re.compile(r"[a-z0-9']+")
_VIDEOS = (*YOUTUBE_STREAM_VIDEOS, YOUTUBE_TEST_VIDEO)

_Part = tuple[list[Any], NDArray[np.int64]]  # per comment: its words or its features

OURS = "OnlineLabelModel"
MV = "MajorityVote"
RANDOM_MV = "majority vote, random ties"
SNORKEL = "snorkel LabelModel"


def _has_link(low: str) -> bool:
    """Whether a lower-cased comment holds a link (the keyword LFs' ``LINK`` marker too)."""
    return "http" in low or "www" in low or ".com" in low


def comment_words(text: str) -> frozenset[str]:
    """Return the lower-case words of a comment, plus :data:`LINK` when it holds a link.

    Examples
    --------
    >>> sorted(comment_words("Check out my channel: www.example.com"))
    ['<link>', 'channel', 'check', 'com', 'example', 'my', 'out', 'www']
    """
    low = text.lower()
    words = set(_WORD.findall(low))
    if _has_link(low):
        words.add(LINK)
    return frozenset(words)


def comment_features(row: Mapping[str, str]) -> tuple[float, ...]:
    """Return the :data:`FEATURES` of a UCI comment row (``CONTENT``, ``AUTHOR``, ``DATE``).

    Shares are of the comment's characters; ``hour`` is -1 for an undated comment.

    Examples
    --------
    >>> row = {"CONTENT": "Check MY channel!! www.x.com", "AUTHOR": "bob99",
    ...        "DATE": "2014-07-22T15:27:50"}
    >>> dict(zip(FEATURES, comment_features(row)))  # doctest: +NORMALIZE_WHITESPACE
    {'chars': 28.0, 'words': 4.0, 'capitals': 0.107..., 'digits': 0.0,
     'exclamations': 2.0, 'questions': 0.0, 'punctuation': 4.0, 'non_ascii': 0.0,
     'link': 1.0, 'author_chars': 5.0, 'author_digit': 1.0, 'word_length': 6.25,
     'hour': 15.0}
    """
    text, author = row["CONTENT"], row["AUTHOR"]
    n = max(1, len(text))
    words = text.split()
    hour = _HOUR.search(row.get("DATE") or "")
    low = text.lower()
    return (
        float(len(text)),
        float(len(words)),
        sum(ch.isupper() for ch in text) / n,
        sum(ch.isdigit() for ch in text) / n,
        float(text.count("!")),
        float(text.count("?")),
        float(sum(not ch.isalnum() and not ch.isspace() for ch in text)),
        float(sum(ord(ch) > 127 for ch in text)),
        float(_has_link(low)),
        float(len(author)),
        float(any(ch.isdigit() for ch in author)),
        float(np.mean([len(w) for w in words])) if words else 0.0,
        float(hour.group(1)) if hour else -1.0,
    )


def choose_thresholds(
    X: NDArray[np.float64],
    y: NDArray[np.int64],
    lfs_per_class: int,
    precision: float,
    cardinality: int = 2,
) -> list[tuple[int, str, float, int]]:
    """Choose threshold LFs ``(feature, side, threshold, class)``, the widest first per class.

    A candidate votes ``class`` where ``X[:, feature]`` is above (``">"``) or at most
    (``"<="``) a decile of that feature, fires on at least :data:`MIN_COVERAGE` of the
    rows, and ``class`` has at least ``precision`` of the rows it fires on; at most
    :data:`THRESHOLDS_PER_SIDE` per feature and side.

    Examples
    --------
    >>> X = np.array([[float(v)] for v in range(10)])
    >>> y = np.array([0] * 5 + [1] * 5)
    >>> choose_thresholds(X, y, 1, 0.9)
    [(0, '<=', 4.5, 0), (0, '>', 4.5, 1)]
    """
    cands: list[tuple[float, int, str, float, int]] = []
    for f in range(X.shape[1]):
        for t in np.unique(np.quantile(X[:, f], np.linspace(0.1, 0.9, 9))):
            for side, fire in ((">", X[:, f] > t), ("<=", X[:, f] <= t)):
                if fire.mean() < MIN_COVERAGE:
                    continue
                shares = np.bincount(y[fire], minlength=cardinality) / fire.sum()
                cands += [
                    (-float(fire.mean()), f, side, float(t), int(c))
                    for c in np.flatnonzero(shares >= precision)
                ]
    chosen: list[tuple[int, str, float, int]] = []
    for c in range(cardinality):
        per_side: dict[tuple[int, str], int] = {}
        mine = [(f, side, t) for _, f, side, t, cc in sorted(cands) if cc == c]
        for f, side, t in mine:
            if per_side.get((f, side), 0) < THRESHOLDS_PER_SIDE:
                per_side[(f, side)] = per_side.get((f, side), 0) + 1
                chosen.append((f, side, t, c))
                if sum(per_side.values()) == lfs_per_class:
                    break
    return chosen


def _threshold_votes(
    rows: Sequence[tuple[float, ...]], lfs: Sequence[tuple[int, str, float, int]]
) -> NDArray[np.int64]:
    X = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
    L = np.full((len(rows), len(lfs)), -1, dtype=np.int64)
    for j, (f, side, t, c) in enumerate(lfs):
        L[X[:, f] > t if side == ">" else X[:, f] <= t, j] = c
    return L


def choose_keywords(
    comments: Sequence[frozenset[str]],
    y: NDArray[np.int64],
    lfs_per_class: int,
    precision: float,
    min_support: int = MIN_SUPPORT,
    cardinality: int = 2,
) -> list[tuple[str, int]]:
    """Choose keyword LFs ``(word, class)``, the most frequent first per class.

    Examples
    --------
    >>> docs = [frozenset({"check", "song"})] * 4 + [frozenset({"song"})] * 6
    >>> choose_keywords(docs, np.array([1] * 4 + [0] * 6), 2, 0.6)
    [('song', 0), ('check', 1)]
    >>> choose_keywords(docs, np.array([2] * 4 + [0] * 6), 2, 0.6, cardinality=3)
    [('song', 0), ('check', 2)]
    """
    counts: dict[str, list[int]] = {}
    for words, c in zip(comments, y.tolist(), strict=True):
        for w in words:
            counts.setdefault(w, [0] * cardinality)[c] += 1
    cands = sorted((-sum(n), w) for w, n in counts.items() if sum(n) >= min_support)
    chosen: list[tuple[str, int]] = []
    for c in range(cardinality):
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


def _load(data_dir: str | os.PathLike[str] | None, features: bool = False) -> list[_Part]:
    """Each video's comments, as word sets (or :func:`comment_features`), and spam labels."""
    folder = youtube_data_dir(data_dir) / "uci_raw"
    videos: list[_Part] = []
    for name in _VIDEOS:
        rows = _read_csv(folder / f"{name}.csv")
        items: list[Any] = [
            comment_features(r) if features else comment_words(r["CONTENT"]) for r in rows
        ]
        videos.append((items, np.array([int(r["CLASS"]) for r in rows], dtype=np.int64)))
    return videos


def _thinned(part: _Part, seed: int) -> _Part:
    """Keep every ham comment of ``part`` and spam down to :data:`RARE_SHARE`, in order.

    Examples
    --------
    >>> items, y = _thinned((list("abcdefghij"), np.array([1] * 5 + [0] * 5)), 0)
    >>> int(y.sum()), len(y), [i for i, c in zip(items, y) if c == 0]
    (1, 6, ['f', 'g', 'h', 'i', 'j'])
    """
    items, y = part
    ham, spam = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    keep_spam = min(len(spam), round(RARE_SHARE / (1.0 - RARE_SHARE) * len(ham)))
    rng = np.random.default_rng(seed)
    keep = np.sort(np.concatenate([ham, rng.choice(spam, keep_spam, replace=False)]))
    return [items[i] for i in keep], y[keep]


def _folds(videos: list[_Part], task: str, seed: int) -> list[tuple[str, _Part, _Part]]:
    """Return the folds of ``task``: its name, the part LFs are chosen from, the part scored."""
    if task == "spam-rare":
        spam = _folds(videos, "spam", seed)
        return [(name, chosen, _thinned(scored, seed)) for name, chosen, scored in spam]
    if task in ("spam", "spam-thresholds"):
        return [
            (
                _VIDEOS[held],
                videos[held],
                (
                    [w for i, (words, _) in enumerate(videos) if i != held for w in words],
                    np.concatenate([spam for i, (_, spam) in enumerate(videos) if i != held]),
                ),
            )
            for held in range(len(videos))
        ]
    comments = [w for words, _ in videos for w in words]
    y = np.concatenate(
        [np.full(len(words), i, dtype=np.int64) for i, (words, _) in enumerate(videos)]
    )
    if task == "video-spam":
        y = 2 * y + np.concatenate([spam for _, spam in videos])
    order = np.random.default_rng(seed).permutation(len(y))
    parts = np.array_split(order, 5)  # consecutive runs of ``order``
    out = []
    for f, part in enumerate(parts):
        # The other parts in turn: the stream keeps the random order.
        rest = np.concatenate([p for i, p in enumerate(parts) if i != f])
        out.append(
            (
                f"part {f + 1} of 5",
                ([comments[i] for i in part], y[part]),
                ([comments[i] for i in rest], y[rest]),
            )
        )
    return out


def bench_keywords(
    data_dir: str | os.PathLike[str] | None = None,
    lfs_per_class: Sequence[int] | None = None,
    precisions: Sequence[float] | None = None,
    peers: bool = True,
    chunk_size: int = 256,
    task: str = "spam",
    seed: int = 0,
) -> dict[str, Any]:
    """Score the label models with keyword LFs on real comments; return a JSON-able report.

    Parameters
    ----------
    data_dir
        Folder holding ``uci_raw/``; default the shared data folder's ``youtube/``.
    lfs_per_class, precisions
        The settings: LFs chosen per class, and the least share of its class a word (or a
        threshold's side) must have in the part it is chosen from. Default: (5, 15, 40, 80)
        and (0.6, 0.8, 0.95) for keywords, (2, 4, 8, 16) and (0.6, 0.7, 0.8) for
        thresholds (13 features: fewer, weaker candidates).
    peers
        Run Snorkel's ``LabelModel`` beside when installed.
    chunk_size
        Events per ``learn_many`` call.
    task
        ``"spam"`` (2 classes, LFs chosen on one video), ``"video"`` (5 classes: which
        video) or ``"video-spam"`` (10 classes), both on a random fifth of all comments,
        or ``"spam-thresholds"`` (the spam folds with threshold LFs on
        :data:`FEATURES`), or ``"spam-rare"`` (the spam folds with the scored spam thinned
        to :data:`RARE_SHARE`).
    seed
        The random split and order of the multiclass tasks, and which spam comments
        ``"spam-rare"`` keeps.

    Raises
    ------
    FileNotFoundError
        When the data folder or a UCI file is absent (the message names it).
    ValueError
        For an unknown ``task``.

    Examples
    --------
    >>> from streamlabel.datasets import shared_data_dir
    >>> here = shared_data_dir() is not None  # the shared data (../shared/data)
    >>> r = bench_keywords(lfs_per_class=[5], precisions=[0.8], peers=False) if here else None
    >>> r is None or (len(r["settings"][0]["folds"]), r["summary"]["folds"]) == (5, 5)
    True
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}; got {task!r}")
    k = TASKS[task]
    thresholds = task == "spam-thresholds"
    if lfs_per_class is None:
        lfs_per_class = (2, 4, 8, 16) if thresholds else (5, 15, 40, 80)
    if precisions is None:
        precisions = (0.6, 0.7, 0.8) if thresholds else (0.6, 0.8, 0.95)
    folds_of = _folds(_load(data_dir, features=thresholds), task, seed)
    snorkel = _snorkel_fit_predict() if peers else None
    settings: list[dict[str, Any]] = []
    for n_per, prec in itertools.product(lfs_per_class, precisions):
        folds: list[dict[str, Any]] = []
        for name, chosen_from, (comments, y) in folds_of:
            ids, L = _lfs_and_votes(chosen_from, comments, n_per, prec, k, thresholds)
            covered: NDArray[np.bool_] = np.asarray((L >= 0).any(axis=1))
            fold: dict[str, Any] = {
                "chosen_on": name,
                "n_lfs": len(ids),
                "n_events": len(y),
                "class_shares": (np.bincount(y, minlength=k) / len(y)).tolist(),
                "coverage": float(covered.mean()),
                "votes_per_event": float((L >= 0).sum(axis=1).mean()),
                "models": {},
            }
            ours, cofiring = OnlineLabelModel(k), OnlineLabelModel(k, balance="cofiring")
            models: tuple[tuple[str, Any], ...] = (
                (OURS, ours),
                (UNGUARDED, _Unguarded(k)),
                (UNINFLATED, _Uninflated(k)),
                (UNRESTARTED, _Unrestarted(k)),
                (ALL_PAIRS, _AllPairs(k)),
                (COFIRING, cofiring),
                (MV, MajorityVote(k)),
            )
            for model_name, model in models:
                t0 = time.perf_counter()
                for start in range(0, len(L), chunk_size):
                    model.learn_many(L[start : start + chunk_size], ids)
                secs = time.perf_counter() - t0
                pred = model.predict_many(L, ids)
                fold["models"][model_name] = _fold_scores(pred, y, covered, secs, k)
            pred = without_unanimity(ours).predict_many(L, ids)
            fold["models"][UNHEDGED] = _fold_scores(
                pred, y, covered, fold["models"][OURS]["learn_seconds"], k
            )
            pred = snorkel_random_tie_break(vote_counts(L, k))
            fold["models"][RANDOM_MV] = _fold_scores(pred, y, covered, None, k)
            if snorkel is not None and len(ids) >= 3:  # it refuses fewer
                pred, secs = snorkel(L, L, k)
                fold["models"][SNORKEL] = _fold_scores(pred, y, covered, secs, k)
            fold["class_balance"] = ours.class_balance_.tolist()
            fold["class_balance_cofiring"] = cofiring.class_balance_.tolist()
            fold["cofiring_ratio"] = ours.cofiring_ratio_
            folds.append(fold)
        settings.append(
            {
                "lfs_per_class": n_per,
                "precision": prec,
                "models": {
                    name: {
                        metric: _mean(
                            [f["models"][name][metric] for f in _scored(folds, name, metric)]
                        )
                        for metric in ("accuracy", "macro_f1", "covered_accuracy")
                    }
                    for name in _model_names(folds)
                },
                "folds": folds,
            }
        )
    return {
        "bench": "keywords",
        "task": task,
        "cardinality": k,
        "seed": None if task in ("spam", "spam-thresholds") else seed,
        "settings": settings,
        "summary": _summary([f for s in settings for f in s["folds"]]),
    }


def _lfs_and_votes(
    chosen_from: _Part,
    comments: list[Any],
    n_per: int,
    precision: float,
    k: int,
    thresholds: bool,
) -> tuple[list[str], NDArray[np.int64]]:
    """Choose a fold's LFs on ``chosen_from`` and apply them to ``comments``: ids and L."""
    items, y = chosen_from
    if thresholds:
        X = np.asarray(items, dtype=np.float64).reshape(len(items), len(FEATURES))
        th = choose_thresholds(X, y, n_per, precision, cardinality=k)
        ids = [
            f"th_{FEATURES[f]}_{'gt' if side == '>' else 'le'}{t:g}_{c}@1" for f, side, t, c in th
        ]
        return ids, _threshold_votes(comments, th)
    kw = choose_keywords(items, y, n_per, precision, cardinality=k)
    return [f"kw_{w}_{c}@1" for w, c in kw], _vote_matrix(comments, kw)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _fold_scores(
    pred: NDArray[np.int64],
    y: NDArray[np.int64],
    covered: NDArray[np.bool_],
    secs: float | None,
    k: int,
) -> dict[str, Any]:
    return {
        **_scores(pred, y, k),
        # No comment covered (no LF chosen): nothing to score there.
        "covered_accuracy": float((pred == y)[covered].mean()) if covered.any() else None,
        "learn_seconds": secs,
    }


def _model_names(folds: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every model some fold (or setting) scored, in the order first met.

    Snorkel skips the folds with fewer than 3 LFs.
    """
    return list(dict.fromkeys(name for f in folds for name in f["models"]))


def _scored(folds: list[dict[str, Any]], name: str, metric: str) -> list[dict[str, Any]]:
    """Return the folds where ``name`` (and majority vote) has a ``metric``."""
    return [
        f
        for f in folds
        if name in f["models"]
        and f["models"][name][metric] is not None
        and f["models"][MV][metric] is not None
    ]


def _summary(folds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each model minus majority vote over the folds (those it was scored on).

    Examples
    --------
    >>> a = {"MajorityVote": {"accuracy": 0.5, "covered_accuracy": None, "macro_f1": 0.4},
    ...      "A": {"accuracy": 0.6, "covered_accuracy": None, "macro_f1": 0.5}}
    >>> b = {"MajorityVote": {"accuracy": 0.5, "covered_accuracy": 0.6, "macro_f1": 0.5}}
    >>> s = _summary([{"models": a}, {"models": b}])
    >>> s["folds"], round(s["A vs MajorityVote"]["accuracy"]["mean_points"], 6)
    (2, 10.0)
    >>> s["A vs MajorityVote"]["covered_accuracy"]["folds"]
    0
    >>> round(s["A vs MajorityVote"]["macro_f1"]["mean_points"], 6)
    10.0
    """
    out: dict[str, Any] = {"folds": len(folds)}
    for name in _model_names(folds):
        if name == MV:
            continue
        out[f"{name} vs {MV}"] = {
            metric: {
                **(gap_points(rows, name, MV, metric) if rows else {}),
                "folds": len(rows),
            }
            for metric in ("accuracy", "covered_accuracy", "macro_f1")
            for rows in [_scored(folds, name, metric)]
        }
    return out
