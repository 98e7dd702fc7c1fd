"""Running labeling-function diagnostics (Snorkel's LF analysis, streaming).

:class:`LFAnalysis` accumulates integer counters per LF id -- all time and over an exact
recent window -- and reports coverage, overlaps, conflicts, polarity, empirical accuracy and
the label model's estimated accuracy.
"""

from __future__ import annotations

from streamlabel.analysis._analysis import (
    LFAnalysis,
    LFStats,
    OverallStats,
    SupportsLFAccuracies,
)

__all__ = ["LFAnalysis", "LFStats", "OverallStats", "SupportsLFAccuracies"]
