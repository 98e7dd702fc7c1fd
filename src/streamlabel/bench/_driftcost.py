"""``streamlabel bench driftcost``: what drift watching adds to the labeler's time per event.

One generated fraud stream (:func:`streamlabel.datasets.make_fraud_stream`) is labeled in
batches by a fresh :class:`~streamlabel.pipeline.Labeler` (one LF set of
:func:`~streamlabel.datasets.fraud_lfsets`, label model learning every batch) three
ways, in the same run, the variants interleaved repeat by repeat:

- ``none``: ``Labeler.process_many`` alone;
- ``per_value``: plus a :class:`~streamlabel.pipeline.DriftWatch` whose rate monitors
  feed their detector every value (``chunk=1``, the setting before chunking);
- ``chunked``: plus a ``DriftWatch`` at its defaults (what the labeler service runs).

Each variant's labeler and watch are timed apart (``time.perf_counter`` around each
call); the report keeps the repeat with the smallest total, and the ratios compare
totals of the same run. Drift events are counted to show the variants watched the same
labels.
"""

from __future__ import annotations

import time
from typing import Any

from streamlabel.datasets import fraud_lfsets, make_fraud_stream
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.pipeline import DriftWatch, Labeler

__all__ = ["DRIFTCOST_VARIANTS", "bench_driftcost"]

#: The variants timed, in report order, with the chunk of the watch's rate monitors
#: (None: no watch for ``none``, the default chunk for ``chunked``).
DRIFTCOST_VARIANTS: dict[str, int | None] = {"none": None, "per_value": 1, "chunked": None}


def _run(
    events: list[dict[str, Any]], version: int, batch_size: int, chunk: int | None, watch: bool
) -> dict[str, Any]:
    lfset = fraud_lfsets()[version - 1]
    labeler = Labeler(lfset, OnlineLabelModel(cardinality=2), clock=lambda: 0.0)
    dw = None
    if watch:
        dw = DriftWatch(lfset.ids) if chunk is None else DriftWatch(lfset.ids, chunk=chunk)
    t_label = t_watch = 0.0
    n_labels = 0
    for lo in range(0, len(events), batch_size):
        batch = [(e, None) for e in events[lo : lo + batch_size]]
        t0 = time.perf_counter()
        out = labeler.process_many(batch)
        t1 = time.perf_counter()
        t_label += t1 - t0
        if dw is not None:
            dw.observe(out.labels)
            t_watch += time.perf_counter() - t1
        n_labels += len(out.labels)
    return {
        "labeler_s": t_label,
        "watch_s": t_watch,
        "total_s": t_label + t_watch,
        "labels": n_labels,
        "drift_events": None if dw is None else sum(e.kind == "drift" for e in dw.events_),
        "lfs": len(lfset.ids),
    }


def bench_driftcost(
    n_events: int = 20_000,
    *,
    seed: int = 0,
    lfset_version: int = 4,
    batch_size: int = 500,
    repeats: int = 3,
) -> dict[str, Any]:
    """Time ``Labeler.process_many`` alone, with a per-value and with a chunked DriftWatch.

    The three variants run side by side, interleaved, in one call (see the module).

    Parameters
    ----------
    n_events
        Events of the generated fraud stream (its five drift phases are spread over them).
    seed
        Seed of the stream.
    lfset_version
        Which of :func:`~streamlabel.datasets.fraud_lfsets` labels it (1-4; v4 has 12 LFs).
    batch_size
        Events per ``process_many`` call (the labeler service's batches are ~500).
    repeats
        Runs per variant; the fastest (smallest total) is reported.

    Returns
    -------
    dict
        ``variants``: per variant, µs per event of the labeler, of the watch and in total,
        and the drift events seen; ``ratios``: each watched variant's total over
        ``none``'s, and its watch time over its own labeler time.

    Examples
    --------
    >>> r = bench_driftcost(1_000, repeats=1)
    >>> sorted(r["variants"]), r["variants"]["none"]["drift_events"]
    (['chunked', 'none', 'per_value'], None)
    >>> r["ratios"]["chunked"]["total_over_none"] > 0
    True
    """
    if not 1 <= lfset_version <= len(fraud_lfsets()):
        raise ValueError(f"lfset_version must be 1-{len(fraud_lfsets())}, got {lfset_version}")
    stream = make_fraud_stream(n_events, seed=seed)
    events = list(stream.events)
    # Untimed warm-up: river's import (on the first monitor built) and first-call costs.
    _run(events[:batch_size], lfset_version, batch_size, None, watch=True)
    best: dict[str, dict[str, Any]] = {}
    for _ in range(repeats):
        for name, chunk in DRIFTCOST_VARIANTS.items():
            run = _run(events, lfset_version, batch_size, chunk, watch=name != "none")
            if name not in best or run["total_s"] < best[name]["total_s"]:
                best[name] = run
    variants: dict[str, dict[str, Any]] = {}
    for name, run in best.items():
        n = run["labels"]
        variants[name] = {
            "labeler_us_per_event": 1e6 * run["labeler_s"] / n,
            "watch_us_per_event": 1e6 * run["watch_s"] / n,
            "total_us_per_event": 1e6 * run["total_s"] / n,
            "events_per_s": n / run["total_s"],
            "drift_events": run["drift_events"],
        }
    none = best["none"]["total_s"]
    ratios = {
        name: {
            "total_over_none": best[name]["total_s"] / none,
            "watch_over_labeler": best[name]["watch_s"] / best[name]["labeler_s"],
        }
        for name in best
        if name != "none"
    }
    return {
        "benchmark": "driftcost",
        "n_events": n_events,
        "labels": best["none"]["labels"],
        "seed": seed,
        "lfset_version": lfset_version,
        "lfs": best["none"]["lfs"],
        "batch_size": batch_size,
        "repeats": repeats,
        "variants": variants,
        "ratios": ratios,
    }
