"""Datasets: the WRENCH benchmark loader and seeded synthetic streams.

The loaders read data in place (the shared data folder sits beside the repository) and never
copy it into the package.
"""

from __future__ import annotations

from streamlabel.datasets._synthetic import (
    VoteStream,
    make_bipolar_stream,
    make_drifting_stream,
    make_unipolar_stream,
    synthetic_regimes,
)
from streamlabel.datasets._transactions import make_transactions
from streamlabel.datasets._wrench import WrenchSplit, load_wrench, shared_data_dir

__all__ = [
    "VoteStream",
    "WrenchSplit",
    "load_wrench",
    "make_bipolar_stream",
    "make_drifting_stream",
    "make_transactions",
    "make_unipolar_stream",
    "shared_data_dir",
    "synthetic_regimes",
]
