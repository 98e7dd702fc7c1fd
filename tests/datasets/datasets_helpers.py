"""A drifting stream together with the votes of every shipped LF set version on it."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from streamlabel.datasets import LabeledStream
from streamlabel.lf import LFApplier, LFSet

#: Events per stream in these tests: ~4,000-5,000 per phase, 150-300 positives in each.
N_EVENTS = 20_000


class Voted:
    """A stream with the label matrix ``L[version]`` of each LF set version on it."""

    def __init__(self, stream: LabeledStream, lfsets: list[LFSet]) -> None:
        self.stream = stream
        self.lfsets = {s.version: s for s in lfsets}
        payloads = stream.payloads()
        self.L = {s.version: LFApplier(s).apply_many(payloads) for s in lfsets}

    def column(self, version: str, lf_id: str) -> NDArray[np.int64]:
        """Votes of one LF of one set version on every event."""
        return self.L[version][:, self.lfsets[version].ids.index(lf_id)]

    def accuracy(self, version: str, lf_id: str, phase: str) -> float:
        """Empirical accuracy of one LF of one set version in one phase."""
        acc = self.stream.lf_accuracy(self.L[version])
        names = [p.name for p in self.stream.phases]
        return float(acc[names.index(phase), self.lfsets[version].ids.index(lf_id)])

    def rate(self, phase: str) -> float:
        """Share of positive events in one phase."""
        return float(self.stream.y[self.stream.phase(phase).as_slice()].mean())
