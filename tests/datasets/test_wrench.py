from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamlabel.datasets import (
    WrenchSplit,
    load_wrench,
    make_unipolar_stream,
    save_wrench,
    shared_data_dir,
)


def _write(folder: Path, name: str, obj: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(obj), encoding="utf-8")


def _row(label: int, votes: list[int], text: str | None = "t") -> dict[str, Any]:
    return {"label": label, "weak_labels": votes, "data": {} if text is None else {"text": text}}


# -- real YouTube data (skipped, or failed with STREAMLABEL_REQUIRE_DATA=1, when absent) --


def test_youtube_train_drops_labeled_ids(youtube_wrench_dir: Path) -> None:
    train = load_wrench(youtube_wrench_dir, "train")
    assert len(train) == 1586
    assert train.L.shape == (1586, 10)
    assert train.L.dtype == np.int64 and train.y.dtype == np.int64
    assert train.ids == [str(i) for i in range(1586)]  # file order kept
    assert train.name == "youtube" and train.split == "train"
    assert train.cardinality == 2
    assert train.label_names == {0: "HAM", 1: "SPAM"}
    assert train.texts is not None and len(train.texts) == 1586
    assert np.bincount(train.y).tolist() == [755, 831]  # SOURCES.md: the 1,586-row balance


def test_youtube_train_keeps_labeled_ids_on_request(youtube_wrench_dir: Path) -> None:
    full = load_wrench(youtube_wrench_dir, "train", drop_labeled_ids=False)
    assert len(full) == 1686
    assert np.bincount(full.y).tolist() == [801, 885]


def test_youtube_valid_and_test(youtube_wrench_dir: Path) -> None:
    valid = load_wrench(youtube_wrench_dir, "valid")
    test = load_wrench(youtube_wrench_dir, "test")
    assert valid.L.shape == (120, 10) and test.L.shape == (250, 10)
    assert test.n_lfs == 10 and test.cardinality == 2
    assert np.bincount(valid.y).tolist() == [64, 56]
    assert np.bincount(test.y).tolist() == [132, 118]
    # SOURCES.md: coverage (at least one LF fires) of test is 0.928.
    assert (test.L != -1).any(axis=1).mean() == pytest.approx(0.928)
    assert set(np.unique(test.L).tolist()) <= {-1, 0, 1}


def test_shared_data_dir_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMLABEL_SHARED_DATA", str(tmp_path))
    assert shared_data_dir() == tmp_path
    monkeypatch.setenv("STREAMLABEL_SHARED_DATA", str(tmp_path / "nope"))
    assert shared_data_dir() is None


# -- synthetic folders --


def test_binary_synthetic_with_label_json_and_labeled_ids(tmp_path: Path) -> None:
    d = tmp_path / "toy"
    rows = {
        "10": _row(1, [1, -1, 1], "spam spam"),
        "2": _row(0, [-1, 0, -1], "hello"),
        "7": _row(1, [-1, -1, -1], "check out"),
    }
    _write(d, "train.json", rows)
    _write(d, "label.json", {"0": "HAM", "1": "SPAM"})
    _write(d, "labeled_ids.json", {"labeled_ids": ["2"], "lf_exemplar_ids": []})
    ds = load_wrench(d, "train")
    assert isinstance(ds, WrenchSplit)
    assert ds.ids == ["10", "7"]  # file order, not sorted; "2" dropped
    assert ds.L.tolist() == [[1, -1, 1], [-1, -1, -1]]
    assert ds.y.tolist() == [1, 1]
    assert ds.texts == ["spam spam", "check out"]
    assert ds.label_names == {0: "HAM", 1: "SPAM"}
    assert ds.name == "toy"
    # labeled_ids only ever applies to train
    _write(d, "valid.json", rows)
    assert load_wrench(d, "valid").ids == ["10", "2", "7"]


def test_multiclass_cardinality_inferred_over_all_splits(tmp_path: Path) -> None:
    d = tmp_path / "topics" / "wrench"
    _write(d, "train.json", {"0": _row(0, [0, 1]), "1": _row(2, [2, -1])})
    _write(d, "test.json", {"5": _row(1, [-1, 4])})  # highest vote lives in another split
    ds = load_wrench(d, "train")
    assert ds.cardinality == 5
    assert ds.name == "topics"  # a folder named "wrench" takes its parent's name
    assert ds.label_names is None
    assert load_wrench(d, "test").cardinality == 5


def test_texts_none_without_text(tmp_path: Path) -> None:
    _write(tmp_path, "test.json", {"0": _row(0, [0], None), "1": _row(1, [1], None)})
    assert load_wrench(tmp_path, "test").texts is None


def test_missing_folder_error_says_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="WRENCH data folder not found") as err:
        load_wrench(tmp_path / "absent", "train")
    assert "shared/data/youtube/wrench" in str(err.value)
    assert "train.json" in str(err.value)


def test_missing_split_file_error(tmp_path: Path) -> None:
    _write(tmp_path, "train.json", {"0": _row(0, [0])})
    with pytest.raises(FileNotFoundError, match=r"valid\.json") as err:
        load_wrench(tmp_path, "valid")
    assert "train.json" in str(err.value)  # lists what is there


def test_ragged_weak_labels_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "train.json", {"0": _row(0, [0, 1]), "1": _row(1, [1])})
    with pytest.raises(ValueError, match="different numbers"):
        load_wrench(tmp_path, "train")


def test_vote_outside_label_json_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "train.json", {"0": _row(0, [0, 3])})
    _write(tmp_path, "label.json", {"0": "a", "1": "b"})
    with pytest.raises(ValueError, match=r"-1\.\.1"):
        load_wrench(tmp_path, "train")


def test_empty_split(tmp_path: Path) -> None:
    _write(tmp_path, "test.json", {})
    _write(tmp_path, "label.json", {"0": "a", "1": "b"})
    ds = load_wrench(tmp_path, "test")
    assert ds.L.shape == (0, 0) and ds.y.shape == (0,) and len(ds) == 0


# -- writing ---------------------------------------------------------------------------------


def test_save_wrench_round_trips_a_generated_stream(tmp_path: Path) -> None:
    s = make_unipolar_stream(130, 4, 7, seed=3)
    folder = save_wrench(tmp_path / "gen", s.L, s.y, 4, n_train=100, n_valid=10)
    splits = {sp: load_wrench(folder, sp) for sp in ("train", "valid", "test")}
    assert [len(d) for d in splits.values()] == [100, 10, 20]
    np.testing.assert_array_equal(np.vstack([d.L for d in splits.values()]), s.L)
    np.testing.assert_array_equal(np.concatenate([d.y for d in splits.values()]), s.y)
    assert {d.cardinality for d in splits.values()} == {4}
    assert splits["test"].ids == [str(i) for i in range(20)]
    assert splits["train"].name == "gen"


@pytest.mark.parametrize(
    ("L", "y", "k", "n_train", "match"),
    [
        ([[0, 1]], [0, 1], 2, 1, "L must be"),
        ([[0, 2]], [0], 2, 1, "weak labels must lie in -1..1"),
        ([[0, -1]], [3], 2, 1, "labels must lie in 0..1"),
        ([[0, -1]], [0], 1, 1, "cardinality"),
        ([[0, -1]], [0], 2, 2, "must fit in the 1 rows"),
    ],
)
def test_save_wrench_refuses_bad_input_and_writes_nothing(
    tmp_path: Path, L: list[list[int]], y: list[int], k: int, n_train: int, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        save_wrench(tmp_path / "bad", np.array(L), np.array(y), k, n_train=n_train)
    assert not (tmp_path / "bad").exists()
