"""Settings of the control API (``STREAMLABEL_API_*``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ApiSettings"]


class ApiSettings(BaseModel):
    """Settings of the control API; Kafka's come from :class:`~streamlabel.stream.StreamSettings`.

    Parameters
    ----------
    host : str, default="127.0.0.1"
        Interface to bind (loopback unless told otherwise).
    port : int, default=8090
        Port; 0 picks a free one.
    tokens : str, default=""
        ``name:token:role,...`` (roles ``read``/``write``); never printed.
    public_reads : bool, default=False
        Let reads through without a token (health and readiness always are).
    timeout : float, default=10
        Seconds for each broker interaction of a request.
    analysis_window : int, default=5000
        LF analysis: label records read per partition (and the recent window's rows).
    drift_limit : int, default=500
        Drift records read per partition (the newest).
    replay_dir : str, default="streamlabel-replay"
        Checkpoints of the replays started through the API (``POST /replays``).
    metrics_enabled : bool, default=True
        Serve ``GET /metrics`` (requests per route template and status, their duration,
        replay jobs), unauthenticated like ``/healthz``.

    Examples
    --------
    >>> s = ApiSettings.from_env(environ={"STREAMLABEL_API_PORT": "9000"})
    >>> s.port, s.host, "tokens" in repr(s)
    (9000, '127.0.0.1', False)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8090, ge=0, le=65535)
    tokens: str = Field(default="", repr=False)
    public_reads: bool = False
    timeout: float = Field(default=10.0, gt=0, le=600)
    analysis_window: int = Field(default=5000, ge=1, le=1_000_000)
    drift_limit: int = Field(default=500, ge=1, le=100_000)
    replay_dir: str = Field(default="streamlabel-replay", min_length=1)
    metrics_enabled: bool = True

    @classmethod
    def from_env(
        cls, prefix: str = "STREAMLABEL_API_", environ: Mapping[str, str] | None = None
    ) -> ApiSettings:
        """Build settings from ``prefix + NAME`` variables (unset or empty: the default)."""
        env = os.environ if environ is None else environ
        data = {
            name: env[prefix + name.upper()].strip()
            for name in cls.model_fields
            if env.get(prefix + name.upper(), "").strip()
        }
        return cls.model_validate(data)
