"""``streamlabel bench proxies``: sets shaped like WRENCH's, the model beside majority vote."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamlabel.bench import bench_proxies
from streamlabel.bench._proxies import HEDGED, MODEL, MV, PROXIES, RANDOM_MV, SHAPES
from streamlabel.cli import main
from streamlabel.cli._main import PROXY_NAMES

SPARSE = "recall 1-10%, lift 30-300"


def test_the_cli_names_the_benchs_proxies() -> None:
    assert PROXY_NAMES == tuple(PROXIES)


def test_the_sms_shaped_proxy_keeps_up_with_majority_vote_where_the_half_weight_did_not() -> None:
    # The sparsest shape: a tie is one spam LF against one ham LF, nine in ten of them ham.
    # The balances agree there (majority vote's reads the true 13% spam), so the prior
    # weighs in full; the ablation, at half weight always, calls most of those ties spam.
    r = bench_proxies(seeds=3, proxies=["sms"], shapes=[SPARSE])
    shape = r["proxies"]["sms"]["shapes"][SPARSE]
    assert [s["seed"] for s in shape["streams"]] == [0, 1, 2]
    assert all(s["balance_agreement"] > 0.5 for s in shape["streams"])
    vs_mv = shape[f"vs {MV}"]
    assert vs_mv["accuracy"]["mean_points"] >= -0.05
    assert vs_mv["accuracy"]["worst_points"] >= -0.05  # one event in 3,000 at most
    assert shape[f"vs {HEDGED}"]["accuracy"]["worst_points"] > 0.1  # each stream gains
    assert shape[f"vs {HEDGED}"]["f1_class1"]["mean_points"] > 0.3
    # The scores are those of the rows: the summary over one shape is that shape's.
    assert r["summary"]["sms"] == {k: v for k, v in shape.items() if k != "streams"}
    gaps = [
        100 * (s["models"][MODEL]["accuracy"] - s["models"][MV]["accuracy"])
        for s in shape["streams"]
    ]
    assert vs_mv["accuracy"]["mean_points"] == pytest.approx(np.mean(gaps))


def test_a_multiclass_proxy_has_its_shape_and_shares() -> None:
    r = bench_proxies(seeds=1, proxies=["semeval"], shapes=["recall 10-50%, lift 2-20"])
    proxy = r["proxies"]["semeval"]
    assert proxy["settings"] == {
        "cardinality": 9,
        "n_lfs": 164,
        "n_learn": 1749,
        "class_shares": list(PROXIES["semeval"][3]),
    }
    row = proxy["shapes"]["recall 10-50%, lift 2-20"]
    models = row["streams"][0]["models"]
    assert sorted(models) == sorted([MODEL, HEDGED, MV, RANDOM_MV])
    assert models[MODEL]["f1_class1"] is None  # nine classes: no class 1 to single out
    assert set(row[f"vs {MV}"]) == {"accuracy", "macro_f1"}
    assert r["n_test"] == 3000 and r["seeds"] == 1


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown proxy 'imdb'"):
        bench_proxies(proxies=["imdb"])
    with pytest.raises(ValueError, match="unknown shape"):
        bench_proxies(shapes=["dense"])
    with pytest.raises(ValueError, match="seeds must be at least 1"):
        bench_proxies(seeds=0)


def test_the_command_prints_a_table_or_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "proxies", "--seeds", "1", "--proxy", "agnews", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["proxies"]) == ["agnews"]
    assert list(report["proxies"]["agnews"]["shapes"]) == list(SHAPES)
    assert main(["bench", "proxies", "--seeds", "1", "--proxy", "sms"]) == 0
    out = capsys.readouterr().out
    assert out.count("\nsms ") == len(SHAPES) + 1  # each shape and all shapes
    assert "of 1 per shape" in out
    assert main(["bench", "proxies", "--proxy", "imdb"]) == 2
    assert "invalid choice: 'imdb'" in capsys.readouterr().err
