"""WRENCH reader/writer and generator contracts a mutation review found untested.

The YouTube tests that cover some of these need the shared data and are skipped without
it; these use small synthetic folders instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamlabel.datasets import (
    VoteStream,
    load_wrench,
    make_bipolar_stream,
    make_drifting_stream,
    make_random_stream,
    make_unipolar_stream,
    save_wrench,
)


def _write(folder: Path, name: str, obj: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(obj), encoding="utf-8")


def _row(label: int, votes: list[Any], data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"label": label, "weak_labels": votes, "data": {"text": "t"} if data is None else data}


# ---------------------------------------------------------------- load_wrench


def test_drop_labeled_ids_false_keeps_the_labeled_rows(tmp_path: Path) -> None:
    """Guards the drop_labeled_ids flag (only the skipped real-data test covers it)."""
    rows = {"a": _row(0, [0]), "b": _row(1, [1]), "c": _row(1, [-1])}
    _write(tmp_path, "train.json", rows)
    _write(tmp_path, "labeled_ids.json", {"labeled_ids": ["b"]})
    assert load_wrench(tmp_path, "train").ids == ["a", "c"]
    assert load_wrench(tmp_path, "train", drop_labeled_ids=False).ids == ["a", "b", "c"]


def test_label_json_ids_must_be_0_to_k_minus_1(tmp_path: Path) -> None:
    """Guards the label.json id check (a gap in the ids would misplace the cardinality)."""
    _write(tmp_path, "train.json", {"0": _row(0, [0, 2])})
    _write(tmp_path, "label.json", {"0": "a", "2": "c"})
    with pytest.raises(ValueError, match=r"label ids must be 0\.\.k-1"):
        load_wrench(tmp_path, "train")


def test_gold_label_outside_the_classes_is_refused(tmp_path: Path) -> None:
    """Guards the range check of the gold labels (not just of the weak labels)."""
    _write(tmp_path, "train.json", {"0": _row(2, [0, 1])})
    _write(tmp_path, "label.json", {"0": "a", "1": "b"})
    with pytest.raises(ValueError, match=r"labels must lie in -1\.\.1"):
        load_wrench(tmp_path, "train")


def test_boolean_weak_labels_are_refused(tmp_path: Path) -> None:
    """Guards _int_list refusing bools (True would silently read as class 1)."""
    _write(tmp_path, "train.json", {"0": _row(0, [True, -1])})
    _write(tmp_path, "label.json", {"0": "a", "1": "b"})
    with pytest.raises(ValueError, match="must be a list of ints"):
        load_wrench(tmp_path, "train")


def test_texts_are_none_unless_every_row_has_one(tmp_path: Path) -> None:
    """Guards texts being all-or-nothing (a partial list would misalign with the rows)."""
    rows = {"0": _row(0, [0]), "1": _row(1, [1], data={}), "2": _row(1, [1], data={"x": 1})}
    _write(tmp_path, "test.json", rows)
    ds = load_wrench(tmp_path, "test")
    assert ds.texts is None
    assert len(ds) == 3


def test_a_split_file_that_is_not_an_object_is_a_clear_error(tmp_path: Path) -> None:
    """Guards _rows' check that a split file maps row ids to rows."""
    _write(tmp_path, "train.json", [_row(0, [0])])
    with pytest.raises(ValueError, match="expected a JSON object"):
        load_wrench(tmp_path, "train")


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ({"0": [0, 1]}, "row '0' is not an object"),
        ({"0": {"label": 0, "weak_labels": ["x", 1]}}, "must be a list of ints"),
        ({"0": {"label": 0}}, "must be a list of ints"),
        ({"0": {"label": "1", "weak_labels": [1]}}, "'label' must be an int"),
        ({"0": {"label": None, "weak_labels": [1]}}, "'label' must be an int"),
    ],
)
def test_malformed_rows_are_a_value_error_without_label_json(
    tmp_path: Path, rows: dict[str, Any], fragment: str
) -> None:
    """Guards the row checks that run before the cardinality is inferred from the rows."""
    _write(tmp_path, "train.json", rows)
    with pytest.raises(ValueError, match=fragment):
        load_wrench(tmp_path, "train")


@pytest.mark.parametrize("meta", [["b"], {"ids": ["b"]}, {"labeled_ids": "b"}])
def test_a_labeled_ids_file_of_another_shape_is_refused(tmp_path: Path, meta: Any) -> None:
    """Guards against keeping the labeled rows silently when the file is malformed."""
    _write(tmp_path, "train.json", {"a": _row(0, [0]), "b": _row(1, [1])})
    _write(tmp_path, "labeled_ids.json", meta)
    with pytest.raises(ValueError, match="'labeled_ids' list"):
        load_wrench(tmp_path, "train")
    assert load_wrench(tmp_path, "train", drop_labeled_ids=False).ids == ["a", "b"]


def test_save_wrench_refuses_negative_split_sizes(tmp_path: Path) -> None:
    """Guards the n_train / n_valid >= 0 checks (n_train + n_valid <= n alone lets them by)."""
    L, y = np.array([[0], [1]]), np.array([0, 1])
    with pytest.raises(ValueError, match="must fit in the 2 rows"):
        save_wrench(tmp_path / "bad", L, y, 2, n_train=3, n_valid=-1)
    assert not (tmp_path / "bad").exists()


# ---------------------------------------------------------------- generators


GENERATORS: dict[str, Callable[[int], VoteStream]] = {
    "bipolar": lambda seed: make_bipolar_stream(300, 3, 4, seed=seed),
    "unipolar": lambda seed: make_unipolar_stream(300, 3, 4, seed=seed),
    "drifting": lambda seed: make_drifting_stream(300, drift_at=150, seed=seed),
    "random": lambda seed: make_random_stream(seed, n_test=50).stream,
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_follow_their_seed(name: str) -> None:
    """Guards each synthetic generator using its seed: same seed same stream, other other."""
    make = GENERATORS[name]
    a, b, c = make(3), make(3), make(4)
    assert np.array_equal(a.L, b.L) and np.array_equal(a.y, b.y)
    assert not (a.L.shape == c.L.shape and np.array_equal(a.L, c.L) and np.array_equal(a.y, c.y))


def test_drifting_lf_changes_exactly_at_drift_at() -> None:
    """Guards the drift boundary: event ``drift_at`` is the first with the new accuracy."""
    s = make_drifting_stream(200, drift_at=100, before=1.0, after=0.0, coverage=1.0, seed=0)
    assert (s.L[:100, 0] == s.y[:100]).all()
    assert (s.L[100:, 0] == 1 - s.y[100:]).all()


@pytest.mark.parametrize("intensity", [0.0, 1.0, 3.0])
def test_random_stream_honours_a_fixed_intensity(intensity: float) -> None:
    """Guards make_random_stream's ``intensity`` argument overriding the drawn one."""
    for seed in range(4):  # seeds 0-3 draw 3.0, 3.0, 0.0, 1.0
        r = make_random_stream(seed, n_test=10, intensity=intensity)
        assert r.settings["intensity"] == intensity
