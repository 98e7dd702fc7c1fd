"""Loader for benchmark folders in the WRENCH weak-supervision format.

A WRENCH folder holds ``train.json``, ``valid.json`` and ``test.json``, each mapping a row id
to ``{"label": int, "weak_labels": [int, ...], "data": {...}}`` (``-1`` = abstain), plus an
optional ``label.json`` (label id -> name) and ``labeled_ids.json`` (train ids reserved for
semi-weak methods). The data are read in place and never copied into the repository.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamlabel._constants import ABSTAIN as _ABSTAIN

__all__ = ["WrenchSplit", "load_wrench", "save_wrench", "shared_data_dir"]

#: Environment variable that points at the shared data folder (the one holding ``youtube/``).
SHARED_DATA_ENV = "STREAMLABEL_SHARED_DATA"

_SPLITS = ("train", "valid", "test")


@dataclass(frozen=True, eq=False)  # eq=False: element-wise array comparison has no bool
class WrenchSplit:
    """One split of a WRENCH dataset, as arrays.

    Attributes
    ----------
    name : str
        Dataset name (the folder name, or its parent's when the folder is called ``wrench``).
    split : str
        ``"train"``, ``"valid"`` or ``"test"``.
    ids : list of str
        Row ids, in file order.
    L : ndarray of shape (n, m), dtype int64
        Weak labels; ``-1`` means the LF abstained.
    y : ndarray of shape (n,), dtype int64
        Gold labels (``-1`` where the file has no gold label).
    texts : list of str or None
        ``data["text"]`` of every row, or None when the rows carry no text.
    cardinality : int
        Number of classes.
    label_names : dict of int to str or None
        Class names from ``label.json``, when the folder has one.
    """

    name: str
    split: str
    ids: list[str]
    L: NDArray[np.int64]
    y: NDArray[np.int64]
    texts: list[str] | None
    cardinality: int
    label_names: dict[int, str] | None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_lfs(self) -> int:
        """Number of labeling functions (columns of ``L``)."""
        return int(self.L.shape[1])


def shared_data_dir() -> Path | None:
    """Locate the project's shared data folder, if it is present.

    The folder is taken from the environment variable ``STREAMLABEL_SHARED_DATA`` when set;
    otherwise it is ``../shared/data`` beside the repository root (the nearest folder above
    this module, or above the working directory, that holds ``pyproject.toml``).

    Returns
    -------
    pathlib.Path or None
        The folder, or None when it does not exist.

    Examples
    --------
    >>> d = shared_data_dir()
    >>> d is None or (d / "SOURCES.md").exists() or d.is_dir()
    True
    """
    env = os.environ.get(SHARED_DATA_ENV)
    if env:
        path = Path(env).expanduser()
        return path if path.is_dir() else None
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            if (folder / "pyproject.toml").is_file():
                candidate = folder.parent / "shared" / "data"
                if candidate.is_dir():
                    return candidate
                break  # only the nearest repository root counts
    return None


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def _rows(path: Path) -> Mapping[str, Any]:
    rows = _read_json(path)
    if not isinstance(rows, dict):
        raise ValueError(f"{path}: expected a JSON object mapping row id -> row")
    for i, row in rows.items():
        if not isinstance(row, dict):
            raise ValueError(f"{path}: row {i!r} is not an object")
        label = row.get("label", _ABSTAIN)
        if isinstance(label, bool) or not isinstance(label, int):
            raise ValueError(f"{path}: row {i!r}: 'label' must be an int, got {label!r}")
        _int_list(row.get("weak_labels"), f"{path}: row {i!r}")
    return rows


def _int_list(values: Any, where: str) -> list[int]:
    # bool is an int subclass; a true/false vote is a data error, not a label.
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(f"{where}: 'weak_labels' must be a list of ints")
    return values


def _max_vote(rows: Mapping[str, Any]) -> int:
    top = _ABSTAIN
    for row in rows.values():
        top = max(top, row.get("label", _ABSTAIN), *row.get("weak_labels", ()))
    return top


def load_wrench(
    dir: str | os.PathLike[str],
    split: str,
    *,
    drop_labeled_ids: bool = True,
    name: str | None = None,
) -> WrenchSplit:
    """Load one split of a WRENCH-format dataset folder.

    Parameters
    ----------
    dir : str or path-like
        Folder holding ``<split>.json`` (e.g. ``../shared/data/youtube/wrench``).
    split : str
        Split name: ``"train"``, ``"valid"`` or ``"test"``.
    drop_labeled_ids : bool, default True
        For the train split, leave out the rows listed under ``labeled_ids`` in
        ``labeled_ids.json`` when that file exists (YouTube's train becomes the standard
        1,586 rows).
    name : str, optional
        Dataset name to record; defaults to the folder name, or the parent folder's name
        when the folder is called ``wrench``.

    Returns
    -------
    WrenchSplit
        Rows in file order.

    Raises
    ------
    FileNotFoundError
        If the folder or the split file does not exist.
    ValueError
        If a file is malformed: a row that is not an object, a label or weak labels that
        are not ints, ragged weak labels, labels outside ``-1..cardinality-1``, or a
        ``labeled_ids.json`` without a ``labeled_ids`` list.

    Examples
    --------
    >>> import json, shutil, tempfile
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp())
    >>> rows = {"a": {"label": 1, "weak_labels": [1, -1], "data": {"text": "buy now"}},
    ...         "b": {"label": 0, "weak_labels": [-1, 0], "data": {"text": "nice song"}}}
    >>> _ = (d / "train.json").write_text(json.dumps(rows))
    >>> ds = load_wrench(d, "train")
    >>> ds.ids, ds.cardinality, ds.texts
    (['a', 'b'], 2, ['buy now', 'nice song'])
    >>> ds.L
    array([[ 1, -1],
           [-1,  0]])
    >>> shutil.rmtree(d)
    """
    folder = Path(dir)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"WRENCH data folder not found: {folder} (expected a folder holding "
            f"{split}.json; the shared data is at ../shared/data/youtube/wrench beside the "
            f"repo, or set {SHARED_DATA_ENV} to the shared data folder)"
        )
    path = folder / f"{split}.json"
    if not path.is_file():
        present = sorted(p.name for p in folder.glob("*.json"))
        raise FileNotFoundError(
            f"WRENCH split file not found: {path} (expected {split}.json in {folder}; "
            f"JSON files present: {present or 'none'})"
        )
    rows = _rows(path)

    if split == "train" and drop_labeled_ids and (folder / "labeled_ids.json").is_file():
        meta = _read_json(folder / "labeled_ids.json")
        if not isinstance(meta, dict) or not isinstance(meta.get("labeled_ids"), list):
            raise ValueError(
                f"{folder / 'labeled_ids.json'}: expected an object with a 'labeled_ids' list"
            )
        labeled = {str(i) for i in meta["labeled_ids"]}
        rows = {k: v for k, v in rows.items() if k not in labeled}

    label_names: dict[int, str] | None = None
    if (folder / "label.json").is_file():
        raw = _read_json(folder / "label.json")
        label_names = {int(k): str(v) for k, v in raw.items()}
        if sorted(label_names) != list(range(len(label_names))):
            raise ValueError(f"{folder / 'label.json'}: label ids must be 0..k-1")
        cardinality = len(label_names)
    else:
        # No label map: infer from every split present, so all splits agree.
        top = _max_vote(rows)
        for other in _SPLITS:
            if other != split and (folder / f"{other}.json").is_file():
                top = max(top, _max_vote(_rows(folder / f"{other}.json")))
        cardinality = top + 1

    ids = list(rows)
    n = len(ids)
    votes = [rows[i]["weak_labels"] for i in ids]  # lists of ints (checked by ``_rows``)
    m = len(votes[0]) if votes else 0
    if any(len(v) != m for v in votes):
        raise ValueError(f"{path}: rows have different numbers of weak labels")
    L = np.array(votes, dtype=np.int64).reshape(n, m)
    y = np.array([rows[i].get("label", _ABSTAIN) for i in ids], dtype=np.int64).reshape(n)
    for what, arr in (("weak labels", L), ("labels", y)):
        if arr.size and (arr.min() < _ABSTAIN or arr.max() >= cardinality):
            raise ValueError(f"{path}: {what} must lie in -1..{cardinality - 1}")

    datas = [rows[i].get("data") for i in ids]
    texts: list[str] | None = None
    if all(isinstance(d, dict) and isinstance(d.get("text"), str) for d in datas):
        texts = [d["text"] for d in datas if isinstance(d, dict)]

    if name is None:
        name = folder.resolve().parent.name if folder.name == "wrench" else folder.name
    return WrenchSplit(
        name=name,
        split=split,
        ids=ids,
        L=L,
        y=y,
        texts=texts,
        cardinality=cardinality,
        label_names=label_names,
    )


def save_wrench(
    dir: str | os.PathLike[str],
    L: NDArray[np.integer[Any]],
    y: NDArray[np.integer[Any]],
    cardinality: int,
    *,
    n_train: int,
    n_valid: int = 0,
) -> Path:
    """Write votes and labels as a WRENCH-format folder that :func:`load_wrench` reads.

    The first ``n_train`` rows become ``train.json``, the next ``n_valid`` ``valid.json``
    and the rest ``test.json`` (ids ``"0"``, ``"1"``, ... per split, rows in order, empty
    ``data``), with a ``label.json`` naming classes ``C0``..``C{k-1}``: a generated stream
    run through ``streamlabel bench labelmodel --wrench`` as a benchmark folder.

    Parameters
    ----------
    dir : str or path-like
        Folder to write (created if absent; existing split files are replaced).
    L : ndarray of shape (n, m)
        Weak labels, ``-1`` = abstain.
    y : ndarray of shape (n,)
        True labels.
    cardinality : int
        Number of classes k; every vote and label must lie in ``-1..k-1`` / ``0..k-1``.
    n_train, n_valid : int
        Rows of the train and valid splits; the test split gets the rest.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    ValueError
        If the shapes disagree, a value is out of range or the splits do not fit in n.

    Examples
    --------
    >>> import shutil, tempfile
    >>> d = tempfile.mkdtemp()
    >>> L = np.array([[1, -1], [-1, 0], [0, 0]]); y = np.array([1, 0, 0])
    >>> folder = save_wrench(d, L, y, 2, n_train=2)
    >>> train, test = load_wrench(folder, "train"), load_wrench(folder, "test")
    >>> train.L.tolist(), test.L.tolist(), test.y.tolist(), test.cardinality
    ([[1, -1], [-1, 0]], [[0, 0]], [0], 2)
    >>> shutil.rmtree(d)
    """
    L = np.asarray(L, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    if L.ndim != 2 or y.shape != (L.shape[0],):
        raise ValueError(f"L must be (n, m) and y (n,); got {L.shape} and {y.shape}")
    if cardinality < 2:
        raise ValueError(f"cardinality must be >= 2; got {cardinality}")
    if L.size and (L.min() < _ABSTAIN or L.max() >= cardinality):
        raise ValueError(f"weak labels must lie in -1..{cardinality - 1}")
    if y.size and (y.min() < 0 or y.max() >= cardinality):
        raise ValueError(f"labels must lie in 0..{cardinality - 1}")
    n = len(y)
    if not (0 <= n_train and 0 <= n_valid and n_train + n_valid <= n):
        raise ValueError(f"n_train + n_valid must fit in the {n} rows; got {n_train} + {n_valid}")
    folder = Path(dir)
    folder.mkdir(parents=True, exist_ok=True)
    bounds = {
        "train": (0, n_train),
        "valid": (n_train, n_train + n_valid),
        "test": (n_train + n_valid, n),
    }
    for split, (lo, hi) in bounds.items():
        rows = {
            str(i - lo): {"label": int(y[i]), "weak_labels": L[i].tolist(), "data": {}}
            for i in range(lo, hi)
        }
        (folder / f"{split}.json").write_text(json.dumps(rows), encoding="utf-8")
    names = {str(c): f"C{c}" for c in range(cardinality)}
    (folder / "label.json").write_text(json.dumps(names), encoding="utf-8")
    return folder
