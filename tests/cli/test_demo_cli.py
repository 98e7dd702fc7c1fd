"""`streamlabel demo`: terminates by itself, serves the page and /metrics while it runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from streamlabel.cli import main

SRC = Path(__file__).resolve().parents[2] / "src"


def test_demo_json_without_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--events", "3000", "--seed", "2", "--no-serve", "--json"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["events"] == 3000 and report["seed"] == 2
    assert [p["lfset_version"] for p in report["pushes"]] == ["2", "3", "4"]
    assert report["phases"][0]["phase"] == "baseline"
    assert "url" not in report and "status page" not in out.err


@pytest.mark.parametrize("bad", [["--speed", "-1"], ["--port", "70000"], ["--events", "0"]])
def test_demo_refuses_bad_options(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-serve", *bad]) == 2
    assert "error" in capsys.readouterr().err


def test_demo_serves_while_running_and_ends_with_the_summary() -> None:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    cmd = [sys.executable, "-c", "import sys; from streamlabel.cli import main; sys.exit(main())"]
    # Throttled so that the run is still going when the page and /metrics are fetched.
    args = ["demo", "--events", "6000", "--speed", "2500", "--port", "0"]
    proc = subprocess.Popen(
        [*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"status page (http://127\.0\.0\.1:\d+/)", line)
        assert match, line
        url = match.group(1)
        deadline = time.monotonic() + 60
        while True:  # until some events are labeled (bounded)
            status = json.loads(urllib.request.urlopen(url + "status.json", timeout=10).read())
            if status["stream"]["events_done"] > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status["state"] == "running", status["state"]
        metrics = urllib.request.urlopen(url + "metrics", timeout=10).read().decode()
        assert re.search(r"^streamlabel_events_processed_total [1-9]", metrics, re.M)
        assert 'streamlabel_consumer_lag{partition="0",topic="events"}' in metrics
        page = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "<svg" in page and 'http-equiv="refresh"' in page
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Label accuracy per phase" in out and "Drifts detected" in out
    assert re.search(r"Models: \d+ trained, [1-9]\d* swapped", out), out
