"""Bearer tokens: ``name:token:role`` entries, compared in constant time, never logged."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from streamlabel.api._model import Principal

__all__ = ["TokenError", "Tokens"]

#: Tokens shorter than this are refused: a guessable token is no protection.
MIN_TOKEN_LENGTH = 16


class TokenError(ValueError):
    """A malformed token configuration (the message never contains a token)."""


class Tokens:
    """The configured tokens and the principal each stands for.

    Parameters
    ----------
    entries : iterable of (name, token, role)
        ``role`` is ``read`` or ``write``; names and tokens are unique.

    Examples
    --------
    >>> t = Tokens.parse("alice:0123456789abcdef:write, bob:fedcba9876543210:read")
    >>> t.authenticate("0123456789abcdef"), t.authenticate("nope")
    (Principal(name='alice', role='write'), None)
    >>> len(t), "0123" in repr(t)
    (2, False)
    """

    def __init__(self, entries: Iterable[tuple[str, str, str]] = ()) -> None:
        self._entries: list[tuple[bytes, Principal]] = []
        names: set[str] = set()
        for i, (name, token, role) in enumerate(entries):
            if not name or name in names:
                raise TokenError(f"token entry {i + 1}: missing or repeated name {name!r}")
            if role not in ("read", "write"):
                raise TokenError(f"token entry {i + 1} ({name}): role must be read or write")
            if len(token) < MIN_TOKEN_LENGTH:
                raise TokenError(
                    f"token entry {i + 1} ({name}): tokens need {MIN_TOKEN_LENGTH}+ characters"
                )
            if any(hmac.compare_digest(token.encode(), t) for t, _ in self._entries):
                raise TokenError(f"token entry {i + 1} ({name}): token used twice")
            names.add(name)
            self._entries.append((token.encode(), Principal(name, role)))  # type: ignore[arg-type]

    @classmethod
    def parse(cls, text: str) -> Tokens:
        """Parse ``name:token:role[,name:token:role...]`` (``STREAMLABEL_API_TOKENS``)."""
        entries = []
        for i, item in enumerate(x.strip() for x in text.split(",")):
            if not item:
                continue
            parts = item.split(":")
            if len(parts) != 3:
                raise TokenError(f"token entry {i + 1}: expected name:token:role")
            name, token, role = (p.strip() for p in parts)
            entries.append((name, token, role))
        return cls(entries)

    def authenticate(self, token: str) -> Principal | None:
        """Return the principal of ``token`` or None; compares every entry (constant time)."""
        given = token.encode()
        found = None
        for known, who in self._entries:
            if hmac.compare_digest(given, known):
                found = who
        return found

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Tokens({[p.name for _, p in self._entries]!r})"
