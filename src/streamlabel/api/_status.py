"""The status page served by the control API, built from the same read models.

The page renderer (:func:`streamlabel.status.render_status_page`) is shared with the
embedded demo; this module turns what the API reads (active LF sets, LF analysis, the
merged label-model parameters, drift records, model versions) into its snapshot and keeps
the history the sparklines need: one sample per LF at most every ``min_interval``
seconds, the last ``max_points`` kept. The x axis is seconds since the API started.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from streamlabel.api._backend import Backend

__all__ = ["StatusView"]


class StatusView:
    """A status snapshot of the system the API controls, with bounded history.

    Parameters
    ----------
    backend : Backend
        Where the read models come from.
    max_points : int, default=150
        History kept per LF.
    min_interval : float, default=2.0
        Seconds between two history samples (a page reload in between reuses the last).
    clock : callable, default=time.monotonic

    Examples
    --------
    >>> from streamlabel.api import InMemoryBackend
    >>> view = StatusView(InMemoryBackend(), clock=lambda: 0.0)
    >>> snap = view.snapshot()
    >>> snap["state"], snap["lfs"]
    ('live', [])
    """

    def __init__(
        self,
        backend: Backend,
        *,
        max_points: int = 150,
        min_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.max_points = max_points
        self.min_interval = min_interval
        self.clock = clock
        self._t0 = clock()
        self._last: float | None = None
        self._history: dict[str, deque[list[float]]] = {}
        self._seen_drift: dict[tuple[Any, ...], float] = {}
        self._lock = threading.Lock()

    def _sample(self, lf_id: str, t: float, acc: float | None, cov: float | None) -> None:
        hist = self._history.setdefault(lf_id, deque(maxlen=self.max_points))
        if acc is not None and cov is not None:
            hist.append([t, float(acc), float(cov)])

    def snapshot(self) -> dict[str, Any]:
        """Return the snapshot (JSON-able) the status page renders."""
        backend = self.backend
        active = backend.active_lfsets()
        analysis = backend.lf_analysis(None)
        params = backend.labelmodel_params()
        drift = backend.drift_events(200)
        models = backend.models()
        with self._lock:
            now = self.clock()
            t = now - self._t0
            take = self._last is None or now - self._last >= self.min_interval
            if take:
                self._last = now
            name = analysis.get("lfset") or (sorted(active)[0] if active else None)
            version = None
            if name is not None and name in active and active[name].version is not None:
                version = active[name].version.version  # type: ignore[union-attr]
            ok = [p for p in params if "error" not in p and p.get("lfset") in (name, None)]
            estimates: dict[str, float] = dict(ok[0].get("lf_accuracies") or {}) if ok else {}
            balance = ok[0].get("class_balance") if ok else None
            recent = analysis.get("recent") or analysis.get("all_time") or {}
            lfs = []
            for row in recent.get("lfs") or []:
                lf_id = str(row.get("lf"))
                acc = estimates.get(lf_id, row.get("est_acc"))
                cov = row.get("coverage")
                if take:
                    self._sample(lf_id, t, acc, cov)
                lfs.append(
                    {
                        "id": lf_id,
                        "estimated_accuracy": acc,
                        "coverage": cov,
                        "history": list(self._history.get(lf_id, ())),
                        "faults": 0,
                    }
                )
            marks = []
            for rec in drift:
                if rec.get("kind", "drift") != "drift":
                    continue
                key = (rec.get("monitor"), rec.get("worker"), rec.get("index"))
                at = self._seen_drift.setdefault(key, t)
                marks.append({"index": at, "monitor": str(rec.get("monitor")), "kind": "drift"})
            while len(self._seen_drift) > 10 * self.max_points:
                self._seen_drift.pop(next(iter(self._seen_drift)))
        versions = []
        serving: dict[str, Any] = {}
        for model_name, view in sorted(models.items()):
            registry = view.get("registry") or {}
            champion = registry.get("champion")
            if champion is None:
                record = view.get("champion") or {}
                champion = (record.get("version") or {}).get("version")
            if champion and not serving:
                serving = {"model": model_name, "version": champion}
            for v in registry.get("versions") or []:
                metrics = v.get("metrics") or {}
                versions.append(
                    {
                        "version": v.get("version"),
                        "at": int(v.get("number") or 0),
                        "trigger": model_name,
                        "accuracy": metrics.get("accuracy"),
                        "auc": metrics.get("auc"),
                        "n_train": int((v.get("lineage") or {}).get("training_window") or 0),
                        "served": v.get("version") == champion,
                        "reason": "",
                    }
                )
        candidate = _candidate(backend, name, recent.get("overall") or {})
        return {
            "candidate": candidate,
            "title": "streamlabel status",
            "state": "live",
            "stream": {"events_done": int(analysis.get("n_labels") or 0)},
            "lfset": {"name": name, "version": version},
            "serving": serving,
            "class_balance": balance,
            "counters": {"drifts": len(marks), "swaps": sum(1 for v in versions if v["served"])},
            "lfs": lfs,
            "drift": marks,
            "models": versions,
            "series": {},
        }


def _candidate(backend: Backend, name: str | None, active: dict[str, Any]) -> dict[str, Any] | None:
    """Return the status page's view of ``name``'s candidate beside the active version.

    ``active`` is the active version's recent overall analysis (coverage, conflict).
    """
    from streamlabel.api._candidate import candidate_view

    if name is None:
        return None
    view = candidate_view(backend, name)
    if view is None:
        return None
    report = view["report"] or {}
    gold = report.get("gold") or {}
    diff = report.get("diff") or {}
    changed = {str(pair[-1]) for pair in diff.get("changed") or []} | set(diff.get("added") or [])
    return {
        "version": view["version"],
        "active_version": view["active_version"],
        "deployed": view["deployed"],
        "verdict": view["verdict"],
        "n": report.get("n", 0),
        "workers": len(view["workers"]),
        "agreement": report.get("agreement"),
        "flips": report.get("flips") or {},
        "coverage": {"active": active.get("coverage"), "candidate": report.get("coverage")},
        "conflict": {"active": active.get("conflict"), "candidate": report.get("conflict")},
        "gold": {
            "n": gold.get("n", 0),
            "active_accuracy": gold.get("active_accuracy"),
            "candidate_accuracy": gold.get("candidate_accuracy"),
            "p_value": gold.get("p_value"),
        },
        "diff": {
            "added": list(diff.get("added") or []),
            "removed": list(diff.get("removed") or []),
            "changed": [list(pair) for pair in diff.get("changed") or []],
        },
        "lfs": [{**row, "new": row.get("lf") in changed} for row in report.get("lfs") or []],
    }
