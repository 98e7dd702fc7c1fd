"""When drift evidence is enough to ask for retraining: minimum evidence and a cooldown."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from streamlabel.drift._monitors import DriftEvent

__all__ = ["RetrainRequest", "TriggerPolicy"]


@dataclass(frozen=True, slots=True)
class RetrainRequest:
    """A request to retrain the serving model, with the drift evidence behind it.

    Attributes
    ----------
    index : int
        Stream position of the newest drift event in the evidence.
    timestamp : float or None
        That event's timestamp.
    monitors : tuple of str
        Names of the monitors whose drift events count as evidence, sorted.
    reason : str
        One line naming the monitors and the rule that fired.
    events : tuple of DriftEvent
        The evidence: the latest drift event of each monitor in ``monitors``.

    Examples
    --------
    >>> from streamlabel.drift import DriftEvent, RetrainRequest
    >>> e = DriftEvent("gold_error", "gold_error", "drift", 9000, 1200)
    >>> r = RetrainRequest(9000, None, ("gold_error",), "drift on critical monitor gold_error",
    ...                    (e,))
    >>> r.to_dict()["monitors"], RetrainRequest.from_dict(r.to_dict()) == r
    (['gold_error'], True)
    """

    index: int
    timestamp: float | None
    monitors: tuple[str, ...]
    reason: str
    events: tuple[DriftEvent, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the request as a JSON-able dict."""
        return {
            "index": self.index,
            "timestamp": self.timestamp,
            "monitors": list(self.monitors),
            "reason": self.reason,
            "events": [e.to_dict() for e in self.events],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RetrainRequest:
        """Build the request from :meth:`to_dict`'s output."""
        ts = d.get("timestamp")
        return cls(
            int(d["index"]),
            None if ts is None else float(ts),
            tuple(str(m) for m in d["monitors"]),
            str(d["reason"]),
            tuple(DriftEvent.from_dict(e) for e in d["events"]),
        )


class TriggerPolicy:
    """Turn drift events into retraining requests: minimum evidence, then a cooldown.

    Only ``"drift"`` events count; warnings are ignored. Time is the events' ``index``
    (give every monitor the stream's event count), never a clock, so a replay decides
    the same. :meth:`offer` returns a :class:`RetrainRequest` when

    - the event comes from a monitor named in ``critical`` (it is evidence enough), or
    - drift events of at least ``min_monitors`` distinct monitors have arrived within the
      last ``window`` events (this one included; a monitor drifting twice counts once),

    unless a request was made less than ``cooldown`` events before (``index - last
    request's index < cooldown``). Drift events offered during the cooldown are counted
    in :attr:`n_suppressed_` and dropped: the retraining just requested will see the data
    they describe. A request clears the evidence.

    Parameters
    ----------
    min_monitors
        Distinct monitors whose drift together make a request.
    critical
        Names of monitors whose drift alone makes a request (e.g. ``"gold_error"``: the
        serving model is measurably wrong).
    cooldown
        Events after a request during which no other is made.
    window
        Events over which drifts of different monitors add up.

    Attributes
    ----------
    requests_ : list of RetrainRequest
        Requests made, in order.
    last_request_ : RetrainRequest or None
        The latest request.
    n_suppressed_ : int
        Drift events dropped because they fell in a cooldown.

    Examples
    --------
    >>> from streamlabel.drift import DriftEvent, TriggerPolicy
    >>> policy = TriggerPolicy(min_monitors=2, cooldown=10_000, window=5_000)
    >>> def drift(name, at):
    ...     return DriftEvent(name, name.split(":")[0], "drift", at, at)
    >>> policy.offer(drift("coverage:kw@1", 1_000)) is None  # one monitor is not enough
    True
    >>> policy.offer(drift("disagreement", 3_000)).reason
    'drift on 2 monitors within 5000 events: coverage:kw@1, disagreement'
    >>> policy.offer(drift("score", 8_000)), policy.n_suppressed_  # in the cooldown
    (None, 1)
    """

    def __init__(
        self,
        min_monitors: int = 2,
        critical: Iterable[str] = (),
        cooldown: int = 20_000,
        window: int = 10_000,
    ) -> None:
        self.min_monitors = min_monitors
        self.critical = critical
        self.cooldown = cooldown
        self.window = window

    def _ensure_state(self) -> None:
        if hasattr(self, "_critical"):
            return
        for name, minimum in (("min_monitors", 1), ("cooldown", 0), ("window", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
        if isinstance(self.critical, str):  # a lone name would be split into letters
            raise TypeError("critical must be an iterable of monitor names, not a str")
        self._critical = frozenset(self.critical)
        self.reset()

    def reset(self) -> TriggerPolicy:
        """Forget the evidence, the requests and the cooldown."""
        self._evidence: dict[str, DriftEvent] = {}
        self.requests_: list[RetrainRequest] = []
        self.last_request_: RetrainRequest | None = None
        self.n_suppressed_ = 0
        return self

    def in_cooldown(self, index: int) -> bool:
        """Whether a request at stream position ``index`` would fall in the cooldown."""
        self._ensure_state()
        last = self.last_request_
        return last is not None and index - last.index < self.cooldown

    def offer(self, event: DriftEvent) -> RetrainRequest | None:
        """Take one drift event; return the retraining request it completes, if any."""
        self._ensure_state()
        if event.kind != "drift":
            return None
        now = event.index
        if self.in_cooldown(now):
            self.n_suppressed_ += 1
            return None
        self._evidence[event.monitor] = event
        # Evidence older than the window no longer adds up with this event.
        self._evidence = {
            name: e for name, e in self._evidence.items() if now - e.index < self.window
        }
        names = tuple(sorted(self._evidence))
        if event.monitor in self._critical:
            others = [n for n in names if n != event.monitor]
            reason = f"drift on critical monitor {event.monitor}"
            if others:
                reason += f" (also within {self.window} events: {', '.join(others)})"
        elif len(names) >= self.min_monitors:
            if len(names) == 1:
                reason = f"drift on {names[0]}"
            else:
                reason = f"drift on {len(names)} monitors within {self.window} events: "
                reason += ", ".join(names)
        else:
            return None
        evidence = tuple(self._evidence[n] for n in names)
        # Monitors fed batch by batch offer events out of stream order: the request stands
        # at the newest, so the cooldown starts there.
        newest = max(evidence, key=lambda e: e.index)
        request = RetrainRequest(newest.index, newest.timestamp, names, reason, evidence)
        self._evidence.clear()
        self.requests_.append(request)
        self.last_request_ = request
        return request

    def __repr__(self) -> str:
        return (
            f"TriggerPolicy(min_monitors={self.min_monitors}, critical={self.critical!r}, "
            f"cooldown={self.cooldown}, window={self.window})"
        )
