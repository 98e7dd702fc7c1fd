"""Where the control plane keeps and finds things: the :class:`Backend` protocol.

Two implementations: :class:`InMemoryBackend` (tests, the embedded demo) and
:class:`~streamlabel.api.KafkaBackend` (the topics). The rules (validation, versions,
rollback, audit) live in :class:`~streamlabel.api.ControlPlane`, above either.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from streamlabel.api._model import ActiveSet, AuditEntry, LFSetVersion
from streamlabel.models import ModelCommand
from streamlabel.pipeline import CandidateRecord

if TYPE_CHECKING:
    from streamlabel.api._replay import Replayer
    from streamlabel.api._trace import Tracer

__all__ = ["Backend", "InMemoryBackend"]


@runtime_checkable
class Backend(Protocol):
    """Storage and read models of the control plane.

    Reads may raise :class:`~streamlabel.api.BackendUnavailableError` (HTTP 503); so may
    writes, which are ordered so that the effect comes last (see each method).
    """

    def lfset_versions(self, name: str | None = None) -> list[LFSetVersion]:
        """Return every published version (of ``name``, or of every set), oldest first."""
        ...

    def active_lfsets(self) -> dict[str, ActiveSet]:
        """Return the version in effect of every set (the latest ``lfsets`` record)."""
        ...

    def publish_lfset(self, version: LFSetVersion, audit: AuditEntry) -> dict[str, Any]:
        """Store ``version``, then ``audit``, then make the version the active one.

        Returns where the active record went (backend-specific, JSON-able).
        """
        ...

    def audit(self, limit: int = 100) -> list[AuditEntry]:
        """Return the latest ``limit`` audit entries, oldest first."""
        ...

    def record_audit(self, audit: AuditEntry) -> dict[str, Any]:
        """Record an audit entry of a change made elsewhere (a replay started)."""
        ...

    def send_model_command(self, command: ModelCommand, audit: AuditEntry) -> dict[str, Any]:
        """Record ``audit``, then hand ``command`` to the trainer that owns the registry."""
        ...

    def models(self) -> dict[str, dict[str, Any]]:
        """Return, per model name, its champion and its registry view.

        ``champion``: the ``models`` record without its artifact; ``registry``: the
        trainer's registry view; either may be None.
        """
        ...

    def labelmodel_params(self) -> list[dict[str, Any]]:
        """Return each labeler group's merged label-model parameters (JSON-able)."""
        ...

    def lf_analysis(self, lfset: str | None = None) -> dict[str, Any]:
        """Return LF diagnostics over recent labels (:func:`~streamlabel.api.analyse_labels`)."""
        ...

    def drift_events(self, limit: int = 100) -> list[dict[str, Any]]:
        """Return the latest ``limit`` drift-topic records, oldest first."""
        ...

    def health(self) -> dict[str, Any]:
        """Return whether the store answers, ``{"ready": bool, ...}``; never raise."""
        ...

    def candidates(self) -> dict[str, CandidateRecord]:
        """Return the latest ``lfset-candidates`` record of every set (cleared ones too)."""
        ...

    def publish_candidate(
        self, record: CandidateRecord, audit: AuditEntry | None
    ) -> dict[str, Any]:
        """Record ``audit`` (if any), then publish ``record``: the labelers follow it."""
        ...

    def shadow_reports(self, lfset: str) -> list[dict[str, Any]]:
        """Return the latest ``shadow-reports`` value of each labeler worker for ``lfset``."""
        ...


class InMemoryBackend:
    """A :class:`Backend` in memory: for tests and for the embedded demo.

    Read models are fed by the host: :meth:`set_labelmodel_params`,
    :meth:`add_labels` / :meth:`add_gold` (LF analysis), :meth:`add_drift`,
    :meth:`set_model`, :meth:`add_shadow_report`. Model commands are kept in
    :attr:`model_commands_` and, when ``on_model_command`` is given, handed to it (the
    demo's trainer). Replays through the API run with the ``replayer`` given (e.g. a
    :class:`~streamlabel.api.LogReplayer` over the host's event log); without one the
    replay endpoints answer 501. ``GET /trace/{event_id}`` calls the ``tracer`` given
    (``tracer(event_id) -> Trace``, e.g. :func:`~streamlabel.pipeline.build_trace` over
    the host's records); without one it answers 501.

    Examples
    --------
    >>> from streamlabel.api import InMemoryBackend
    >>> b = InMemoryBackend()
    >>> b.active_lfsets(), b.health()["ready"]
    ({}, True)
    """

    def __init__(
        self,
        *,
        analysis_window: int = 1000,
        on_model_command: Callable[[ModelCommand], None] | None = None,
        replayer: Replayer | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.analysis_window = analysis_window
        self.on_model_command = on_model_command
        self.run_replay = replayer  # the API's replay jobs run it (None: no replay)
        self.read_trace = tracer  # GET /trace/{event_id} calls it (None: 501)
        self._lock = threading.Lock()
        self._versions: list[LFSetVersion] = []
        self._active: dict[str, ActiveSet] = {}
        self._audit: list[AuditEntry] = []
        self._params: dict[str, dict[str, Any]] = {}
        self._labels: list[dict[str, Any]] = []
        self._gold: dict[str, int] = {}
        self._drift: list[dict[str, Any]] = []
        self._models: dict[str, dict[str, Any]] = {}
        self._estimates: Mapping[str, float] = {}
        self.model_commands_: list[ModelCommand] = []
        self._candidates: dict[str, CandidateRecord] = {}
        self._reports: dict[str, dict[str, Any]] = {}
        self.ready = True

    # ---------------------------------------------------------------- LF sets
    def lfset_versions(self, name: str | None = None) -> list[LFSetVersion]:
        """See :meth:`Backend.lfset_versions`."""
        with self._lock:
            return [v for v in self._versions if name is None or v.name == name]

    def active_lfsets(self) -> dict[str, ActiveSet]:
        """See :meth:`Backend.active_lfsets`."""
        with self._lock:
            return dict(sorted(self._active.items()))

    def publish_lfset(self, version: LFSetVersion, audit: AuditEntry) -> dict[str, Any]:
        """See :meth:`Backend.publish_lfset`."""
        with self._lock:
            self._versions.append(version)
            self._audit.append(audit)
            where = {"seq": len(self._versions) - 1}
            self._active[version.name] = ActiveSet(version.name, version, None, where)
            return where

    # ---------------------------------------------------------------- audit
    def audit(self, limit: int = 100) -> list[AuditEntry]:
        """See :meth:`Backend.audit`."""
        with self._lock:
            return self._audit[-limit:] if limit > 0 else []

    def record_audit(self, audit: AuditEntry) -> dict[str, Any]:
        """See :meth:`Backend.record_audit`."""
        with self._lock:
            self._audit.append(audit)
            return {"seq": len(self._audit) - 1}

    # ---------------------------------------------------------------- models
    def send_model_command(self, command: ModelCommand, audit: AuditEntry) -> dict[str, Any]:
        """See :meth:`Backend.send_model_command`."""
        with self._lock:
            self._audit.append(audit)
            self.model_commands_.append(command)
        if self.on_model_command is not None:
            self.on_model_command(command)
        return {"queued": len(self.model_commands_)}

    def set_model(
        self,
        name: str,
        champion: Mapping[str, Any] | None = None,
        registry: Mapping[str, Any] | None = None,
    ) -> None:
        """Set what :meth:`models` reports for ``name`` (a champion dict, a registry view)."""
        with self._lock:
            self._models[name] = {
                "champion": None if champion is None else dict(champion),
                "registry": None if registry is None else dict(registry),
            }

    def models(self) -> dict[str, dict[str, Any]]:
        """See :meth:`Backend.models`."""
        with self._lock:
            return dict(sorted(self._models.items()))

    # ---------------------------------------------------------------- read models
    def set_labelmodel_params(self, group: str, params: Mapping[str, Any]) -> None:
        """Set the parameters reported for labeler group ``group``.

        ``params`` as made by :func:`~streamlabel.api.describe_label_model`; its
        ``lf_accuracies`` also fill the LF analysis' estimated accuracies.
        """
        with self._lock:
            self._params[group] = dict(params)
            self._estimates = dict(params.get("lf_accuracies") or {})

    def labelmodel_params(self) -> list[dict[str, Any]]:
        """See :meth:`Backend.labelmodel_params`."""
        with self._lock:
            return [self._params[k] for k in sorted(self._params)]

    def add_labels(self, labels: Sequence[Mapping[str, Any]]) -> None:
        """Add label records (``LabelRecord.to_dict()``); only the last window is kept."""
        with self._lock:
            self._labels.extend(dict(r) for r in labels)
            del self._labels[: -self.analysis_window]

    def add_gold(self, event_id: str, label: int) -> None:
        """Add a late gold label (the first verdict per event wins, as in the labeler)."""
        with self._lock:
            self._gold.setdefault(event_id, int(label))
            if len(self._gold) > 4 * self.analysis_window:  # bounded: drop the oldest
                self._gold.pop(next(iter(self._gold)))

    def lf_analysis(self, lfset: str | None = None) -> dict[str, Any]:
        """See :meth:`Backend.lf_analysis`."""
        from streamlabel.api._analysis import analyse_labels

        with self._lock:
            labels, gold, estimates = list(self._labels), dict(self._gold), self._estimates
            versions = list(self._versions)
        return analyse_labels(
            labels, gold, versions, lfset=lfset, estimates=estimates, window=self.analysis_window
        )

    def add_drift(self, record: Mapping[str, Any]) -> None:
        """Add one ``drift`` record (``streamlabel.pipeline.drift_record``'s value)."""
        with self._lock:
            self._drift.append(dict(record))
            del self._drift[: -self.analysis_window]

    def drift_events(self, limit: int = 100) -> list[dict[str, Any]]:
        """See :meth:`Backend.drift_events`."""
        with self._lock:
            return self._drift[-limit:] if limit > 0 else []

    def health(self) -> dict[str, Any]:
        """See :meth:`Backend.health`."""
        return {"ready": self.ready, "backend": "memory"}

    # ---------------------------------------------------------------- candidates
    def candidates(self) -> dict[str, CandidateRecord]:
        """See :meth:`Backend.candidates`."""
        with self._lock:
            return dict(sorted(self._candidates.items()))

    def publish_candidate(
        self, record: CandidateRecord, audit: AuditEntry | None
    ) -> dict[str, Any]:
        """See :meth:`Backend.publish_candidate`."""
        with self._lock:
            if audit is not None:
                self._audit.append(audit)
            self._candidates[record.lfset] = record
            return {}

    def add_shadow_report(self, value: Mapping[str, Any]) -> None:
        """Add a labeler's ``shadow-reports`` value (its ``key`` names set and worker)."""
        with self._lock:
            self._reports[str(value["key"])] = dict(value)

    def shadow_reports(self, lfset: str) -> list[dict[str, Any]]:
        """See :meth:`Backend.shadow_reports`."""
        with self._lock:
            return [v for k, v in sorted(self._reports.items()) if v.get("lfset") == lfset]
