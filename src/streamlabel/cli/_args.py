"""argparse types shared by the commands: numbers checked against their range."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

_N = TypeVar("_N", int, float)


def ranged(
    cast: Callable[[str], _N], what: str, lo: _N, hi: _N | None = None
) -> Callable[[str], _N]:
    """Return an argparse ``type``: ``cast(text)``, refused outside ``[lo, hi]``.

    Examples
    --------
    >>> port = ranged(int, "a port", 1, 65535)
    >>> port("8080")
    8080
    >>> try:
    ...     port("0")
    ... except argparse.ArgumentTypeError as exc:
    ...     print(exc)
    expected a port in 1..65535, got 0
    >>> ranged(float, "a number", 0.0, 1.0)("0.5"), ranged(int, "an integer", 1)("7")
    (0.5, 7)
    """

    def parse(text: str) -> _N:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            bound = f">= {lo}" if hi is None else f"in {lo}..{hi}"
            raise argparse.ArgumentTypeError(f"expected {what} {bound}, got {value}")
        return value

    return parse
