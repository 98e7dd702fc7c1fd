"""A small client of the control API (standard library only), for the CLI."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from streamlabel.api._model import ControlError

__all__ = ["ApiClient"]


class ApiClient:
    """Call the control API; a refusal raises the API's :class:`ControlError`.

    Parameters
    ----------
    url : str
        Base URL, e.g. ``http://127.0.0.1:8090``.
    token : str, optional
        Bearer token (sent only in the ``Authorization`` header).
    timeout : float, default=30
        Seconds per request.

    Examples
    --------
    >>> c = ApiClient("http://127.0.0.1:1", timeout=0.5)
    >>> try:
    ...     c.get("/healthz")
    ... except ControlError as e:
    ...     print(e.status, str(e).startswith("no control API answers"))
    503 True
    """

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"--api {url!r}: expected http(s)://host:port")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send a request; return the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                detail = json.loads(raw)
            except ValueError:
                detail = None
            if isinstance(detail, dict) and "reason" in detail:
                raise ControlError.from_dict(detail) from None
            text = raw.decode("utf-8", "replace")[:300]
            raise ControlError(exc.code, f"HTTP {exc.code} from {self.url}: {text}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ControlError(
                503, f"no control API answers at {self.url} ({reason})", code="unavailable"
            ) from None

    def get(self, path: str, **query: Any) -> Any:
        """``GET path?query`` (None values left out)."""
        q = {k: v for k, v in query.items() if v is not None}
        return self.request("GET", path + ("?" + urllib.parse.urlencode(q) if q else ""))

    def post(self, path: str, body: Any) -> Any:
        """``POST path`` with a JSON body."""
        return self.request("POST", path, body)
