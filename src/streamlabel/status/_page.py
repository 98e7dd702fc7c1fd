"""The status page: a status snapshot (a JSON-able dict) in, one self-contained HTML page out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from streamlabel.status._svg import COLORS, line_chart, sparkline, timeline

__all__ = ["render_status_page"]

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:18px;
color:#111827;background:#fafafa}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:18px 0 6px}
.sub{color:#6b7280;margin-bottom:10px}
.tiles{display:flex;flex-wrap:wrap;gap:8px}
.tile{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:6px 10px;min-width:96px}
.tile b{display:block;font-size:18px}.tile span{color:#6b7280;font-size:12px}
table{border-collapse:collapse;background:#fff}
td,th{border-bottom:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:middle}
th{font-size:12px;color:#6b7280;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:inline-block;height:8px;background:#1f77b4;border-radius:2px}
.row{display:flex;flex-wrap:wrap;gap:18px}.ok{color:#15803d}.no{color:#6b7280}
.bad{color:#b91c1c}
"""


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.1f}%"


def _num(x: Any, digits: int = 3) -> str:
    return "–" if x is None else f"{float(x):.{digits}f}"


def _tile(value: Any, label: str) -> str:
    return f'<div class="tile"><b>{escape(str(value))}</b><span>{escape(label)}</span></div>'


def _lf_table(lfs: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for lf in lfs:
        hist = lf.get("history") or []
        acc = sparkline(
            hist, col=1, color=COLORS["accuracy"], lo=0.4, hi=1.0, title="estimated accuracy"
        )
        cov = sparkline(hist, col=2, color=COLORS["coverage"], lo=0.0, hi=None, title="coverage")
        true = lf.get("true_accuracy")
        rows.append(
            "<tr>"
            f"<td>{escape(str(lf.get('id', '')))}</td>"
            f'<td class="n">{_num(lf.get("estimated_accuracy"))}</td>'
            + (f'<td class="n">{_num(true)}</td>' if "true_accuracy" in lf else "")
            + f"<td>{acc}</td>"
            f'<td class="n">{_pct(lf.get("coverage"))}</td>'
            f"<td>{cov}</td>"
            f'<td class="n">{int(lf.get("faults") or 0)}</td>'
            "</tr>"
        )
    truth = any("true_accuracy" in lf for lf in lfs)
    head = (
        "<tr><th>LF</th><th>est. accuracy</th>"
        + ("<th>true (window)</th>" if truth else "")
        + "<th>est. accuracy history</th><th>coverage</th><th>coverage history</th>"
        "<th>faults</th></tr>"
    )
    return f'<table id="lfs">{head}{"".join(rows)}</table>'


def _models_table(models: Sequence[Mapping[str, Any]], serving: str | None) -> str:
    if not models:
        return '<p class="no">No model trained yet.</p>'
    best = max((float(m.get("accuracy") or 0.0) for m in models), default=1.0) or 1.0
    rows = []
    for m in reversed(models):
        acc = m.get("accuracy")
        bar = (
            ""
            if acc is None
            else f'<span class="bar" style="width:{max(2, int(90 * float(acc) / best))}px"></span>'
        )
        if m.get("version") is not None and m.get("version") == serving:
            state = '<span class="ok">serving</span>'
        elif m.get("served"):
            state = "served before"
        else:
            state = '<span class="no">kept champion</span>'
        rows.append(
            "<tr>"
            f"<td>{escape(str(m.get('version') or '–'))}</td>"
            f'<td class="n">{int(m.get("at") or 0):,}</td>'
            f"<td>{escape(str(m.get('trigger', '')))}</td>"
            f'<td class="n">{_num(acc)} {bar}</td>'
            f'<td class="n">{_num(m.get("auc"))}</td>'
            f'<td class="n">{int(m.get("n_train") or 0):,}</td>'
            f"<td>{state}</td>"
            f'<td title="{escape(str(m.get("reason", "")))}">'
            f"{escape(str(m.get('reason', ''))[:70])}</td>"
            "</tr>"
        )
    head = (
        "<tr><th>version</th><th>at event</th><th>trigger</th><th>holdout accuracy</th>"
        "<th>AUC</th><th>trained on</th><th>state</th><th>reason</th></tr>"
    )
    return f'<table id="models">{head}{"".join(rows)}</table>'


def _candidate_section(c: Mapping[str, Any]) -> str:
    """Render the candidate LF set version beside the active one (see ``StatusView``)."""
    active, cand = str(c.get("active_version") or "–"), str(c.get("version") or "–")
    gold = c.get("gold") or {}
    cov = c.get("coverage") or {}
    conf = c.get("conflict") or {}
    verdict = str(c.get("verdict") or "undecided")
    css = {"better": "ok", "worse": "bad"}.get(verdict, "no")
    rows = [
        ("coverage", _pct(cov.get("active")), _pct(cov.get("candidate"))),
        ("conflicts", _pct(conf.get("active")), _pct(conf.get("candidate"))),
        (
            f"gold accuracy ({int(gold.get('n') or 0):,} labels)",
            _pct(gold.get("active_accuracy")),
            _pct(gold.get("candidate_accuracy")),
        ),
    ]
    body = "".join(
        f'<tr><td>{escape(k)}</td><td class="n">{a}</td><td class="n">{b}</td></tr>'
        for k, a, b in rows
    )
    table = (
        f"<table><tr><th></th><th>active v{escape(active)}</th>"
        f"<th>candidate v{escape(cand)}</th></tr>{body}</table>"
    )
    flips = ", ".join(f"{k} {int(v):,}" for k, v in (c.get("flips") or {}).items()) or "none"
    p = gold.get("p_value")
    facts = (
        f"{int(c.get('n') or 0):,} events scored by {int(c.get('workers') or 0)} worker(s) · "
        f"agreement with the emitted labels {_pct(c.get('agreement'))} · flips {flips}"
        + ("" if p is None else f" · McNemar p={float(p):.3g}")
    )
    deployed = c.get("deployed") or {}
    who = (
        f"deployed by {deployed.get('actor')}: {deployed.get('reason')}"
        if deployed.get("actor")
        else ""
    )
    diff = c.get("diff") or {}
    changes = [f"+{x}" for x in diff.get("added") or []]
    changes += [f"-{x}" for x in diff.get("removed") or []]
    changes += [f"{a} → {b}" for a, b in diff.get("changed") or []]
    lf_rows = "".join(
        f"<tr><td>{escape(str(lf.get('lf')))}{' *' if lf.get('new') else ''}</td>"
        f'<td class="n">{_num(lf.get("est_acc"))}</td><td class="n">{_pct(lf.get("coverage"))}</td>'
        f'<td class="n">{_pct(lf.get("conflicts"))}</td></tr>'
        for lf in c.get("lfs") or []
    )
    lf_table = (
        "<table><tr><th>candidate LF (* new or changed)</th><th>est. accuracy</th>"
        f"<th>coverage</th><th>conflicts</th></tr>{lf_rows}</table>"
        if lf_rows
        else ""
    )
    return (
        f'<div id="candidate"><p>verdict on gold: <b class="{css}">{escape(verdict)}</b> · '
        f"{escape(facts)}</p>"
        f'<p class="sub">{escape(who)}{" · " if who and changes else ""}'
        f"{escape('changes: ' + ', '.join(changes) if changes else '')}</p>"
        f'<div class="row"><div>{table}</div><div>{lf_table}</div></div></div>'
    )


def render_status_page(snapshot: Mapping[str, Any], *, refresh: float | None = None) -> str:
    """Render a status snapshot as one HTML page with inline SVG pictures.

    The page has: headline tiles (events, throughput, LF set, serving model, drifts,
    swaps, DLQ), the LF table with sparklines of each LF's estimated accuracy and
    coverage, the drift timeline (phases, LF pushes, drift detections, model versions),
    accuracy and throughput charts, and the model versions with their metrics. Every
    key is optional (a key the producer does not know, e.g. true accuracies outside the
    demo, leaves its part out). No external asset, no script.

    Parameters
    ----------
    snapshot
        E.g. :meth:`streamlabel.demo.DemoRun.snapshot`.
    refresh
        Seconds between reloads (a ``<meta http-equiv="refresh">``); ``None``: static.

    Examples
    --------
    >>> page = render_status_page({"title": "demo", "lfs": [
    ...     {"id": "kw@1", "estimated_accuracy": 0.9, "coverage": 0.2,
    ...      "history": [[0, 0.8, 0.1], [100, 0.9, 0.2]]}]}, refresh=2)
    >>> page.startswith("<!doctype html>"), 'http-equiv="refresh" content="2"' in page
    (True, True)
    >>> "kw@1" in page and page.count("<svg") >= 2
    True
    """
    s = snapshot
    title = str(s.get("title", "streamlabel status"))
    stream = s.get("stream") or {}
    counters = s.get("counters") or {}
    serving = s.get("serving") or {}
    lfset = s.get("lfset") or {}
    series = s.get("series") or {}
    total = stream.get("events_total") or 0
    done = stream.get("events_done") or 0
    through = series.get("throughput") or []
    rate = through[-1][1] if through else None
    dlq = counters.get("dlq") or {}
    head = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
    ]
    if refresh:
        head.append(f'<meta http-equiv="refresh" content="{refresh:g}">')
    head.append(f"<style>{_CSS}</style></head><body>")
    parts = head
    parts.append(f"<h1>{escape(title)}</h1>")
    state = s.get("state")
    sub = []
    if state:
        sub.append(str(state))
    if total:
        sub.append(f"{done:,} of {total:,} events")
    if stream.get("seed") is not None:
        sub.append(f"seed {stream['seed']}")
    parts.append(f'<div class="sub">{escape(" · ".join(sub))}</div>')
    tiles = [
        _tile(f"{done:,}", "events labeled"),
        _tile("–" if rate is None else f"{rate:,.0f}/s", "throughput"),
        _tile(f"v{lfset.get('version', '–')}", f"LF set {lfset.get('name', '')}"),
        _tile(serving.get("version") or "–", f"serving {serving.get('model', '')}"),
        _tile(counters.get("drifts", 0), "drifts detected"),
        _tile(counters.get("swaps", 0), "models swapped"),
        _tile(sum(int(v) for v in dlq.values()), "DLQ"),
        _tile(counters.get("lf_faults", 0), "LF faults"),
    ]
    balance = s.get("class_balance")
    names = s.get("label_names") or []
    if balance and len(balance) > 1:
        name = names[1] if len(names) > 1 else "class 1"
        tiles.append(_tile(_pct(balance[1]), f"est. {name} share"))
    parts.append(f'<div class="tiles">{"".join(tiles)}</div>')

    parts.append("<h2>Drift timeline</h2>")
    marks: list[tuple[float, str, str, str]] = []
    for p in s.get("pushes") or []:
        marks.append(
            (
                p.get("at", p.get("index", 0)),
                "push",
                COLORS["push"],
                f"LF set v{p['lfset_version']}",
            )
        )
    for d in s.get("drift") or []:
        if d.get("kind", "drift") == "drift":
            marks.append((d["index"], "drift", COLORS["drift"], f"drift: {d['monitor']}"))
    for m in s.get("models") or []:
        if m.get("served"):
            marks.append((m["at"], "model", COLORS["swap"], f"model {m['version']} swapped in"))
    span = total or max([1.0] + [float(x[0]) for x in marks])
    picture = timeline(span, stream.get("phases") or [], marks, done=done)
    parts.append(f'<div id="timeline">{picture}</div>')

    parts.append('<div class="row">')
    acc_series = {
        "labels": (series.get("label_accuracy") or [], COLORS["accuracy"]),
        "serving model": (series.get("serving_accuracy") or [], COLORS["serving"]),
    }
    parts.append(
        '<div><h2>Accuracy against the truth</h2><div id="accuracy">'
        + line_chart(acc_series, x_max=total or None, hi=1.0, title="accuracy")
        + "</div></div>"
    )
    parts.append(
        '<div><h2>Label throughput</h2><div id="throughput">'
        + line_chart(
            {"events/s": (through, COLORS["throughput"])},
            x_max=total or None,
            lo=0.0,
            fmt="{:,.0f}",
            title="throughput",
        )
        + "</div></div>"
    )
    parts.append("</div>")

    parts.append(f"<h2>Labeling functions (LF set v{escape(str(lfset.get('version', '–')))})</h2>")
    parts.append(_lf_table(s.get("lfs") or []))
    candidate = s.get("candidate")
    if candidate:
        parts.append(
            f"<h2>Candidate LF set v{escape(str(candidate.get('version', '–')))} "
            f"beside v{escape(str(candidate.get('active_version', '–')))}</h2>"
        )
        parts.append(_candidate_section(candidate))
    parts.append("<h2>Model versions</h2>")
    parts.append(_models_table(s.get("models") or [], serving.get("version")))
    review = counters.get("review") or {}
    parts.append(
        '<p class="sub">'
        + escape(
            f"DLQ by reason: {', '.join(f'{k} {v}' for k, v in dlq.items()) or 'none'} · "
            f"review: {', '.join(f'{k} {v}' for k, v in review.items()) or 'none'} · "
            f"retraining requests: {counters.get('retrain_requests', 0)} · "
            f"backlog: {counters.get('backlog', 0)}"
        )
        + ' · <a href="/metrics">/metrics</a> · <a href="/status.json">/status.json</a></p>'
    )
    parts.append("</body></html>")
    return "\n".join(parts)
