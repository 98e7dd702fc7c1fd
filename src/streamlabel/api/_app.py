"""The HTTP control API: :func:`create_api` builds a FastAPI app over a backend.

No module-level app and nothing at import: FastAPI itself is imported by the factory.
No ``from __future__ import annotations`` here: FastAPI reads the route functions'
annotations at run time, and the types they name are local to the factory.
"""

import logging
from typing import TYPE_CHECKING, Any

from streamlabel.api._auth import Tokens
from streamlabel.api._backend import Backend
from streamlabel.api._control import ControlPlane
from streamlabel.api._model import BackendUnavailableError, ControlError, Principal
from streamlabel.api._settings import ApiSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from streamlabel.metrics import Metrics

__all__ = ["create_api"]

logger = logging.getLogger("streamlabel.api")


def _field(loc: Any) -> str | None:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or None


def create_api(
    settings: ApiSettings, backend: Backend, metrics: "Metrics | None" = None
) -> "FastAPI":
    """Build the control API.

    Parameters
    ----------
    settings : ApiSettings
        Tokens and read policy.
    backend : Backend
        :class:`~streamlabel.api.KafkaBackend` or :class:`~streamlabel.api.InMemoryBackend`.
    metrics : Metrics, optional
        Served at ``GET /metrics`` (no token: counts only, like ``/healthz``), fed with
        every request (route template, method, status, duration) and the replay jobs.
        Without it there is no ``/metrics`` route.

    Returns
    -------
    fastapi.FastAPI
        The app; its OpenAPI schema is at ``/openapi.json``.

    Examples
    --------
    >>> from fastapi.testclient import TestClient
    >>> from streamlabel.api import ApiSettings, InMemoryBackend, create_api
    >>> app = create_api(ApiSettings(tokens="ops:0123456789abcdef:write"), InMemoryBackend())
    >>> client = TestClient(app)
    >>> client.get("/healthz").json()["status"], client.get("/lfsets").status_code
    ('ok', 401)
    >>> client.get("/lfsets", headers={"Authorization": "Bearer 0123456789abcdef"}).json()
    []
    """
    from fastapi import Body, Depends, FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from pydantic import BaseModel, Field

    from streamlabel import __version__

    tokens = Tokens.parse(settings.tokens)
    control = ControlPlane(backend)
    bearer = HTTPBearer(auto_error=False, description="name:token:role from STREAMLABEL_API_TOKENS")

    app = FastAPI(
        title="streamlabel control API",
        version=__version__,
        description=(
            "Push, list, diff and roll back declarative LF sets; read LF analysis, "
            "label-model parameters, drift events and model versions; promote and roll "
            "back models. Writes need a bearer token with the write role and a reason; "
            "every change is audited."
        ),
    )
    app.state.control = control

    def _unauthorized(reason: str) -> ControlError:
        return ControlError(401, reason, code="unauthorized")

    def principal(
        creds: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> Principal | None:
        if creds is None:
            return None
        who = tokens.authenticate(creds.credentials)
        if who is None:
            raise _unauthorized("unknown bearer token")
        return who

    def reader(who: Principal | None = Depends(principal)) -> Principal | None:  # noqa: B008
        if who is None and not settings.public_reads:
            raise _unauthorized("a bearer token is required")
        return who

    def writer(who: Principal | None = Depends(principal)) -> Principal:  # noqa: B008
        if who is None:
            raise _unauthorized("a bearer token with the write role is required")
        if not who.can_write:
            raise ControlError(403, f"{who.name!r} has a read-only token", code="forbidden")
        return who

    @app.exception_handler(ControlError)
    def _control_error(request: Request, exc: ControlError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)

    @app.exception_handler(BackendUnavailableError)
    def _unavailable(request: Request, exc: BackendUnavailableError) -> JSONResponse:
        err = ControlError(503, str(exc), code="unavailable")
        return JSONResponse(err.to_dict(), status_code=503)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        err = ControlError(422, str(first.get("msg")), field=_field(first.get("loc", ())))
        return JSONResponse(err.to_dict(), status_code=422)

    class PushBody(BaseModel):
        spec: dict[str, Any] = Field(description="the declarative LF set (LFSetSpec)")
        reason: str = Field(min_length=1, max_length=2000, description="why (audited)")

    class RollbackBody(BaseModel):
        to: str = Field(min_length=1, description="the earlier version to return to")
        reason: str = Field(min_length=1, max_length=2000)
        version: str | None = Field(default=None, description="the new version's name")

    class PromoteBody(BaseModel):
        version: str = Field(min_length=1)
        reason: str = Field(min_length=1, max_length=2000)

    class ReasonBody(BaseModel):
        reason: str = Field(min_length=1, max_length=2000)

    class CandidateBody(BaseModel):
        version: str | None = Field(default=None, description="a published version to try")
        spec: dict[str, Any] | None = Field(default=None, description="or a new LFSetSpec")
        reason: str = Field(min_length=1, max_length=2000)

    class PromoteCandidateBody(BaseModel):
        reason: str = Field(min_length=1, max_length=2000)
        confirm: bool = Field(default=False, description="promote even if gold shows it worse")

    # ------------------------------------------------------------ metrics
    if metrics is not None:
        import time

        from fastapi.responses import Response

        from streamlabel.metrics import CONTENT_TYPE

        bundle = metrics

        @app.middleware("http")
        async def _count(request: Request, call_next: Any) -> Any:
            start = time.perf_counter()
            response = await call_next(request)
            # The matched route's template keeps the label bounded (ids stay out of it).
            route = getattr(request.scope.get("route"), "path", None) or "unmatched"
            bundle.observe_api_request(
                route, request.method, response.status_code, time.perf_counter() - start
            )
            return response

        @app.get("/metrics", tags=["health"], include_in_schema=False)
        def metrics_route() -> Response:
            """Serve the Prometheus exposition of the API's metrics."""
            return Response(bundle.render(), media_type=CONTENT_TYPE)

    # ------------------------------------------------------------ health
    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        """Answer 200 while the process is up."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        """Answer 200 when the backend (Kafka) answers, else 503."""
        state = backend.health()
        return JSONResponse(state, status_code=200 if state.get("ready") else 503)

    # ------------------------------------------------------------ LF sets
    @app.get("/lfsets", tags=["lfsets"])
    def list_sets(who: Principal | None = Depends(reader)) -> list[dict[str, Any]]:  # noqa: B008
        """Every LF set with its active version."""
        return control.list_sets()

    @app.post("/lfsets", tags=["lfsets"])
    def push(
        body: PushBody = Body(...),  # noqa: B008
        who: Principal = Depends(writer),  # noqa: B008
    ) -> dict[str, Any]:
        """Validate and publish a new LF set version (it becomes the active one)."""
        return control.push(body.spec, who, body.reason)

    @app.get("/lfsets/{name}", tags=["lfsets"])
    def show(
        name: str,
        version: str | None = Query(default=None),
        who: Principal | None = Depends(reader),  # noqa: B008
    ) -> dict[str, Any]:
        """Return the active version with its spec (or ``?version=``)."""
        return control.show(name, version)

    @app.get("/lfsets/{name}/versions", tags=["lfsets"])
    def versions(
        name: str,
        who: Principal | None = Depends(reader),  # noqa: B008
    ) -> list[dict[str, Any]]:
        """Every version, oldest first: who, when, why, and which one is active."""
        return control.versions(name)

    @app.get("/lfsets/{name}/versions/{version}", tags=["lfsets"])
    def show_version(
        name: str,
        version: str,
        who: Principal | None = Depends(reader),  # noqa: B008
    ) -> dict[str, Any]:
        """One version with its spec."""
        return control.show(name, version)

    @app.get("/lfsets/{name}/diff", tags=["lfsets"])
    def diff(
        name: str,
        from_: str = Query(alias="from"),
        to: str | None = Query(default=None),
        who: Principal | None = Depends(reader),  # noqa: B008
    ) -> dict[str, Any]:
        """LFs added, removed and changed from ``from`` to ``to`` (default: active)."""
        return control.diff(name, from_, to)

    @app.post("/lfsets/{name}/rollback", tags=["lfsets"])
    def rollback(
        name: str,
        body: RollbackBody = Body(...),  # noqa: B008
        who: Principal = Depends(writer),  # noqa: B008
    ) -> dict[str, Any]:
        """Republish an earlier version's content as a new version, recorded as a rollback."""
        return control.rollback(name, body.to, who, body.reason, new_version=body.version)

    # ------------------------------------------------------------ candidate LF sets
    from streamlabel.api._candidate import (
        candidate_view,
        deploy_candidate,
        discard_candidate,
        promote_candidate,
    )

    @app.post("/lfsets/{name}/candidate", tags=["lfsets"])
    def candidate_deploy(
        name: str,
        body: CandidateBody = Body(...),  # noqa: B008
        who: Principal = Depends(writer),  # noqa: B008
    ) -> dict[str, Any]:
        """Deploy a candidate version (published, or a new spec) beside the active one."""
        return deploy_candidate(
            control, name, who, body.reason, version=body.version, spec=body.spec
        )

    @app.get("/lfsets/{name}/candidate", tags=["lfsets"])
    def candidate_show(
        name: str,
        who: Principal | None = Depends(reader),  # noqa: B008
    ) -> dict[str, Any]:
        """Return the candidate and the labelers' merged report (agreement, flips, gold)."""
        view = candidate_view(backend, name)
        if view is None:
            control.active(name)  # 404 for an unknown set
            raise ControlError(404, f"LF set {name!r} has no candidate deployed", code="not_found")
        return view

    @app.post("/lfsets/{name}/candidate/promote", tags=["lfsets"])
    def candidate_promote(
        name: str,
        body: PromoteCandidateBody = Body(...),  # noqa: B008
        who: Principal = Depends(writer),  # noqa: B008
    ) -> dict[str, Any]:
        """Publish the candidate as the active version (409 if worse on gold, unconfirmed)."""
        return promote_candidate(control, name, who, body.reason, confirm=body.confirm)

    @app.post("/lfsets/{name}/candidate/discard", tags=["lfsets"])
    def candidate_discard(
        name: str,
        body: ReasonBody = Body(...),  # noqa: B008
        who: Principal = Depends(writer),  # noqa: B008
    ) -> dict[str, Any]:
        """Stop scoring the candidate."""
        return discard_candidate(control, name, who, body.reason)

    # ------------------------------------------------------------ read models
    @app.get("/analysis", tags=["analysis"])
    def analysis(
        lfset: str | None = Query(default=None),
        who: Principal | None = Depends(reader),  # noqa: B008
    ) -> dict[str, Any]:
        """Coverage, overlaps, conflicts, empirical and estimated accuracy per LF."""
        return backend.lf_analysis(lfset)

    @app.get("/labelmodel", tags=["analysis"])
    def labelmodel(who: Principal | None = Depends(reader)) -> list[dict[str, Any]]:  # noqa: B008
        """Return every labeler group's merged label model: class balance, LF accuracies."""
        return backend.labelmodel_params()

    @app.get("/drift", tags=["analysis"])
    def drift(
        limit: int = Query(default=100, ge=1, le=10_000),
        who: Principal | None = Depends(reader),  # noqa: B008
    ) -> list[dict[str, Any]]:
        """Return the latest drift events and retraining requests, oldest first."""
        return backend.drift_events(limit)

    # ------------------------------------------------------------ models
    @app.get("/models", tags=["models"])
    def models(who: Principal | None = Depends(reader)) -> dict[str, Any]:  # noqa: B008
        """Per model name: the champion and the registry's versions and history."""
        return control.models()

    @app.post("/models/{name}/promote", status_code=202, tags=["models"])
    def promote(
        name: str,
        body: PromoteBody = Body(...),  # noqa: B008
        who: Principal = Depends(writer),  # noqa: B008
    ) -> dict[str, Any]:
        """Ask the model's trainer to make ``version`` the champion."""
        return control.model_command(name, "promote", who, body.reason, body.version)

    @app.post("/models/{name}/rollback", status_code=202, tags=["models"])
    def model_rollback(
        name: str,
        body: ReasonBody = Body(...),  # noqa: B008
        who: Principal = Depends(writer),  # noqa: B008
    ) -> dict[str, Any]:
        """Ask the model's trainer to return to the champion before the current one."""
        return control.model_command(name, "rollback", who, body.reason)

    # ------------------------------------------------------------ audit
    @app.get("/audit", tags=["audit"])
    def audit(
        limit: int = Query(default=100, ge=1, le=10_000),
        who: Principal | None = Depends(reader),  # noqa: B008
    ) -> list[dict[str, Any]]:
        """Return the latest changes (who, when, what, why), oldest first."""
        return control.audit(limit)

    # ------------------------------------------------------------ replay
    from streamlabel.api._replay import ReplayJobs, replay_routes

    replayer = getattr(backend, "run_replay", None)  # optional: a backend that can replay
    on_change = metrics.observe_replay_job if metrics is not None else None
    jobs = ReplayJobs(replayer, on_change=on_change) if replayer is not None else None
    app.state.replays = jobs
    replay_routes(app, jobs, control, backend, reader, writer)

    # ------------------------------------------------------------ trace
    from streamlabel.api._trace import trace_routes

    trace_routes(app, backend, reader)  # GET /trace/{event_id}; 501 without read_trace

    # ------------------------------------------------------------ status page
    from fastapi.responses import HTMLResponse

    from streamlabel.api._status import StatusView
    from streamlabel.status import render_status_page

    view = StatusView(backend)

    @app.get("/status.json", tags=["status"])
    def status_json(who: Principal | None = Depends(reader)) -> dict[str, Any]:  # noqa: B008
        """Return the status page's snapshot (LF table with history, drift, models)."""
        return view.snapshot()

    @app.get("/status", tags=["status"], response_class=HTMLResponse)
    def status_page(who: Principal | None = Depends(reader)) -> HTMLResponse:  # noqa: B008
        """Render the status page (the demo's renderer); it reloads every 5 seconds."""
        return HTMLResponse(render_status_page(view.snapshot(), refresh=5))

    return app
