"""Drifting event streams with ground truth: the container, drift phases, shipped LF sets.

The generators of :mod:`streamlabel.datasets._fraud` and :mod:`streamlabel.datasets._chat`
return a :class:`LabeledStream`: events shaped as the labeler reads them
(``{"id", "ts", "entity", "payload"}``), the true class of each event kept apart from it,
the pattern that generated each event, and the drift phases over the stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from streamlabel._constants import ABSTAIN

if TYPE_CHECKING:
    from streamlabel.lf import LFSet

__all__ = ["DriftPhase", "LabeledStream"]


@dataclass(frozen=True)
class DriftPhase:
    """One phase of a drifting stream: events ``start`` (inclusive) to ``stop`` (exclusive).

    Phases are cumulative: a phase keeps the changes of the phases before it and adds its
    own, the way a real drift does not undo itself when the next one starts.

    Attributes
    ----------
    name : str
        Short identifier (e.g. ``"tactic_change"``).
    start : int
        Index of the first event of the phase.
    stop : int
        One past the index of its last event.
    description : str
        What changes in this phase, and which LF it is meant to hurt or escape.
    """

    name: str
    start: int
    stop: int
    description: str

    def as_slice(self) -> slice:
        """Return ``slice(start, stop)``, to index the events, ``y`` or a label matrix."""
        return slice(self.start, self.stop)


@dataclass(frozen=True, eq=False)  # eq=False: element-wise array comparison has no bool
class LabeledStream:
    """Events with their ground truth, kept apart from them, and the phases of the drift.

    Attributes
    ----------
    name : str
        Name of the generator (``"fraud"`` or ``"chat"``).
    events : list of dict
        ``{"id", "ts", "entity", "payload"}`` events, valid for
        :func:`streamlabel.pipeline.parse_event`; they never hold the label.
    y : ndarray of shape (n,), dtype int64
        True class of each event (0 = the negative class).
    kind : ndarray of shape (n,), dtype int64
        Index into ``kind_names`` of the pattern that generated each event (0 = the
        negative class, the others are positive patterns).
    kind_names : tuple of str
        Names of the generating patterns.
    phases : tuple of DriftPhase
        The drift phases, in order, covering ``0..n`` without gaps.
    label_names : tuple of str
        Class names, one per label.
    """

    name: str
    events: list[dict[str, Any]]
    y: NDArray[np.int64]
    kind: NDArray[np.int64]
    kind_names: tuple[str, ...]
    phases: tuple[DriftPhase, ...]
    label_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.events)

    def payloads(self) -> list[dict[str, Any]]:
        """Return the payload of every event: what labeling functions read.

        Examples
        --------
        >>> from streamlabel.datasets import make_fraud_stream
        >>> s = make_fraud_stream(10, seed=0)
        >>> s.payloads()[0] is s.events[0]["payload"]
        True
        """
        return [e["payload"] for e in self.events]

    def phase(self, name: str) -> DriftPhase:
        """Return the phase called ``name``.

        Examples
        --------
        >>> from streamlabel.datasets import make_fraud_stream
        >>> make_fraud_stream(1000, seed=0).phase("new_pattern").start
        400
        """
        for p in self.phases:
            if p.name == name:
                return p
        raise KeyError(f"no phase {name!r}; phases: {[p.name for p in self.phases]}")

    def phase_index(self) -> NDArray[np.int64]:
        """Return the index (into ``phases``) of the phase of every event.

        Examples
        --------
        >>> from streamlabel.datasets import make_chat_stream
        >>> make_chat_stream(8, seed=0).phase_index().tolist()
        [0, 0, 1, 1, 2, 2, 3, 3]
        """
        return _phase_index(self.phases, len(self))

    def kind_id(self, name: str) -> int:
        """Return the index of the generating pattern ``name`` in ``kind_names``."""
        try:
            return self.kind_names.index(name)
        except ValueError:
            raise KeyError(f"no kind {name!r}; kinds: {list(self.kind_names)}") from None

    def lf_accuracy(self, L: NDArray[np.int64]) -> NDArray[np.float64]:
        """Empirical accuracy of each LF in each phase: right votes over non-abstain votes.

        Parameters
        ----------
        L : ndarray of shape (n, m)
            Votes on this stream's events (``ABSTAIN`` = -1), e.g. from
            ``LFApplier(lfset).apply_many(stream.payloads())``.

        Returns
        -------
        ndarray of shape (n_phases, m), dtype float64
            NaN where an LF never fired in a phase.

        Examples
        --------
        >>> import numpy as np
        >>> from streamlabel.datasets import make_fraud_stream
        >>> s = make_fraud_stream(1000, seed=0)
        >>> acc = s.lf_accuracy(np.where(s.y == 1, 1, -1)[:, None])  # an oracle LF
        >>> acc.shape, bool((acc == 1.0).all())
        ((5, 1), True)
        """
        L = np.asarray(L)
        if L.ndim != 2 or L.shape[0] != len(self):
            raise ValueError(f"L must have shape ({len(self)}, m), got {L.shape}")
        out = np.full((len(self.phases), L.shape[1]), np.nan)
        for i, p in enumerate(self.phases):
            votes = L[p.as_slice()]
            fired = (votes != ABSTAIN).sum(axis=0)
            right = (votes == self.y[p.as_slice(), None]).sum(axis=0)
            np.divide(right, fired, out=out[i], where=fired > 0)
        return out


def _make_phases(n: int, spec: Sequence[tuple[str, float, str]]) -> tuple[DriftPhase, ...]:
    """Turn ``(name, start as a fraction of n, description)`` into phases over ``0..n``."""
    starts = [int(frac * n) for _, frac, _ in spec]
    stops = [*starts[1:], n]
    return tuple(
        DriftPhase(name, start, stop, desc)
        for (name, _, desc), start, stop in zip(spec, starts, stops, strict=True)
    )


def _phase_index(phases: Sequence[DriftPhase], n: int) -> NDArray[np.int64]:
    starts = np.array([p.start for p in phases], dtype=np.int64)
    idx = np.searchsorted(starts, np.arange(n), side="right") - 1
    return np.asarray(idx, dtype=np.int64)


def _draw_rows(
    rng: np.random.Generator, table: NDArray[np.float64], rows: NDArray[np.int64]
) -> NDArray[np.int64]:
    """One category per event, drawn from the row of ``table`` its entry of ``rows`` names.

    ``table`` holds one (unnormalised) distribution per row, e.g. one per drift phase; one
    uniform draw per event keeps the result independent of how the rows are grouped.
    """
    u = rng.random(rows.size)
    cdf = np.cumsum(table, axis=1)
    # x / x is exactly 1.0, and u < 1: the index found is at most k - 1, and a category of
    # weight 0 (an equal cumulative value) is never chosen with side="right".
    cdf /= cdf[:, -1:]
    out = np.empty(rows.size, dtype=np.int64)
    for r in range(table.shape[0]):
        sel = rows == r
        out[sel] = np.searchsorted(cdf[r], u[sel], side="right")
    return out


def _load_packaged_lfsets(files: Sequence[str]) -> list[LFSet]:
    """Load the YAML LF sets shipped in ``streamlabel/datasets/lfsets``, in ``files`` order."""
    # Imported here so that importing the datasets package stays numpy-only and cheap.
    import yaml

    from streamlabel.lf import load_lfset

    folder = resources.files("streamlabel.datasets").joinpath("lfsets")
    # Parsed here and handed over as a mapping: load_lfset reads a short one-line string
    # as a file name, which the text of a packaged file must never be taken for.
    return [
        load_lfset(yaml.safe_load(folder.joinpath(name).read_text(encoding="utf-8")))
        for name in files
    ]
