"""Benchmarks behind ``streamlabel bench``; each returns a JSON-able dict."""

from __future__ import annotations

from streamlabel.bench._apply import bench_apply
from streamlabel.bench._drift import bench_drift
from streamlabel.bench._driftcost import bench_driftcost
from streamlabel.bench._keywords import bench_keywords
from streamlabel.bench._labelmodel import bench_labelmodel
from streamlabel.bench._proxies import bench_proxies
from streamlabel.bench._quality import bench_quality
from streamlabel.bench._regimes import bench_regimes
from streamlabel.bench._shapes import bench_shapes
from streamlabel.bench._speed import bench_lmspeed
from streamlabel.bench._stream import bench_stream
from streamlabel.bench._youtube import bench_drift_youtube

__all__ = [
    "bench_apply",
    "bench_drift",
    "bench_drift_youtube",
    "bench_driftcost",
    "bench_keywords",
    "bench_labelmodel",
    "bench_lmspeed",
    "bench_proxies",
    "bench_quality",
    "bench_regimes",
    "bench_shapes",
    "bench_stream",
]
