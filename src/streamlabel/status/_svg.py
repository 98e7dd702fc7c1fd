"""Inline SVG pictures: sparklines, line charts and a timeline (no external assets)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["COLORS", "line_chart", "sparkline", "timeline"]

#: Series colours (also what the browser test looks for in the screenshot).
COLORS = {
    "accuracy": "#1f77b4",
    "coverage": "#2ca02c",
    "serving": "#ff7f0e",
    "throughput": "#9467bd",
    "drift": "#d62728",
    "push": "#17becf",
    "swap": "#ff7f0e",
    "phase_a": "#f3f4f6",
    "phase_b": "#e5e7eb",
    "axis": "#9ca3af",
}

Point = Sequence[float | None]


def _clean(points: Sequence[Point], col: int) -> list[tuple[float, float]]:
    out = []
    for p in points:
        if len(p) > col and p[0] is not None and p[col] is not None:
            x, y = float(p[0]), float(p[col])  # type: ignore[arg-type]
            if math.isfinite(x) and math.isfinite(y):
                out.append((x, y))
    return out


def _path(
    pts: list[tuple[float, float]],
    x0: float,
    x1: float,
    y0: float,
    y1: float,
    w: float,
    h: float,
    pad: float,
) -> str:
    sx = (w - 2 * pad) / (x1 - x0) if x1 > x0 else 0.0
    sy = (h - 2 * pad) / (y1 - y0) if y1 > y0 else 0.0
    coords = [
        f"{pad + (x - x0) * sx:.1f},{h - pad - (y - y0) * sy:.1f}"
        for x, y in pts  # one point draws as a dot below
    ]
    return "M" + " L".join(coords)


def sparkline(
    points: Sequence[Point],
    *,
    col: int = 1,
    color: str = COLORS["accuracy"],
    width: int = 120,
    height: int = 28,
    lo: float | None = 0.0,
    hi: float | None = 1.0,
    title: str = "",
) -> str:
    """Draw a small line of ``points[i][col]`` against ``points[i][0]``, as an inline ``<svg>``.

    Missing values are skipped; with no value the sparkline is an empty frame.

    Examples
    --------
    >>> svg = sparkline([[0, 0.5], [10, 0.9], [20, None]], title="acc")
    >>> svg.startswith("<svg") and "<path" in svg and "<title>acc</title>" in svg
    True
    >>> "<path" in sparkline([])
    False
    """
    pts = _clean(points, col)
    body = [f"<title>{escape(title)}</title>"] if title else []
    if pts:
        ys = [y for _, y in pts]
        y0 = min(ys) if lo is None else min(lo, min(ys))
        y1 = max(ys) if hi is None else max(hi, max(ys))
        x0, x1 = pts[0][0], pts[-1][0]
        d = _path(pts, x0, x1, y0, y1, width, height, 2)
        body.append(
            f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2" stroke-linejoin="round"/>'
        )
        lx, ly = d.rsplit(" L", 1)[-1].lstrip("M").split(",")
        body.append(f'<circle cx="{lx}" cy="{ly}" r="2.5" fill="{color}"/>')
    return (
        f'<svg class="spark" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">' + "".join(body) + "</svg>"
    )


def line_chart(
    series: Mapping[str, tuple[Sequence[Point], str]],
    *,
    x_max: float | None = None,
    width: int = 560,
    height: int = 150,
    lo: float | None = None,
    hi: float | None = None,
    fmt: str = "{:.2f}",
    title: str = "",
) -> str:
    """Draw a line chart of several series (name -> (points, colour)) with a y range and legend.

    Examples
    --------
    >>> svg = line_chart({"label": ([[0, 0.9], [100, 0.95]], "#1f77b4")}, title="acc")
    >>> svg.count("<path"), "label" in svg
    (1, True)
    """
    pad_l, pad_r, pad_t, pad_b = 44, 8, 18, 18
    cleaned = {k: (_clean(p, 1), c) for k, (p, c) in series.items()}
    ys = [y for pts, _ in cleaned.values() for _, y in pts]
    xs = [x for pts, _ in cleaned.values() for x, _ in pts]
    body = [f"<title>{escape(title)}</title>"] if title else []
    iw, ih = width - pad_l - pad_r, height - pad_t - pad_b
    body.append(
        f'<rect x="{pad_l}" y="{pad_t}" width="{iw}" height="{ih}" fill="#fff" '
        f'stroke="{COLORS["axis"]}"/>'
    )
    if ys:
        y0 = min(ys) if lo is None else min(lo, min(ys))
        y1 = max(ys) if hi is None else max(hi, max(ys))
        if y1 <= y0:
            y1 = y0 + 1.0
        x0, x1 = 0.0, max(xs) if x_max is None else float(x_max)
        x1 = max(x1, x0 + 1.0)
        for frac in (0.0, 0.5, 1.0):
            yv = y0 + frac * (y1 - y0)
            yy = pad_t + ih - frac * ih
            body.append(
                f'<text x="{pad_l - 4}" y="{yy + 4:.1f}" font-size="10" text-anchor="end" '
                f'fill="#6b7280">{escape(fmt.format(yv))}</text>'
            )
        for name, (pts, color) in cleaned.items():
            if not pts:
                continue
            coords = " L".join(
                f"{pad_l + (x - x0) / (x1 - x0) * iw:.1f},"
                f"{pad_t + ih - (y - y0) / (y1 - y0) * ih:.1f}"
                for x, y in pts
            )
            body.append(
                f'<path d="M{coords}" fill="none" stroke="{color}" stroke-width="2.5" '
                f'stroke-linejoin="round"><title>{escape(name)}</title></path>'
            )
    lx = pad_l
    for name, (_, color) in cleaned.items():
        body.append(f'<rect x="{lx}" y="3" width="10" height="10" fill="{color}"/>')
        body.append(
            f'<text x="{lx + 14}" y="12" font-size="11" fill="#374151">{escape(name)}</text>'
        )
        lx += 24 + 7 * len(name)
    return (
        f'<svg class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">' + "".join(body) + "</svg>"
    )


def timeline(
    total: float,
    phases: Sequence[Mapping[str, Any]],
    marks: Sequence[tuple[float, str, str, str]],
    *,
    done: float | None = None,
    width: int = 900,
    height: int = 86,
) -> str:
    """Draw the stream as a band: phases shaded, marks as coloured ticks, progress line.

    ``marks`` are ``(index, row, colour, tooltip)`` with row ``"drift"``, ``"push"`` or
    ``"model"`` (one lane each).

    Examples
    --------
    >>> svg = timeline(100, [{"name": "a", "start": 0, "stop": 50}],
    ...                [(30, "drift", "#d62728", "coverage:x")], done=60)
    >>> "coverage:x" in svg and svg.count("<rect") >= 2
    True
    """
    pad_l, pad_r = 70, 10
    iw = width - pad_l - pad_r
    total = max(float(total), 1.0)
    lanes = {"push": 22, "drift": 42, "model": 62}
    body = []
    for k, ph in enumerate(phases):
        x = pad_l + float(ph["start"]) / total * iw
        w = (float(ph["stop"]) - float(ph["start"])) / total * iw
        fill = COLORS["phase_a"] if k % 2 == 0 else COLORS["phase_b"]
        body.append(
            f'<rect x="{x:.1f}" y="14" width="{w:.1f}" height="{height - 18}" fill="{fill}">'
            f"<title>{escape(str(ph['name']))}</title></rect>"
        )
        body.append(
            f'<text x="{x + 3:.1f}" y="11" font-size="10" fill="#6b7280">'
            f"{escape(str(ph['name']))}</text>"
        )
    for name, y in lanes.items():
        body.append(
            f'<text x="{pad_l - 6}" y="{y + 4}" font-size="10" text-anchor="end" '
            f'fill="#374151">{name}</text>'
        )
    for index, row, color, tip in marks:
        x = pad_l + float(index) / total * iw
        y = lanes.get(row, 42)
        if row == "model":
            shape = f'<path d="M{x - 5:.1f},{y + 6} L{x + 5:.1f},{y + 6} L{x:.1f},{y - 6} Z"'
        else:
            shape = f'<rect x="{x - 2:.1f}" y="{y - 7}" width="4" height="14"'
        body.append(f'{shape} fill="{color}"><title>{escape(tip)}</title></{shape.split()[0][1:]}>')
    if done is not None:
        x = pad_l + min(float(done), total) / total * iw
        body.append(
            f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{height - 4}" stroke="#111827" '
            'stroke-width="1.5" stroke-dasharray="3,2"/>'
        )
    return (
        f'<svg class="timeline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">' + "".join(body) + "</svg>"
    )
