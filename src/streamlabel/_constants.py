"""Constants shared by every part (kept here so no part imports another for them)."""

from __future__ import annotations

from typing import Final

__all__ = ["ABSTAIN"]

#: The vote of an LF that does not label an event (Snorkel's convention).
ABSTAIN: Final = -1
