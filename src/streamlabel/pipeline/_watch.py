"""Feed the drift monitors from what the labeler emits; turn their alarms into requests.

Also the ``drift`` topic's record format: :func:`drift_record` wraps a
:class:`~streamlabel.drift.DriftEvent` (``kind`` ``"drift"``) or a
:class:`~streamlabel.drift.RetrainRequest` (``kind`` ``"retrain_request"``) with where it
was observed; :func:`parse_drift_record` reads one back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np

from streamlabel.drift import (
    RATE_CHUNK,
    DriftEvent,
    MonitorSet,
    RetrainRequest,
    TriggerPolicy,
    agreement_monitor,
    coverage_monitor,
    disagreement_monitor,
    gold_error_monitor,
    score_monitor,
)
from streamlabel.pipeline._records import LabelRecord

__all__ = ["DRIFT_RECORD_FORMAT", "DriftWatch", "drift_record", "parse_drift_record"]

#: ``format`` of every record on the ``drift`` topic (``format_version`` 1).
DRIFT_RECORD_FORMAT: Final = "streamlabel.drift-record"


def drift_record(
    item: DriftEvent | RetrainRequest, context: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the ``drift`` topic value of a drift event or a retraining request.

    ``kind`` is ``"drift"`` for a monitor's event (its own state, ``"drift"`` or
    ``"warning"``, is ``event["kind"]``) and ``"retrain_request"`` for a request;
    ``context`` (e.g. the group, worker and LF set) is copied in.

    Examples
    --------
    >>> from streamlabel.drift import DriftEvent
    >>> rec = drift_record(DriftEvent("gold_error", "gold_error", "drift", 9000, 1200),
    ...                    {"lfset": "fraud"})
    >>> rec["kind"], rec["event"]["monitor"], rec["lfset"]
    ('drift', 'gold_error', 'fraud')
    >>> parse_drift_record(json.dumps(rec).encode()).index
    9000
    """
    out: dict[str, Any] = {"format": DRIFT_RECORD_FORMAT, "format_version": 1}
    if context:
        out.update(context)
    if isinstance(item, RetrainRequest):
        out["kind"] = "retrain_request"
        out["request"] = item.to_dict()
    else:
        out["kind"] = "drift"
        out["event"] = item.to_dict()
    return out


def parse_drift_record(value: bytes | str | Mapping[str, Any]) -> DriftEvent | RetrainRequest:
    """Read a ``drift`` topic value; ``ValueError`` names what is wrong.

    Examples
    --------
    >>> try:
    ...     parse_drift_record(b'{"format": "streamlabel.drift-record", "kind": "x"}')
    ... except ValueError as exc:
    ...     print(exc)
    drift record: unknown kind 'x'
    """
    if isinstance(value, Mapping):
        d: Any = value
    else:
        try:
            d = json.loads(value)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"drift record: not JSON ({exc})") from None
    if not isinstance(d, Mapping) or d.get("format") != DRIFT_RECORD_FORMAT:
        raise ValueError(f"drift record: format is not {DRIFT_RECORD_FORMAT!r}")
    kind = d.get("kind")
    try:
        if kind == "retrain_request":
            return RetrainRequest.from_dict(d["request"])
        if kind == "drift":
            return DriftEvent.from_dict(d["event"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"drift record: malformed {kind} ({exc!r})") from None
    raise ValueError(f"drift record: unknown kind {kind!r}")


class DriftWatch:
    """Watch a labeler's output for drift and decide when the serving model is stale.

    Per LF of the served set: its coverage (did it vote, per event) and its agreement with
    the emitted label (per vote it casts, a label-free proxy of its accuracy). With a
    serving model: how often it disagrees with the emitted label and the distribution of
    its scores. With late gold: the error of the label that was emitted (or served).
    Every drift event goes to ``policy``; the requests it makes are returned.

    The monitors count events in the order the labeler emitted them (one clock for all,
    the policy's time). The label model's own confidence is *not* watched: it moves as
    the model learns, so a distribution test on it alarms on learning, not drift.

    Parameters
    ----------
    lf_ids
        The LF ids of the served set (see :meth:`set_lfs` for a hot reload).
    policy
        The trigger policy; by default gold error alone is evidence enough, otherwise
        two monitors within 10,000 events, with a cooldown of 20,000 events.
    min_samples, grace
        Passed to every monitor (see :class:`~streamlabel.drift.Monitor`).
    chunk
        Passed to the 0/1 rate monitors (coverage, agreement, disagreement): their
        detector sees the count of each ``chunk`` values
        (:data:`~streamlabel.drift.RATE_CHUNK`, 16); ``1`` feeds it every value (slower,
        the same test; kept for comparison, see ``streamlabel bench driftcost``).
    on_lf_drift
        Called with an LF's id when its coverage or agreement monitor reports drift (not
        a warning): the LF changed, so what the label model learned about it is stale.
        The pipelines pass :meth:`Labeler.forget_lf <streamlabel.pipeline.Labeler.forget_lf>`.

    Attributes
    ----------
    monitors : MonitorSet
        The monitors, by name (``coverage:<lf>``, ``agreement:<lf>``, ``disagreement``,
        ``score``, ``gold_error``).
    events_ : list of DriftEvent
        Every drift or warning event reported, in order.
    n_events_ : int
        Label records observed (the monitors' clock).

    Examples
    --------
    >>> from streamlabel.pipeline import DriftWatch, LabelRecord
    >>> watch = DriftWatch(["kw@1"], min_samples=10)
    >>> rec = LabelRecord("e1", "c1", "s", "1", {"kw@1": 1}, [0.1, 0.9], 1, 0.9, "1.2",
    ...                   0.0, 1e-5, None)
    >>> watch.observe([rec] * 50), watch.n_events_
    ([], 50)
    >>> sorted(watch.monitors.states())
    ['agreement:kw@1', 'coverage:kw@1', 'gold_error']
    """

    def __init__(
        self,
        lf_ids: Iterable[str],
        *,
        policy: TriggerPolicy | None = None,
        min_samples: int = 1000,
        grace: int = 1000,
        chunk: int = RATE_CHUNK,
        on_lf_drift: Callable[[str], object] | None = None,
    ) -> None:
        self.min_samples = min_samples
        self.grace = grace
        self.chunk = chunk
        self.on_lf_drift = on_lf_drift
        self.policy = TriggerPolicy(critical=["gold_error"]) if policy is None else policy
        self.monitors = MonitorSet([gold_error_monitor(min_samples=min_samples, grace=grace)])
        self.lf_ids_: tuple[str, ...] = ()
        self.events_: list[DriftEvent] = []
        self.n_events_ = 0
        self.set_lfs(lf_ids)

    def set_lfs(self, lf_ids: Iterable[str]) -> None:
        """Watch the LFs ``lf_ids``: monitors of LFs that stay keep their state."""
        new = tuple(dict.fromkeys(lf_ids))
        for lf in self.lf_ids_:
            if lf not in new:
                self.monitors.remove(f"coverage:{lf}")
                self.monitors.remove(f"agreement:{lf}")
        for lf in new:
            if f"coverage:{lf}" not in self.monitors:
                for factory in (coverage_monitor, agreement_monitor):
                    self.monitors.add(
                        factory(
                            lf, min_samples=self.min_samples, grace=self.grace, chunk=self.chunk
                        )
                    )
        self.lf_ids_ = new

    def _monitor(self, name: str) -> None:
        """Add the ``disagreement`` or ``score`` monitor on first use."""
        if name in self.monitors:
            return
        if name == "disagreement":
            self.monitors.add(
                disagreement_monitor(
                    min_samples=self.min_samples, grace=self.grace, chunk=self.chunk
                )
            )
        else:
            self.monitors.add(score_monitor(min_samples=self.min_samples, grace=self.grace))

    def observe(
        self,
        labels: Sequence[LabelRecord],
        served: Sequence[int] | None = None,
        scores: Sequence[float] | None = None,
        *,
        timestamp: float | None = None,
    ) -> list[RetrainRequest]:
        """Feed one batch of label records (and the serving model's labels and scores).

        Returns the retraining requests the batch's drift events made.
        """
        if served is not None and len(served) != len(labels):
            raise ValueError(f"{len(served)} served labels for {len(labels)} label records")
        if scores is not None and len(scores) != len(labels):
            raise ValueError(f"{len(scores)} scores for {len(labels)} label records")
        monitors = self.monitors
        if served is not None:
            self._monitor("disagreement")
        if scores is not None:
            self._monitor("score")
        n = len(labels)
        i0 = self.n_events_
        if n == 0:
            return []
        # One pass over the records gathers every vote; each monitor then takes its whole
        # column at once (Monitor.update_many), which touches the detector once per chunk.
        col = {lf: j for j, lf in enumerate(self.lf_ids_)}
        rows: list[int] = []
        cols: list[int] = []
        agrees: list[bool] = []
        for r, rec in enumerate(labels):
            y = rec.label
            for lf, vote in rec.votes.items():
                j = col.get(lf)
                if j is not None:
                    rows.append(r)
                    cols.append(j)
                    agrees.append(vote == y)
        row = np.asarray(rows, dtype=np.int64)
        lfs = np.asarray(cols, dtype=np.int64)
        agree = np.asarray(agrees, dtype=np.float64)
        voted = np.zeros((len(col), n), dtype=np.float64)
        voted[lfs, row] = 1.0
        # Votes in event order within each LF (a stable sort keeps the rows ascending).
        order = np.argsort(lfs, kind="stable")
        bounds = np.searchsorted(lfs[order], np.arange(len(col) + 1))
        found: list[DriftEvent] = []
        for j, lf in enumerate(self.lf_ids_):
            found += monitors[f"coverage:{lf}"].update_many(voted[j], index=i0, timestamp=timestamp)
            mine = order[bounds[j] : bounds[j + 1]]
            found += monitors[f"agreement:{lf}"].update_many(
                agree[mine], index=i0 + row[mine], timestamp=timestamp
            )
        if served is not None:
            label = np.fromiter((rec.label for rec in labels), dtype=np.int64, count=n)
            disagree = np.asarray(served, dtype=np.int64) != label
            found += monitors["disagreement"].update_many(disagree, index=i0, timestamp=timestamp)
        if scores is not None:
            found += monitors["score"].update_many(scores, index=i0, timestamp=timestamp)
        # The policy's time is the stream position: offer the events in that order (a
        # stable sort keeps the per-event order of before: LF by LF, then the model's).
        found.sort(key=lambda e: e.index)
        self.n_events_ = i0 + n
        return self._offer(found)

    def observe_gold(
        self, predicted: int, gold: int, *, timestamp: float | None = None
    ) -> list[RetrainRequest]:
        """Feed one late gold label against the label that was emitted (or served)."""
        event = self.monitors.update(
            "gold_error", predicted != gold, index=self.n_events_, timestamp=timestamp
        )
        return self._offer([] if event is None else [event])

    def _offer(self, events: list[DriftEvent]) -> list[RetrainRequest]:
        self.events_.extend(events)
        requests = []
        for event in events:
            if self.on_lf_drift is not None and event.kind == "drift":
                kind, _, lf = event.monitor.partition(":")
                if kind in ("coverage", "agreement") and lf in self.lf_ids_:
                    self.on_lf_drift(lf)
            request = self.policy.offer(event)
            if request is not None:
                requests.append(request)
        return requests
