"""``GET /trace/{event_id}``: one event's audit chain through the control API.

The same chain as ``streamlabel trace EVENT_ID``: the backend's optional ``read_trace``
(:meth:`~streamlabel.api.KafkaBackend.read_trace` reads the one partition of ``labels``,
``review``, ``predictions`` and ``feedback`` the id hashes to, outside any consumer group;
an :class:`~streamlabel.api.InMemoryBackend` calls the ``tracer`` it was given) returns a
:class:`~streamlabel.pipeline.Trace`, answered as :meth:`~streamlabel.pipeline.Trace.to_dict`.
A backend without one answers 501 ``unsupported``; an id with no retained record 404
``not_found`` (what the topics' retention dropped is gone: ``STREAMLABEL_RETENTION_HOURS``
is the trail's bound); a broker that does not answer, or a partition not read to its end
in time, 503 ``unavailable``.

No ``from __future__ import annotations`` here: FastAPI reads the route's annotations at
run time.
"""

from collections.abc import Callable
from typing import Any

from streamlabel.api._model import ControlError, Principal
from streamlabel.pipeline import Trace

__all__ = ["Tracer", "trace_routes"]

#: ``tracer(event_id) -> Trace``: what a backend's ``read_trace`` is.
Tracer = Callable[[str], Trace]

#: Longest event id accepted (a Kafka key of the audit topics).
MAX_EVENT_ID = 1024


def trace_routes(app: Any, backend: Any, reader: Callable[..., Any]) -> None:
    """Add ``GET /trace/{event_id}`` (read role) to ``app``.

    Parameters
    ----------
    app : fastapi.FastAPI
        The control API.
    backend : Backend
        Traced with its ``read_trace`` attribute when it has one (else 501).
    reader : callable
        The read-role dependency.
    """
    from fastapi import Depends
    from fastapi import Path as PathParam

    def show_trace(
        event_id: str = PathParam(
            min_length=1, max_length=MAX_EVENT_ID, description="the event id (its record key)"
        ),
        who: Principal | None = Depends(reader),  # noqa: B008
    ) -> dict[str, Any]:
        """Return the event's chain: source, LF votes, posterior, revisions, predictions, gold.

        As ``streamlabel trace EVENT_ID --json``: ``event`` (the event at the source its
        first label names, if retained), ``labels`` (LF set version, each LF's vote,
        label-model version, posterior), ``review``, ``revisions`` (replays),
        ``predictions`` (model version and score), ``feedback`` (gold), each record with
        its topic, partition, offset and timestamp, and ``current_label``.
        """
        tracer: Tracer | None = getattr(backend, "read_trace", None)
        if tracer is None:
            raise ControlError(
                501, "this backend cannot trace events (no topics to read)", code="unsupported"
            )
        trace = tracer(event_id)
        if not trace.found:
            raise ControlError(
                404,
                f"no retained record of event {event_id!r} on labels, review, predictions "
                "or feedback (records older than the topics' retention are gone)",
                code="not_found",
            )
        return trace.to_dict()

    # ``:path``: an event id may hold a ``/`` (sent as is or as ``%2F``).
    app.get(
        "/trace/{event_id:path}",
        tags=["audit"],
        summary="One event's audit chain",
    )(show_trace)
