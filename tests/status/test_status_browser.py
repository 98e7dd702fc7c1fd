"""The status page in a real headless Chromium: the charts render, with data.

The page of a real demo run is served by the demo's server and screenshot by Debian's
``chromium``; the screenshot is kept as a CI artifact (``build/artifacts/status-page.png``)
and decoded here to count the pixels of each chart's colour, against the same page with
no data yet. Without Chromium the test skips, or fails when ``STREAMLABEL_REQUIRE_BROWSER=1``
(set in ``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from streamlabel.demo import DemoConfig, DemoRun
from streamlabel.status import COLORS, StatusServer

from ._png import colour_counts, hex_rgb, read_png

REQUIRE_BROWSER_ENV = "STREAMLABEL_REQUIRE_BROWSER"
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "artifacts"
WINDOW = (1280, 1500)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    msg = "no Chromium found (Debian: apt-get install -y chromium)"
    if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
        pytest.fail(f"{msg} and {REQUIRE_BROWSER_ENV}=1", pytrace=False)
    pytest.skip(msg)


def _screenshot(browser: str, url: str, out: Path, profile: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--screenshot={out}",
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert out.is_file(), f"no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return out


def test_status_page_renders_charts_with_data(tmp_path: Path) -> None:
    browser = _chromium()
    run = DemoRun(DemoConfig(events=20_000, train_window=3_000))
    try:
        with StatusServer(run.snapshot, run.metrics.render, refresh=None) as srv:
            empty = _screenshot(browser, srv.url, tmp_path / "empty.png", tmp_path / "p1")
            run.run()
            shot = _screenshot(browser, srv.url, ARTIFACTS / "status-page.png", tmp_path / "p2")
        snapshot = run.snapshot()
    finally:
        run.close()

    width, height, rows = read_png(shot)
    assert (width, height) == WINDOW
    full = colour_counts(rows)
    _, _, empty_rows = read_png(empty)
    none = colour_counts(empty_rows)
    assert len(full) > 500, f"only {len(full)} distinct colours: nothing drawn?"

    # Each picture's own colour: sparklines (accuracy, coverage), the accuracy chart's
    # serving line, the throughput chart, the timeline's pushes, swaps and drifts.
    for name, minimum in (
        ("accuracy", 1_500),
        ("coverage", 1_000),
        ("serving", 500),
        ("throughput", 300),
        ("push", 100),
        ("drift", 50),
    ):
        rgb = hex_rgb(COLORS[name])
        gained = full[rgb] - none[rgb]
        assert gained >= minimum, f"{name} {COLORS[name]}: {gained} pixels more than empty"
    # The data behind it: every LF has a history, drifts and swaps happened.
    assert all(len(lf["history"]) > 10 for lf in snapshot["lfs"])
    assert snapshot["counters"]["drifts"] > 0 and snapshot["counters"]["swaps"] > 0
    # The screenshot is kept for CI under build/artifacts.
    assert shot.stat().st_size > 20_000
