"""Running labeling-function diagnostics (Snorkel's LF analysis, streaming).

:class:`LFAnalysis` accumulates integer counters per LF id -- all time and over an exact
recent window -- and reports coverage, overlaps, conflicts, polarity, empirical accuracy and
the label model's estimated accuracy. :class:`LabelQuality` estimates how accurate the
emitted labels are from their posteriors, calibrated by late gold labels.
"""

from __future__ import annotations

from streamlabel.analysis._analysis import (
    LFAnalysis,
    LFStats,
    OverallStats,
    SupportsLFAccuracies,
)
from streamlabel.analysis._quality import LabelQuality

__all__ = ["LFAnalysis", "LFStats", "LabelQuality", "OverallStats", "SupportsLFAccuracies"]
