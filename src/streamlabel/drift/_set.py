"""A named collection of monitors: route updates by name, collect their events."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from streamlabel.drift._monitors import DriftEvent, Monitor, State

__all__ = ["MonitorSet"]


class MonitorSet:
    """Monitors keyed by name; updates are routed by name and events collected in order.

    Parameters
    ----------
    monitors
        The monitors; names must be distinct. More can be added while the stream runs
        (:meth:`add`), e.g. a coverage monitor for an LF that arrived with a new LF set.

    Attributes
    ----------
    events_ : list of DriftEvent
        Events reported since the last :meth:`drain`, in order.
    n_events_ : int
        Events reported in total.

    Examples
    --------
    >>> from streamlabel.drift import MonitorSet, coverage_monitor, disagreement_monitor
    >>> ms = MonitorSet([coverage_monitor("kw@1", min_samples=100), disagreement_monitor()])
    >>> for i in range(3_000):  # the LF stops firing at event 1,000
    ...     _ = ms.update("coverage:kw@1", i < 1_000 and i % 3 == 0, index=i)
    ...     _ = ms.update("disagreement", i % 20 == 0, index=i)
    >>> [(e.monitor, e.kind, e.index) for e in ms.drain()]
    [('coverage:kw@1', 'drift', 1119)]
    >>> ms.states()
    {'coverage:kw@1': 'ok', 'disagreement': 'ok'}
    """

    def __init__(self, monitors: Iterable[Monitor] = ()) -> None:
        self.monitors = monitors

    def _ensure_state(self) -> None:
        if hasattr(self, "_by_name"):
            return
        self._by_name: dict[str, Monitor] = {}
        self.events_: list[DriftEvent] = []
        self.n_events_ = 0
        for m in self.monitors:
            self.add(m)

    def add(self, monitor: Monitor) -> MonitorSet:
        """Add a monitor; its name must be new."""
        self._ensure_state()
        if not isinstance(monitor, Monitor):
            raise TypeError(f"expected a Monitor, got {type(monitor).__name__}")
        if monitor.name in self._by_name:
            raise ValueError(f"a monitor named {monitor.name!r} is already in the set")
        self._by_name[monitor.name] = monitor
        return self

    def remove(self, name: str) -> Monitor:
        """Remove and return the monitor ``name`` (e.g. of a retired LF)."""
        self._ensure_state()
        try:
            return self._by_name.pop(name)
        except KeyError:
            raise KeyError(f"no monitor named {name!r}") from None

    def __getitem__(self, name: str) -> Monitor:
        self._ensure_state()
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no monitor named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        self._ensure_state()
        return name in self._by_name

    def __iter__(self) -> Iterator[Monitor]:
        self._ensure_state()
        return iter(list(self._by_name.values()))

    def __len__(self) -> int:
        self._ensure_state()
        return len(self._by_name)

    def update(
        self, name: str, x: float, *, index: int | None = None, timestamp: float | None = None
    ) -> DriftEvent | None:
        """Feed one value to monitor ``name``; return the event it reported, if any.

        ``index`` and ``timestamp`` are stamped on the event (see :meth:`Monitor.update`).
        Give every monitor the same clock, e.g. the stream's event count, when a
        :class:`TriggerPolicy` compares their events.
        """
        monitor = self[name]
        monitor.update(x, index=index, timestamp=timestamp)
        event = monitor.last_event_
        if event is not None:
            self.events_.append(event)
            self.n_events_ += 1
        return event

    def update_many(
        self,
        name: str,
        xs: Iterable[float],
        *,
        index: int | None = None,
        timestamp: float | None = None,
    ) -> list[DriftEvent]:
        """Feed values in order to monitor ``name``; return the events they reported.

        ``index`` is the stream position of the first value; the i-th gets ``index + i``.
        """
        # Monitor.update_many: the same events, one detector call per chunk or stride.
        events = self[name].update_many(list(xs), index=index, timestamp=timestamp)
        self.events_.extend(events)
        self.n_events_ += len(events)
        return events

    def drain(self) -> list[DriftEvent]:
        """Return the events collected since the last call and forget them."""
        self._ensure_state()
        events, self.events_ = self.events_, []
        return events

    def states(self) -> dict[str, State]:
        """Each monitor's state after its last update, by name."""
        self._ensure_state()
        return {name: m.state for name, m in self._by_name.items()}

    def __repr__(self) -> str:
        names = list(self._by_name) if hasattr(self, "_by_name") else None
        return f"MonitorSet({names if names is not None else self.monitors!r})"
