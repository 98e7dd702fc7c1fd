"""The status server and page, and the embedded demo's seeded injections and gold rate."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest

from streamlabel.demo import DemoConfig, DemoRun
from streamlabel.status import StatusServer, render_status_page


# Guards status/_server.py: the page has no authentication, so only loopback binds.
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.2", ""])
def test_status_server_refuses_non_loopback_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        StatusServer(lambda: {}, lambda: b"", host=host)


# Guards status/_server.py: an unknown path is a 404 (not a page), and a snapshot that
# raises is a 500 while the server keeps answering.
def test_status_server_404_and_500_without_dying() -> None:
    state = {"broken": True}

    def snapshot() -> dict[str, Any]:
        if state["broken"]:
            raise RuntimeError("snapshot exploded")
        return {"title": "fine"}

    with StatusServer(snapshot, lambda: b"m 1\n") as srv:
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(srv.url + "nope", timeout=5)
        assert missing.value.code == 404
        with pytest.raises(urllib.error.HTTPError) as broken:
            urllib.request.urlopen(srv.url + "status.json", timeout=5)
        assert broken.value.code == 500
        assert b"snapshot exploded" in broken.value.read()
        state["broken"] = False
        page = urllib.request.urlopen(srv.url, timeout=5).read().decode()
        assert "<h1>fine</h1>" in page


# Guards status/_page.py: free text of a snapshot (a model's reason) is HTML-escaped.
def test_status_page_escapes_model_reasons() -> None:
    reason = "challenger <b>0.91</b> < champion & kept"
    page = render_status_page(
        {"models": [{"version": "v1", "at": 10, "trigger": "x", "reason": reason}]}
    )
    assert "<b>0.91</b>" not in page
    assert "challenger &lt;b&gt;0.91&lt;/b&gt; &lt; champion &amp; kept" in page


def _bad_positions(run: DemoRun) -> list[int]:
    inputs = run._inputs
    return [inputs[j - 1][2] for j in range(1, len(inputs)) if inputs[j][2] == -1]


# Guards demo/_run.py: the injected malformed inputs are drawn from the seed (same seed,
# same positions; another seed, others), not from a fixed stream of numbers.
def test_demo_injections_follow_the_seed() -> None:
    runs = [DemoRun(DemoConfig(events=4_000, seed=s)) for s in (0, 0, 1)]
    try:
        a, b, c = (_bad_positions(r) for r in runs)
        assert a and a == b and a != c
    finally:
        for r in runs:
            r.close()


# Guards demo/_run.py: gold_every sets the late-gold rate (one event in gold_every).
def test_demo_gold_every_sets_the_gold_rate() -> None:
    run = DemoRun(DemoConfig(events=1_000, batch_size=250, gold_every=10, train_window=500))
    try:
        run.run()
        assert run.labeler.feedback_applied_ == 100
    finally:
        run.close()


# Guards demo/_run.py _series: every chart series and LF history holds at most
# ``history_points`` points (one more used to slip in after each halving check).
def test_demo_series_stay_within_history_points() -> None:
    run = DemoRun(DemoConfig(events=1005, batch_size=5, history_points=10, train_window=500))
    run.run()
    snap = run.snapshot()
    lengths = [len(v) for v in snap["series"].values()]
    lengths += [len(lf["history"]) for lf in snap["lfs"]]
    assert max(lengths) == 10
