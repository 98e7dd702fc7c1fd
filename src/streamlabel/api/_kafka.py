"""The Kafka backend: the control plane's state is on the topics (kafka-python, no group).

- ``lfsets`` (compacted, key = set name): the active version, what labelers follow;
- ``lfset-versions`` (compacted, key = ``<set>/<version>``, unique: kept for good): every
  published version with who/when/why, since compaction removes ``lfsets``' older records;
- ``audit`` (compacted, key = change id, unique: kept for good): every change;
- ``model-commands`` / ``model-registry``: requests to the trainer and its registry view;
- ``lfset-candidates`` (compacted, key = set name): each set's candidate version, which
  the labelers score beside the active one; ``shadow-reports`` (key =
  ``<set>/<group>/<worker>``): each labeler worker's report on it;
- read models: the last ``analysis_window`` records of each partition of ``labels`` and
  ``feedback``, ``labelmodel-params``, the last ``drift_limit`` of ``drift``, ``models``.

Every request reads what it needs from the topics (no cache): the API holds no state, so
several replicas read alike. A publish writes the version record, then the audit entry,
then the ``lfsets`` record: the change takes effect last, after its record is durable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamlabel.api._model import (
    ActiveSet,
    AuditEntry,
    BackendUnavailableError,
    LFSetVersion,
)
from streamlabel.models import ModelCommand, encode_model_command
from streamlabel.pipeline import SHADOW_REPORT_FORMAT, CandidateRecord

if TYPE_CHECKING:
    from streamlabel.api._replay import ReplayJobRequest
    from streamlabel.lf import LFSet
    from streamlabel.pipeline import Trace
    from streamlabel.stream import StreamSettings
    from streamlabel.stream._app import RawEvent

__all__ = ["CONTROL_TOPICS", "KafkaBackend"]

logger = logging.getLogger("streamlabel.api")

#: Topics the control plane writes; created (with the settings of ``TOPICS``) when missing.
CONTROL_TOPICS = (
    "lfsets",
    "lfset-versions",
    "audit",
    "model-commands",
    "model-registry",
    "lfset-candidates",
)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class KafkaBackend:
    """A :class:`~streamlabel.api.Backend` on the Kafka topics.

    Parameters
    ----------
    settings : StreamSettings
        Brokers and topic prefix (and partitions for topics it creates).
    timeout : float, default=10
        Seconds for each broker interaction.
    analysis_window : int, default=5000
        Label (and feedback) records read per partition for the LF analysis.
    drift_limit : int, default=500
        Drift records read per partition.
    replay_dir : str or Path, default="streamlabel-replay"
        Where :meth:`run_replay` keeps each replay's checkpoint (state, model copy,
        label index), as ``streamlabel replay --state-dir``.
    """

    def __init__(
        self,
        settings: StreamSettings,
        *,
        timeout: float = 10.0,
        analysis_window: int = 5000,
        drift_limit: int = 500,
        replay_dir: str | Path = "streamlabel-replay",
    ) -> None:
        self.settings = settings
        self.replay_dir = Path(replay_dir)
        self.timeout = timeout
        self.analysis_window = analysis_window
        self.drift_limit = drift_limit
        self._producer: Any = None
        self._lock = threading.Lock()
        self._topics_checked = False

    # ------------------------------------------------------------------ plumbing
    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        from kafka.errors import KafkaError

        from streamlabel.stream._topics import TopicReadTimeoutError

        try:
            yield
        except (KafkaError, TopicReadTimeoutError) as exc:
            brokers = ",".join(self.settings.bootstrap_servers)
            text = str(exc) or type(exc).__name__
            raise BackendUnavailableError(
                f"no Kafka broker answers at {brokers} within {self.timeout:g} s "
                f"({type(exc).__name__}: {text})"
            ) from None

    def _read(
        self,
        logical: str,
        *,
        last: int | None = None,
        keep: Callable[[bytes | None], bool] | None = None,
    ) -> list[RawEvent]:
        from streamlabel.stream._topics import read_to_end

        with self._errors():
            found = read_to_end(
                self.settings,
                logical,
                timeout=self.timeout,
                client_id="streamlabel-api",
                keep=keep,
                last=last,
            )
        return [] if found is None else found[0]

    def _latest(self, logical: str) -> dict[str, RawEvent]:
        """Return the latest record of each key (a tombstone removes the key)."""
        out: dict[str, RawEvent] = {}
        for rec in self._read(logical, keep=lambda k: k is not None):
            key = (rec.key or b"").decode("utf-8", errors="replace")
            if rec.value:
                out[key] = rec
            else:
                out.pop(key, None)
        return out

    def _ensure_topics(self) -> list[str]:
        """Create the missing control topics (once per backend)."""
        if self._topics_checked:
            return []
        from kafka import KafkaAdminClient
        from kafka.errors import TopicAlreadyExistsError

        from streamlabel.stream import TOPICS
        from streamlabel.stream._app import topic_configs

        ms = max(int(self.timeout * 1000), 1000)
        specs = {t.name: t for t in TOPICS}
        created: list[str] = []
        with self._errors():
            admin = KafkaAdminClient(
                bootstrap_servers=self.settings.bootstrap_servers,
                client_id="streamlabel-api-admin",
                bootstrap_timeout_ms=ms,
                request_timeout_ms=ms,
            )
            try:
                existing = set(admin.list_topics())
                wanted = {
                    self.settings.topic(name): {
                        "num_partitions": self.settings.partitions,
                        "replication_factor": self.settings.replication_factor,
                        "configs": topic_configs(specs[name], self.settings),
                    }
                    for name in CONTROL_TOPICS
                    if self.settings.topic(name) not in existing
                }
                if wanted:
                    with contextlib.suppress(TopicAlreadyExistsError):
                        admin.create_topics(wanted, timeout_ms=ms, wait_for_metadata=True)
                    created = sorted(wanted)
            finally:
                with contextlib.suppress(Exception):
                    admin.close()
        self._topics_checked = True
        return created

    def _send(self, logical: str, key: str, value: bytes) -> dict[str, Any]:
        """Produce one record (``acks=all``) and wait for it; return where it went."""
        from kafka import KafkaProducer

        ms = max(int(self.timeout * 1000), 1000)
        with self._errors():
            if self._producer is None:
                self._producer = KafkaProducer(
                    bootstrap_servers=self.settings.bootstrap_servers,
                    client_id="streamlabel-api",
                    acks="all",
                    bootstrap_timeout_ms=ms,
                    request_timeout_ms=ms,
                    delivery_timeout_ms=ms + 1000,
                    max_block_ms=ms,
                    max_request_size=2_000_000,
                )
            topic = self.settings.topic(logical)
            meta = self._producer.send(topic, key=key.encode("utf-8"), value=value).get(
                timeout=self.timeout + 2
            )
        return {"topic": topic, "partition": meta.partition, "offset": meta.offset}

    def close(self) -> None:
        """Close the producer (reads use short-lived consumers)."""
        if self._producer is not None:
            with contextlib.suppress(Exception):
                self._producer.close(timeout=self.timeout)
            self._producer = None

    # ------------------------------------------------------------------ LF sets
    def lfset_versions(self, name: str | None = None) -> list[LFSetVersion]:
        """See :meth:`~streamlabel.api.Backend.lfset_versions`."""
        prefix = None if name is None else f"{name}/".encode()
        out = []
        for rec in self._read(
            "lfset-versions",
            keep=lambda k: k is not None and (prefix is None or k.startswith(prefix)),
        ):
            try:
                out.append(LFSetVersion.from_dict(json.loads(rec.value)))
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("unreadable lfset-versions record at %s: %s", rec.source, exc)
        out.sort(key=lambda v: v.at or 0.0)
        seen: dict[tuple[str, str], LFSetVersion] = {}
        for v in out:  # a key written twice (a retried publish): the first record stands
            seen.setdefault((v.name, v.version), v)
        return list(seen.values())

    def active_lfsets(self) -> dict[str, ActiveSet]:
        """See :meth:`~streamlabel.api.Backend.active_lfsets`."""
        from streamlabel.cli._lf import LFCommandError, read_lfsets

        with self._errors():
            try:
                state = read_lfsets(self.settings, self.timeout)
            except LFCommandError as exc:
                raise BackendUnavailableError(str(exc)) from None
        records = {(v.name, v.version): v for v in self.lfset_versions()}
        out: dict[str, ActiveSet] = {}
        for name, p in state["sets"].items():
            where = {
                "topic": state["topic"],
                "partition": p.partition,
                "offset": p.offset,
                "timestamp_ms": p.timestamp_ms,
            }
            if p.spec is None or p.lfset is None:
                out[name] = ActiveSet(name, None, p.error, where)
                continue
            known = records.get((name, p.spec.version))
            if known is None or known.content_hash != p.lfset.content_hash:
                known = LFSetVersion(
                    name,
                    p.spec.version,
                    p.spec.model_dump(mode="json"),
                    p.lfset.content_hash,
                    "external",
                    None,
                    None,
                    None if p.timestamp_ms is None else p.timestamp_ms / 1000,
                )
            out[name] = ActiveSet(name, known, None, where)
        return out

    def publish_lfset(self, version: LFSetVersion, audit: AuditEntry) -> dict[str, Any]:
        """See :meth:`~streamlabel.api.Backend.publish_lfset`."""
        with self._lock:
            created = self._ensure_topics()
            self._send(
                "lfset-versions", f"{version.name}/{version.version}", _dumps(version.to_dict())
            )
            self._send("audit", audit.id, _dumps(audit.to_dict()))
            value = _dumps(version.spec)
            where = self._send("lfsets", version.name, value)
        topic_created = self.settings.topic("lfsets") in created
        return {**where, "bytes": len(value), "topic_created": topic_created}

    # ------------------------------------------------------------------ audit
    def audit(self, limit: int = 100) -> list[AuditEntry]:
        """See :meth:`~streamlabel.api.Backend.audit`."""
        out = []
        for rec in self._read("audit", last=limit, keep=lambda k: k is not None):
            try:
                out.append(AuditEntry.from_dict(json.loads(rec.value)))
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("unreadable audit record at %s: %s", rec.source, exc)
        out.sort(key=lambda e: e.at)
        return out[-limit:]

    def record_audit(self, audit: AuditEntry) -> dict[str, Any]:
        """See :meth:`~streamlabel.api.Backend.record_audit`."""
        with self._lock:
            self._ensure_topics()
            return self._send("audit", audit.id, _dumps(audit.to_dict()))

    # ------------------------------------------------------------------ replay
    def run_replay(
        self,
        request: ReplayJobRequest,
        lfset: LFSet,
        progress: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        """Run a replay to its end with :func:`~streamlabel.stream._replay.start_replay`.

        The :class:`~streamlabel.api.Replayer` of the Kafka backend: the CLI's replay
        (offsets for times, outside any consumer group, the label model from the
        aggregator's parameters else a worker's snapshot) with its checkpoint under
        :attr:`replay_dir`, so the same replay id resumes an interrupted run and a
        finished one does nothing. Called in the API's replay worker thread.

        Raises
        ------
        ReplayError
            As :func:`~streamlabel.stream._replay.run_replay` (the job records it).
        """
        from streamlabel.stream._replay import ReplayRequest, start_replay

        req = ReplayRequest(
            request.lfset,
            request.version,
            request.start,
            request.stop,
            request.replay_id,
            request.reason,
        )
        report = start_replay(
            self.settings,
            req,
            state_dir=self.replay_dir,
            lfset=lfset,  # from lfset-versions: found even after lfsets is compacted
            timeout=max(30.0, self.timeout),
            on_batch=lambda r: progress(r.to_dict()),
        )
        return report.to_dict()

    # ------------------------------------------------------------------ trace
    def read_trace(self, event_id: str) -> Trace:
        """Return the audit chain of ``event_id`` (``GET /trace/{event_id}``).

        :func:`streamlabel.stream._trace.read_trace` with this backend's settings, as
        ``streamlabel trace``: the one partition of ``labels``, ``review``,
        ``predictions`` and ``feedback`` the id hashes to, read to its end outside any
        consumer group, then the event at its source. What the topics' retention
        dropped is not in it.

        Raises
        ------
        BackendUnavailableError
            No broker answers, or a partition is not read to its end within
            :attr:`timeout` seconds (HTTP 503).
        """
        from streamlabel.stream._trace import read_trace

        with self._errors():
            try:
                return read_trace(self.settings, event_id, timeout=self.timeout)
            except TimeoutError as exc:
                raise BackendUnavailableError(str(exc)) from None

    # ------------------------------------------------------------------ models
    def send_model_command(self, command: ModelCommand, audit: AuditEntry) -> dict[str, Any]:
        """See :meth:`~streamlabel.api.Backend.send_model_command`."""
        with self._lock:
            self._ensure_topics()
            self._send("audit", audit.id, _dumps(audit.to_dict()))
            return self._send("model-commands", command.model, encode_model_command(command))

    def models(self) -> dict[str, dict[str, Any]]:
        """See :meth:`~streamlabel.api.Backend.models`."""
        from streamlabel.models import ModelRecordError, decode_model_record

        out: dict[str, dict[str, Any]] = {}
        for name, rec in self._latest("models").items():
            try:
                record = decode_model_record(rec.value)
            except ModelRecordError as exc:
                champion: dict[str, Any] = {"error": str(exc)}
            else:
                champion = {
                    "version": record.version.to_dict(),
                    "entry": record.entry.to_dict(),
                    "artifact_bytes": len(record.artifact),
                }
            out.setdefault(name, {"champion": None, "registry": None})["champion"] = champion
        for name, rec in self._latest("model-registry").items():
            try:
                view = json.loads(rec.value)
            except ValueError as exc:
                view = {"error": f"not JSON ({exc})"}
            out.setdefault(name, {"champion": None, "registry": None})["registry"] = view
        return dict(sorted(out.items()))

    # ------------------------------------------------------------------ read models
    def labelmodel_params(self) -> list[dict[str, Any]]:
        """See :meth:`~streamlabel.api.Backend.labelmodel_params`."""
        from streamlabel.api._analysis import describe_label_model
        from streamlabel.stream._service import SnapshotError, parse_snapshot

        out = []
        for group, rec in sorted(self._latest("labelmodel-params").items()):
            try:
                snap = parse_snapshot(rec.value, rec.source)
            except SnapshotError as exc:
                out.append({"group": group, "error": str(exc)})
                continue
            out.append(
                describe_label_model(
                    snap.model,
                    group=group,
                    lfset=snap.lfset,
                    lfset_version=snap.lfset_version,
                    at=snap.at,
                )
            )
        return out

    def lf_analysis(self, lfset: str | None = None) -> dict[str, Any]:
        """See :meth:`~streamlabel.api.Backend.lf_analysis`."""
        from streamlabel.api._analysis import analyse_labels

        labels = []
        for rec in self._read("labels", last=self.analysis_window):
            with contextlib.suppress(ValueError):
                labels.append(json.loads(rec.value))
        labels.sort(key=lambda r: r.get("processed_at") or 0.0 if isinstance(r, dict) else 0.0)
        gold: dict[str, int] = {}
        for rec in self._read("feedback", last=self.analysis_window):
            with contextlib.suppress(ValueError, TypeError, KeyError):
                d = json.loads(rec.value)
                gold.setdefault(str(d["event_id"]), int(d["label"]))
        estimates: dict[str, float] = {}
        for params in self.labelmodel_params():
            if lfset is None or params.get("lfset") == lfset:
                estimates.update(
                    {k: v for k, v in (params.get("lf_accuracies") or {}).items() if v is not None}
                )
        return analyse_labels(
            [r for r in labels if isinstance(r, dict)],
            gold,
            self.lfset_versions(),
            lfset=lfset,
            estimates=estimates,
            window=self.analysis_window,
        )

    def drift_events(self, limit: int = 100) -> list[dict[str, Any]]:
        """See :meth:`~streamlabel.api.Backend.drift_events`."""
        out = []
        for rec in self._read("drift", last=min(limit, self.drift_limit)):
            try:
                d = json.loads(rec.value)
            except ValueError:
                continue
            if isinstance(d, dict):
                out.append({**d, "_source": rec.source, "_timestamp": rec.timestamp})
        out.sort(key=lambda d: d["_timestamp"] or 0.0)
        return out[-limit:]

    # ------------------------------------------------------------------ candidates
    def candidates(self) -> dict[str, CandidateRecord]:
        """See :meth:`~streamlabel.api.Backend.candidates`."""
        out: dict[str, CandidateRecord] = {}
        for name, rec in self._latest("lfset-candidates").items():
            try:
                out[name] = CandidateRecord.from_dict(json.loads(rec.value))
            except ValueError as exc:  # JSONDecodeError too
                logger.warning("unreadable lfset-candidates record at %s: %s", rec.source, exc)
        return dict(sorted(out.items()))

    def publish_candidate(
        self, record: CandidateRecord, audit: AuditEntry | None
    ) -> dict[str, Any]:
        """See :meth:`~streamlabel.api.Backend.publish_candidate`."""
        with self._lock:
            self._ensure_topics()
            if audit is not None:
                self._send("audit", audit.id, _dumps(audit.to_dict()))
            return self._send("lfset-candidates", record.lfset, _dumps(record.to_dict()))

    def shadow_reports(self, lfset: str) -> list[dict[str, Any]]:
        """See :meth:`~streamlabel.api.Backend.shadow_reports`."""
        prefix = f"{lfset}/".encode()
        latest: dict[bytes, dict[str, Any]] = {}
        for rec in self._read(
            "shadow-reports", keep=lambda k: k is not None and k.startswith(prefix)
        ):
            try:
                value = json.loads(rec.value)
            except ValueError:
                continue
            if isinstance(value, dict) and value.get("format") == SHADOW_REPORT_FORMAT:
                latest[rec.key or b""] = value
        return [latest[k] for k in sorted(latest)]

    def health(self) -> dict[str, Any]:
        """See :meth:`~streamlabel.api.Backend.health`."""
        from streamlabel.stream._topics import end_offsets

        try:
            with self._errors():
                ends = end_offsets(
                    self.settings,
                    "lfsets",
                    timeout=min(self.timeout, 5.0),
                    client_id="streamlabel-api",
                )
        except BackendUnavailableError as exc:
            return {"ready": False, "backend": "kafka", "reason": str(exc)}
        return {
            "ready": True,
            "backend": "kafka",
            "brokers": self.settings.bootstrap_servers,
            "lfsets_topic": ends is not None,
        }
