"""Code labeling functions: ``ABSTAIN``, :class:`LabelingFunction` and the decorator."""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from streamlabel._constants import ABSTAIN

__all__ = ["ABSTAIN", "LabelingFunction", "labeling_function"]


# Names and versions end up in LF ids ("name@version") and in YAML keys, so keep them tame.
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def _check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or _NAME_RE.fullmatch(value) is None:
        raise ValueError(
            f"LF {what} must match [A-Za-z0-9_][A-Za-z0-9_.-]* (no '@', no spaces), got {value!r}"
        )
    return value


def _stable_repr(obj: Any) -> str:
    """Repr that does not depend on hash randomisation (sets, dict insertion order)."""
    if isinstance(obj, Mapping):
        items = sorted((_stable_repr(k), _stable_repr(v)) for k, v in obj.items())
        return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    if isinstance(obj, set | frozenset):
        return "{" + ", ".join(sorted(_stable_repr(v) for v in obj)) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ", ".join(_stable_repr(v) for v in obj) + "]"
    if callable(obj) and not isinstance(obj, type):
        return _callable_source(obj)
    return repr(obj)


def _callable_source(f: Callable[..., Any]) -> str:
    """Source text of ``f``, or a deterministic stand-in when the source is unavailable."""
    target = f.func if isinstance(f, functools.partial) else f
    try:
        src = inspect.getsource(target)
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        if code is None:
            # Builtins and C callables: their qualified name is all that identifies them.
            mod = getattr(target, "__module__", "?")
            return f"<callable {mod}.{getattr(target, '__qualname__', type(target).__name__)}>"
        src = f"<code {code.co_code.hex()} {code.co_consts!r} {code.co_names!r}>"
    if isinstance(f, functools.partial):
        src += f"<partial {_stable_repr(f.args)} {_stable_repr(f.keywords)}>"
    return src


class LabelingFunction:
    """A labeling function written in Python: ``event -> label`` or :data:`ABSTAIN`.

    Parameters
    ----------
    name
        Name of the LF, unique within an LF set.
    f
        The function. It receives the (preprocessed) event and the ``resources`` as keyword
        arguments and returns an int in ``0..cardinality-1`` or ``ABSTAIN``.
    version
        Version of the LF's logic; bump it whenever the logic changes.
    resources
        Extra keyword arguments passed to ``f`` on every call (word lists, thresholds...).
    pre
        Preprocessors (``event -> event``) applied in order before ``f``.
    fields
        Names of the event fields the LF reads. A ``KeyError`` or ``TypeError`` raised on
        one of them marks the event as invalid for this LF instead of counting a fault.

    Attributes
    ----------
    id : str
        ``f"{name}@{version}"``, the LF's identity for label models and registries.
    source_hash : str
        sha256 of the function's source, the resources' repr and the preprocessors' sources;
        it changes whenever the LF's logic does.

    Examples
    --------
    >>> from streamlabel.lf import ABSTAIN, LabelingFunction
    >>> def big(event, limit):
    ...     return 1 if event["amount"] > limit else ABSTAIN
    >>> lf = LabelingFunction("big", big, resources={"limit": 100.0}, fields=["amount"])
    >>> lf.id, lf({"amount": 250.0}), lf({"amount": 3.0})
    ('big@1', 1, -1)
    """

    __slots__ = ("_call", "f", "fields", "id", "name", "pre", "resources", "source_hash", "version")

    name: str
    version: str
    id: str
    f: Callable[..., int]
    resources: Mapping[str, Any]
    pre: tuple[Callable[[Any], Any], ...]
    fields: tuple[str, ...]
    source_hash: str
    _call: Callable[[Any], int]

    def __init__(
        self,
        name: str,
        f: Callable[..., int],
        *,
        version: str = "1",
        resources: Mapping[str, Any] | None = None,
        pre: Sequence[Callable[[Any], Any]] | None = None,
        fields: Sequence[str] | None = None,
    ) -> None:
        if not callable(f):
            raise TypeError(f"f must be callable, got {type(f).__name__}")
        set_ = object.__setattr__
        set_(self, "name", _check_name(name, "name"))
        set_(self, "version", _check_name(str(version), "version"))
        set_(self, "id", f"{self.name}@{self.version}")
        set_(self, "f", f)
        set_(self, "resources", MappingProxyType(dict(resources or {})))
        set_(self, "pre", tuple(pre or ()))
        if isinstance(fields, str):
            fields = [fields]
        set_(self, "fields", tuple(fields or ()))
        parts = [_callable_source(f), _stable_repr(dict(self.resources))]
        parts += [_callable_source(p) for p in self.pre]
        digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
        set_(self, "source_hash", digest)
        set_(self, "_call", self._make_call())

    def _make_call(self) -> Callable[[Any], int]:
        # The applier calls this in its inner loop: give it the cheapest callable that has
        # the LF's semantics (the bare function when there is nothing to add).
        f = functools.partial(self.f, **self.resources) if self.resources else self.f
        pre = self.pre
        if not pre:
            return f
        if len(pre) == 1:
            (p,) = pre
            return lambda event: f(p(event))

        def call(event: Any) -> int:
            for p in pre:
                event = p(event)
            return f(event)

        return call

    def __call__(self, event: Any) -> int:
        """Vote on one event (exceptions propagate; the applier is what catches them)."""
        return self._call(event)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"LabelingFunction is immutable (tried to set {key!r})")

    def __repr__(self) -> str:
        return f"LabelingFunction({self.id!r}, fields={list(self.fields)!r})"


def labeling_function(
    *,
    name: str | None = None,
    version: str = "1",
    resources: Mapping[str, Any] | None = None,
    pre: Sequence[Callable[[Any], Any]] | None = None,
    fields: Sequence[str] | None = None,
) -> Callable[[Callable[..., int]], LabelingFunction]:
    """Turn a function ``event -> int`` into a :class:`LabelingFunction`.

    Parameters
    ----------
    name
        LF name; defaults to the function's name.
    version
        Version of the LF's logic (default ``"1"``).
    resources
        Extra keyword arguments passed to the function on each call.
    pre
        Preprocessors (``event -> event``) applied before the function.
    fields
        Event fields the function reads (see :class:`LabelingFunction`).

    Returns
    -------
    callable
        A decorator returning the :class:`LabelingFunction`.

    Examples
    --------
    >>> from streamlabel.lf import ABSTAIN, labeling_function
    >>> @labeling_function(version="2", resources={"words": ("casino", "poker")})
    ... def gambling(event, words):
    ...     text = event["descriptor"].lower()
    ...     return 1 if any(w in text for w in words) else ABSTAIN
    >>> gambling.id, gambling({"descriptor": "Online CASINO Ltd"})
    ('gambling@2', 1)
    """

    def decorate(f: Callable[..., int]) -> LabelingFunction:
        return LabelingFunction(
            name if name is not None else f.__name__,
            f,
            version=version,
            resources=resources,
            pre=pre,
            fields=fields,
        )

    return decorate
