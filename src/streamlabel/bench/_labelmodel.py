"""``bench labelmodel``: label models on a WRENCH dataset, streamed, beside Snorkel.

The train split's weak labels are streamed once, in file order and without gold, through
:class:`~streamlabel.labelmodel.OnlineLabelModel` and
:class:`~streamlabel.labelmodel.MajorityVote` (``learn_many`` in chunks, as events would
arrive). Each model then labels the test split and is scored against its gold labels.

Two kinds of reference rows sit beside them:

- ``"MajorityVote (WRENCH tie-break)"``: plain vote counts with ties (including all-abstain
  rows) broken like Snorkel's ``probs_to_preds(tie_break_policy="random")``, which is what
  WRENCH's evaluation calls. It reproduces WRENCH's published MV figure (84.00 on YouTube).
- with ``peers=True`` and Snorkel importable: Snorkel's batch ``LabelModel`` (fitted as in
  its spam tutorial) and ``MajorityLabelVoter``, both predicting with the same tie-break.

Accuracy is over all test rows with gold, as in WRENCH (a row nobody votes on still gets a
prediction). Each model's accuracy is also split by what the test row's votes say
(:func:`rows_by_votes`): a strict majority, a tie between the leading classes, or no vote.
Majority vote answers the last two from its prior alone, so that split shows where a model
gains or loses against it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamlabel.datasets import load_wrench

__all__ = ["bench_labelmodel", "rows_by_votes", "snorkel_random_tie_break", "vote_counts"]

from streamlabel._constants import ABSTAIN as _ABSTAIN

#: Rows per ``learn_many`` call when streaming the train split.
CHUNK_SIZE = 256
# Predicting 250 test rows takes well under a millisecond; repeat up to this long so the
# rows/s figure is not timer noise.
_MIN_PREDICT_SECONDS = 0.05
_MAX_PREDICT_REPEATS = 50

_WRENCH_MV = "MajorityVote (WRENCH tie-break)"
#: The model with ``balance="cofiring"``, run beside the default by the label-model benches.
COFIRING = "OnlineLabelModel, co-firing balance"

_I64 = NDArray[np.int64]
_F64 = NDArray[np.float64]


def vote_counts(L: NDArray[np.integer[Any]], cardinality: int) -> _F64:
    """Count the votes each class gets in each row (abstains are ignored).

    Parameters
    ----------
    L : ndarray of shape (n, m)
        Weak labels, ``-1`` = abstain.
    cardinality : int
        Number of classes k.

    Returns
    -------
    ndarray of shape (n, k), dtype float64

    Examples
    --------
    >>> import numpy as np
    >>> vote_counts(np.array([[0, 1, 1], [-1, -1, -1]]), 2)
    array([[1., 2.],
           [0., 0.]])
    """
    votes = np.asarray(L)
    counts = np.zeros((votes.shape[0], cardinality), dtype=np.float64)
    for c in range(cardinality):
        counts[:, c] = (votes == c).sum(axis=1)
    return counts


def rows_by_votes(L: NDArray[np.integer[Any]], cardinality: int) -> dict[str, NDArray[np.bool_]]:
    """Split rows by what their votes decide: a strict majority, a tie, or no vote.

    Parameters
    ----------
    L : ndarray of shape (n, m)
        Weak labels, ``-1`` = abstain.
    cardinality : int
        Number of classes k.

    Returns
    -------
    dict
        Boolean masks of shape (n,), one per kind, that partition the rows:
        ``"majority"`` (one class has more votes than any other), ``"tie"`` (two or more
        classes share the most votes) and ``"no_votes"`` (every LF abstains).

    Examples
    --------
    >>> import numpy as np
    >>> kinds = rows_by_votes(np.array([[0, 0, 1], [0, 1, -1], [-1, -1, -1]]), 2)
    >>> {kind: np.flatnonzero(mask).tolist() for kind, mask in kinds.items()}
    {'majority': [0], 'tie': [1], 'no_votes': [2]}
    """
    counts = vote_counts(L, cardinality)
    top = np.sort(counts, axis=1)[:, -2:]
    none = top[:, 1] == 0
    tie = ~none & (top[:, 0] == top[:, 1])
    return {"majority": ~none & ~tie, "tie": tie, "no_votes": none}


def _row_hash(i: int) -> int:
    # Snorkel's ``snorkel.utils._hash``: deterministic across runs and platforms.
    return int(hashlib.sha1(str(i).encode()).hexdigest(), 16)


def snorkel_random_tie_break(scores: NDArray[np.floating[Any]], tol: float = 1e-5) -> _I64:
    """Arg-max per row, ties broken like Snorkel's ``probs_to_preds(tie_break_policy="random")``.

    Classes whose score is within ``tol`` of the row maximum are tied; row ``i`` then takes
    ``tied[int(sha1(str(i)).hexdigest(), 16) % len(tied)]``. A row of all-equal scores (an
    all-abstain row of vote counts) is a tie among every class. Works on probabilities and on
    vote counts alike, since equal counts give equal majority-vote probabilities.

    Parameters
    ----------
    scores : ndarray of shape (n, k)
        Probabilities or vote counts; row ``i`` is hashed by its position.
    tol : float, default 1e-5
        Snorkel's tie tolerance.

    Returns
    -------
    ndarray of shape (n,), dtype int64

    Examples
    --------
    >>> import numpy as np
    >>> snorkel_random_tie_break(np.array([[2.0, 1.0], [0.0, 0.0], [1.0, 1.0], [0.0, 3.0]]))
    array([0, 1, 0, 1])
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(f"scores must have shape (n, k) with k >= 2; got {scores.shape}")
    tied = np.abs(scores - scores.max(axis=1, keepdims=True)) < tol
    preds: _I64 = np.argmax(tied, axis=1).astype(np.int64)  # the unique max where there is one
    for i in np.flatnonzero(tied.sum(axis=1) > 1):
        idx = np.flatnonzero(tied[i])
        preds[i] = idx[_row_hash(int(i)) % len(idx)]
    return preds


def _f1(y: _I64, pred: _I64, c: int) -> float:
    tp = int(np.sum((pred == c) & (y == c)))
    fp = int(np.sum((pred == c) & (y != c)))
    fn = int(np.sum((pred != c) & (y == c)))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def _scores(y: _I64, pred: _I64, cardinality: int) -> dict[str, float | None]:
    """Accuracy, F1 of class 1 (binary only) and macro-F1 over rows with gold (None if none).

    Macro-F1 averages over the classes present in gold or predictions (sklearn's convention).
    """
    has_gold = y != _ABSTAIN
    y, pred = y[has_gold], pred[has_gold]
    classes = np.union1d(y, pred)
    return {
        "accuracy": float(np.mean(pred == y)) if y.size else None,
        "f1_class1": _f1(y, pred, 1) if cardinality == 2 else None,
        "macro_f1": float(np.mean([_f1(y, pred, int(c)) for c in classes])) if y.size else None,
    }


def _timed_predict(fn: Callable[[], _I64], n_rows: int) -> tuple[_I64, float | None]:
    """Run ``fn`` (at least once) and return its predictions and its rows/s."""
    reps, total = 0, 0.0
    pred: _I64 | None = None
    while pred is None or (total < _MIN_PREDICT_SECONDS and reps < _MAX_PREDICT_REPEATS):
        start = time.perf_counter()
        pred = fn()
        total += time.perf_counter() - start
        reps += 1
    return pred, _rate(reps * n_rows, total)


def _rate(rows: int, seconds: float) -> float | None:
    # None instead of infinity, which JSON cannot carry.
    return rows / seconds if seconds > 0 else None


def _row(
    y: _I64,
    pred: _I64,
    cardinality: int,
    coverage: float,
    learn_seconds: float | None,
    n_train: int,
    predict_rows_per_s: float | None,
    kinds: dict[str, NDArray[np.bool_]],
    **extra: Any,
) -> dict[str, Any]:
    learn_rps = None if learn_seconds is None else _rate(n_train, learn_seconds)
    # Accuracy over the rows of each kind that have gold; None where there are none.
    gold = y != _ABSTAIN
    by_votes = {
        kind: float(np.mean(pred[m] == y[m])) if (m := mask & gold).any() else None
        for kind, mask in kinds.items()
    }
    return {
        **extra,
        **{k: _round(v, 6) for k, v in _scores(y, pred, cardinality).items()},
        "accuracy_by_votes": {kind: _round(v, 6) for kind, v in by_votes.items()},
        "coverage": _round(coverage, 6),
        "learn_seconds": _round(learn_seconds, 6),
        # None for models with no learning step, rather than a meaningless infinity.
        "learn_rows_per_s": _round(learn_rps, 1),
        "predict_rows_per_s": _round(predict_rows_per_s, 1),
    }


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def _snorkel_rows(
    L_train: _I64,
    L_test: _I64,
    y_test: _I64,
    cardinality: int,
    coverage: float,
    kinds: dict[str, NDArray[np.bool_]],
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Fit and score Snorkel's peers, or say why they were skipped."""
    try:
        import snorkel
        import torch
        from snorkel.labeling.model import LabelModel, MajorityLabelVoter
    except Exception as exc:  # snorkel absent, or broken by its torch/numpy pins
        return {}, {"skipped": f"snorkel is not importable ({type(exc).__name__}: {exc})"}

    n_train = len(L_train)
    rows: dict[str, dict[str, Any]] = {}

    # The batch reference, fitted as in Snorkel's spam tutorial (the 86.0 on YouTube).
    # Its parameters are a few dozen numbers, so torch's intra-op threads only add overhead
    # (about 9x slower with 2 threads than 1 on a busy 2-core box); fit single-threaded, its
    # best case, and restore the caller's setting.
    threads = torch.get_num_threads()
    lm = LabelModel(cardinality=cardinality, verbose=False)
    try:
        torch.set_num_threads(1)
        start = time.perf_counter()
        lm.fit(L_train, n_epochs=500, seed=123, log_freq=500, progress_bar=False)
        learn = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    pred, rps = _timed_predict(
        lambda: np.asarray(lm.predict(L_test, tie_break_policy="random"), dtype=np.int64),
        len(L_test),
    )
    rows["snorkel LabelModel"] = _row(
        y_test,
        pred,
        cardinality,
        coverage,
        learn,
        n_train,
        rps,
        kinds,
        library="snorkel",
        mode="batch",
    )

    mv = MajorityLabelVoter(cardinality=cardinality)
    pred, rps = _timed_predict(
        lambda: np.asarray(mv.predict(L_test, tie_break_policy="random"), dtype=np.int64),
        len(L_test),
    )
    rows["snorkel MajorityLabelVoter"] = _row(
        y_test,
        pred,
        cardinality,
        coverage,
        None,
        n_train,
        rps,
        kinds,
        library="snorkel",
        mode="none",
    )
    info = {
        "snorkel_version": str(getattr(snorkel, "__version__", "unknown")),
        "labelmodel_fit": {"n_epochs": 500, "seed": 123, "log_freq": 500, "torch_threads": 1},
        "tie_break_policy": "random",
    }
    return rows, info


def bench_labelmodel(
    wrench_dir: str | Path,
    *,
    peers: bool = True,
    seed: int = 0,
    chunk_size: int = CHUNK_SIZE,
) -> dict[str, Any]:
    """Stream a WRENCH train split through the label models and score them on its test split.

    Parameters
    ----------
    wrench_dir : str or Path
        WRENCH folder holding ``train.json`` and ``test.json`` (train rows listed in
        ``labeled_ids.json`` are left out, as the loader does by default).
    peers : bool, default True
        Also run Snorkel's ``LabelModel`` and ``MajorityLabelVoter`` when Snorkel is
        importable; otherwise the result says why they were skipped.
    seed : int, default 0
        Recorded in the result. The streamlabel models are deterministic and the Snorkel
        ``LabelModel`` keeps the seed of its published reference (123), so no figure
        depends on it.
    chunk_size : int, default 256
        Train rows per ``learn_many`` call.

    Returns
    -------
    dict
        JSON-able: dataset facts (``dataset``, ``n_train``, ``n_test``, ``n_lfs``,
        ``cardinality``, ``rows_by_votes``: test rows with gold per kind of
        :func:`rows_by_votes`), ``models`` (per model name: ``accuracy``, ``f1_class1``
        (None unless binary), ``macro_f1``, ``accuracy_by_votes`` (per kind; None where a
        kind has no row), ``coverage``, ``learn_seconds``, ``learn_rows_per_s``,
        ``predict_rows_per_s``; learning figures are None for models that do not learn),
        ``peers`` (Snorkel details, or ``{"skipped": reason}``) and, when Snorkel ran,
        ``ratio`` (OnlineLabelModel accuracy minus Snorkel LabelModel accuracy, and their
        learn-time ratio).

    Raises
    ------
    FileNotFoundError
        If the folder, ``train.json`` or ``test.json`` is missing.
    ValueError
        If the files are malformed, or train and test disagree on LFs or classes.

    Examples
    --------
    >>> bench_labelmodel("/no/such/wrench")
    Traceback (most recent call last):
    ...
    FileNotFoundError: WRENCH data folder not found: /no/such/wrench ...
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1; got {chunk_size}")
    train = load_wrench(wrench_dir, "train")
    test = load_wrench(wrench_dir, "test")
    if train.n_lfs != test.n_lfs:
        raise ValueError(f"{wrench_dir}: train has {train.n_lfs} LFs but test has {test.n_lfs}")
    if train.cardinality != test.cardinality:
        raise ValueError(
            f"{wrench_dir}: train has {train.cardinality} classes but test has {test.cardinality}"
        )
    k, m = test.cardinality, test.n_lfs
    if k < 2:
        raise ValueError(f"{wrench_dir}: need at least 2 classes; found {k}")
    n_train, n_test = len(train), len(test)
    # Imported here, after the data checks, so that ``streamlabel --help`` stays instant.
    from streamlabel.labelmodel import MajorityVote, OnlineLabelModel

    lf_ids = [f"lf{j}@1" for j in range(m)]  # WRENCH files carry no LF names
    coverage = float(np.mean((test.L != _ABSTAIN).any(axis=1))) if n_test else 0.0
    kinds = rows_by_votes(test.L, k)

    models: dict[str, dict[str, Any]] = {}
    for name, model in (
        ("OnlineLabelModel", OnlineLabelModel(cardinality=k)),
        # The setting for rule LFs and a rare class (see ``OnlineLabelModel``), beside.
        (COFIRING, OnlineLabelModel(cardinality=k, balance="cofiring")),
        ("MajorityVote", MajorityVote(cardinality=k)),
    ):
        # Stream once, in file order, without gold: the timed region is learning only.
        start = time.perf_counter()
        for lo in range(0, n_train, chunk_size):
            model.learn_many(train.L[lo : lo + chunk_size], lf_ids)
        learn = time.perf_counter() - start

        def predict(model: Any = model) -> _I64:
            proba = np.asarray(model.predict_proba_many(test.L, lf_ids), dtype=np.float64)
            pred: _I64 = np.argmax(proba, axis=1).astype(np.int64)
            return pred

        pred, rps = _timed_predict(predict, n_test)
        models[name] = _row(
            test.y,
            pred,
            k,
            coverage,
            learn,
            n_train,
            rps,
            kinds,
            library="streamlabel",
            mode="stream",
        )

    pred, rps = _timed_predict(lambda: snorkel_random_tie_break(vote_counts(test.L, k)), n_test)
    models[_WRENCH_MV] = _row(
        test.y, pred, k, coverage, None, n_train, rps, kinds, library="reference", mode="none"
    )

    result: dict[str, Any] = {
        "bench": "labelmodel",  # same key as bench_apply
        "dataset": test.name,
        "wrench_dir": str(wrench_dir),
        "n_train": n_train,
        "n_test": n_test,
        "n_lfs": m,
        "cardinality": k,
        # Test rows with gold of each kind (see ``rows_by_votes``).
        "rows_by_votes": {
            kind: int((mask & (test.y != _ABSTAIN)).sum()) for kind, mask in kinds.items()
        },
        "seed": seed,
        "chunk_size": chunk_size,
        "models": models,
    }
    if not peers:
        result["peers"] = {"skipped": "disabled (peers=False)"}
        return result

    peer_rows, info = _snorkel_rows(train.L, test.L, test.y, k, coverage, kinds)
    models.update(peer_rows)
    result["peers"] = info
    if peer_rows:
        ours, ref = models["OnlineLabelModel"], models["snorkel LabelModel"]
        acc, ref_acc = ours["accuracy"], ref["accuracy"]
        result["ratio"] = {
            "accuracy_minus_snorkel_labelmodel": (
                round(acc - ref_acc, 6) if acc is not None and ref_acc is not None else None
            ),
            # < 1 means streaming learned faster than Snorkel's batch fit.
            "learn_time_vs_snorkel_labelmodel": (
                round(ours["learn_seconds"] / ref["learn_seconds"], 6)
                if ref["learn_seconds"]
                else None
            ),
        }
    return result
