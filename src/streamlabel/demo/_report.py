"""The demo's final summary as plain-text tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["render_report"]


def _f(x: Any, width: int, digits: int = 3) -> str:
    return f"{'-':>{width}}" if x is None else f"{float(x):>{width}.{digits}f}"


def _name(names: list[str], c: int) -> str:
    return names[c] if 0 <= c < len(names) else str(c)


def render_report(report: Mapping[str, Any]) -> str:
    """Render :meth:`DemoRun.report`'s dict as text tables.

    Examples
    --------
    >>> text = render_report({"events": 10, "seed": 0, "elapsed_s": 1.0, "phases": [],
    ...                       "drift": [], "pushes": [], "models": [], "dlq": 0,
    ...                       "dlq_by_reason": {}, "lf_faults": {}, "retrain_requests": []})
    >>> text.splitlines()[0]
    'streamlabel demo: 10 events, seed 0, 1.0 s'
    """
    elapsed = report.get("elapsed_s")
    took = "" if elapsed is None else f", {elapsed:.1f} s"
    lines = [f"streamlabel demo: {report['events']:,} events, seed {report['seed']}{took}", ""]
    lines.append("Label accuracy per phase (labels vs truth; serving model vs truth)")
    lines.append(f"  {'phase':<18}{'events':>8}{'labels':>9}{'serving':>9}")
    for p in report["phases"]:
        lines.append(
            f"  {p['phase']:<18}{p['stop'] - p['start']:>8,}"
            f"{_f(p['label_accuracy'], 9)}{_f(p['serving_accuracy'], 9)}"
        )
    lines.append("")
    lines.append("LF accuracy: label model's estimate at the phase's end vs truth in the phase")
    lfs: list[str] = []
    for p in report["phases"]:
        lfs.extend(lf for lf in p["lf_accuracy"] if lf not in lfs)
    short = [p["phase"][:12] for p in report["phases"]]
    lines.append(f"  {'LF':<28}" + "".join(f"{s:>14}" for s in short))
    lines.append(f"  {'':<28}" + "".join(f"{'est  true':>14}" for _ in short))
    for lf in lfs:
        cells = []
        for p in report["phases"]:
            a = p["lf_accuracy"].get(lf)
            if a is None:
                cells.append(f"{'':>14}")
            else:
                cells.append(f"{_f(a['estimated'], 8, 2)}{_f(a['true'], 6, 2)}")
        lines.append(f"  {lf:<28}" + "".join(cells))
    lines.append("")
    drift = report["drift"]
    lines.append(f"Drifts detected: {len(drift)}")
    for d in drift:
        lines.append(f"  at event {d['index']:>8,}  {d['monitor']}")
    lines.append(f"LF set pushes: {len(report['pushes'])}")
    for p in report["pushes"]:
        lines.append(
            f"  at event {p['at']:>8,}  v{p['lfset_version']}"
            f"  added {', '.join(p['added']) or '-'}; removed {', '.join(p['removed']) or '-'}"
        )
    models = report["models"]
    swapped = [m for m in models if m["served"]]
    lines.append(
        f"Models: {len(models)} trained, {len(swapped)} swapped into serving "
        f"({len(report['retrain_requests'])} retraining requests)"
    )
    for m in models:
        status = "served" if m["served"] else "kept champion"
        lines.append(
            f"  {m['version'] or '-':<5} at event {m['at']:>8,}  {m['trigger']:<8}"
            f" holdout acc{_f(m['accuracy'], 6)}  {status}"
        )
    names = report.get("label_names") or ["legit", "fraud"]
    replays = report.get("replays", [])
    if replays:
        lines.append(
            "Replays after each push (events labeled since the phase began, through the "
            "pushed version; revisions go to the trainer's window)"
        )
        lines.append(
            f"  {'version':<8}{'events':>16}{'revised':>9}{'acc before':>12}{'after':>8}"
            "  flips; changed LFs"
        )
        for r in replays:
            s = r["summary"]
            pairs = []
            for pair, n in sorted(s["flips"].items()):
                a, b = (int(c) for c in pair.split("->"))
                pairs.append(f"{_name(names, a)}->{_name(names, b)} {n}")
            changed = ", ".join(f"{k} {v}" for k, v in s["lf_changes"].items())
            lines.append(
                f"  v{r['lfset_version']:<7}{r['from']:>7,}-{r['to']:<8,}{s['revised']:>9}"
                f"{_f(r['accuracy_before'], 12)}{_f(r['accuracy_after'], 8)}"
                f"  {', '.join(pairs) or 'none'}; {changed or '-'}"
            )
    quality = report.get("label_quality")
    if quality and quality.get("expected_accuracy") is not None:
        lines.append(
            f"Label quality of the last {quality['n']:,} labels without gold: estimated "
            f"accuracy {_f(quality['expected_accuracy'], 0)} (raw confidence "
            f"{_f(quality['raw_confidence'], 0)}); on the last {quality['gold_n']:,} late gold "
            f"labels: {_f(quality['gold_accuracy'], 0)}"
        )
    reasons = ", ".join(f"{k} {v}" for k, v in report["dlq_by_reason"].items()) or "-"
    faults = ", ".join(f"{k} {v}" for k, v in report["lf_faults"].items()) or "-"
    lines.append(f"DLQ: {report['dlq']} ({reasons}); LF faults: {faults}")
    return "\n".join(lines)
