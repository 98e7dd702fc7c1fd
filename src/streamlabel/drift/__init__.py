"""Drift monitors over river's detectors, and when their alarms ask for retraining.

- :class:`Monitor` -- one signal watched by one river detector (``update(x)`` returns
  ``"ok"``, ``"warning"`` or ``"drift"``), silent before ``min_samples`` updates and for
  ``grace`` updates after a drift; reports :class:`DriftEvent` records (JSON-able).
- Factories with tuned detectors: :func:`coverage_monitor`, :func:`agreement_monitor`
  and :func:`accuracy_monitor` (per LF), :func:`disagreement_monitor` (label model vs
  serving model), :func:`score_monitor` (prediction score distribution), :func:`feature_monitor` (an
  input feature's mean), :func:`gold_error_monitor` (error against late gold labels).
- :class:`MonitorSet` -- monitors by name; routes updates, collects events.
- :class:`TriggerPolicy` -- drift events in, :class:`RetrainRequest` out: minimum
  evidence (distinct monitors, or one critical monitor) and a cooldown, counted in
  events.

Pure core: nothing here imports Faust, Kafka clients or a web framework, and river is
imported only when a factory builds a detector.

Examples
--------
>>> from streamlabel.drift import MonitorSet, TriggerPolicy, gold_error_monitor
>>> monitors = MonitorSet([gold_error_monitor()])
>>> policy = TriggerPolicy(critical=["gold_error"], cooldown=5_000)
>>> requests = []
>>> for i in range(8_000):  # every 20th prediction wrong, then every 3rd from 4,000 on
...     event = monitors.update("gold_error", i % (20 if i < 4_000 else 3) == 0, index=i)
...     if event is not None and (request := policy.offer(event)) is not None:
...         requests.append(request)
>>> [(r.index, r.reason) for r in requests]
[(4200, 'drift on critical monitor gold_error')]
"""

from streamlabel.drift._monitors import (
    ADWIN_DELTA,
    RATE_CHUNK,
    STATES,
    Detector,
    DriftEvent,
    DriftKind,
    Monitor,
    State,
    accuracy_monitor,
    agreement_monitor,
    coverage_monitor,
    disagreement_monitor,
    feature_monitor,
    gold_error_monitor,
    score_monitor,
)
from streamlabel.drift._policy import RetrainRequest, TriggerPolicy
from streamlabel.drift._set import MonitorSet

__all__ = [
    "ADWIN_DELTA",
    "RATE_CHUNK",
    "STATES",
    "Detector",
    "DriftEvent",
    "DriftKind",
    "Monitor",
    "MonitorSet",
    "RetrainRequest",
    "State",
    "TriggerPolicy",
    "accuracy_monitor",
    "agreement_monitor",
    "coverage_monitor",
    "disagreement_monitor",
    "feature_monitor",
    "gold_error_monitor",
    "score_monitor",
]
