"""The control plane: an HTTP API (FastAPI) over LF sets, analysis, drift and models.

- :class:`ControlPlane`: the rules (validation, versions, rollback, audit) over a
  :class:`Backend`; the CLI uses it too when it talks to Kafka directly;
- :class:`KafkaBackend` (the topics) and :class:`InMemoryBackend` (tests, the demo);
- :func:`create_api`: the FastAPI app factory; :func:`serve_api`: uvicorn until SIGTERM;
- :class:`ApiClient`: the CLI's client (standard library only);
- :class:`ReplayJobs` / :class:`LogReplayer`: replays started through the API, one
  background job at a time (``POST /replays``);
- :class:`Tokens`, :class:`Principal`: bearer tokens (``read`` / ``write``).

Nothing is imported from FastAPI, uvicorn or a Kafka client until it is used.
"""

from __future__ import annotations

from streamlabel.api._analysis import analyse_labels, describe_label_model
from streamlabel.api._app import create_api
from streamlabel.api._auth import TokenError, Tokens
from streamlabel.api._backend import Backend, InMemoryBackend
from streamlabel.api._candidate import (
    candidate_view,
    deploy_candidate,
    discard_candidate,
    promote_candidate,
)
from streamlabel.api._client import ApiClient
from streamlabel.api._control import ControlPlane
from streamlabel.api._kafka import KafkaBackend
from streamlabel.api._model import (
    ActiveSet,
    AuditEntry,
    BackendUnavailableError,
    ControlError,
    LFSetVersion,
    Principal,
)
from streamlabel.api._replay import LogReplayer, Replayer, ReplayJobRequest, ReplayJobs
from streamlabel.api._serve import serve_api
from streamlabel.api._settings import ApiSettings

__all__ = [
    "ActiveSet",
    "ApiClient",
    "ApiSettings",
    "AuditEntry",
    "Backend",
    "BackendUnavailableError",
    "ControlError",
    "ControlPlane",
    "InMemoryBackend",
    "KafkaBackend",
    "LFSetVersion",
    "LogReplayer",
    "Principal",
    "ReplayJobRequest",
    "ReplayJobs",
    "Replayer",
    "TokenError",
    "Tokens",
    "analyse_labels",
    "candidate_view",
    "create_api",
    "deploy_candidate",
    "describe_label_model",
    "discard_candidate",
    "promote_candidate",
    "serve_api",
]
