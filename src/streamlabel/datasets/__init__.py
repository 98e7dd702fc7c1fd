"""Datasets: WRENCH folders (load and write), seeded synthetic streams, drifting event streams.

The loaders read data in place (the shared data folder sits beside the repository) and never
copy it into the package; :func:`load_youtube_stream` turns the raw UCI YouTube Spam
Collection into a real comment stream in date order (:func:`youtube_lfsets` is its LF set).
The drifting event streams (:func:`make_fraud_stream`, :func:`make_chat_stream`) come
with their ground truth, their drift phases and the declarative LF set versions an analyst
would push along them (:func:`fraud_lfsets`, :func:`chat_lfsets`, YAML files shipped in
``streamlabel/datasets/lfsets``).
"""

from __future__ import annotations

from streamlabel.datasets._chat import chat_lfsets, chat_phases, make_chat_stream
from streamlabel.datasets._fraud import (
    FRAUD_PUSHES,
    fraud_lfsets,
    fraud_phases,
    fraud_push_points,
    make_fraud_stream,
)
from streamlabel.datasets._streams import DriftPhase, LabeledStream
from streamlabel.datasets._synthetic import (
    RandomStream,
    VoteStream,
    make_bipolar_stream,
    make_drifting_stream,
    make_random_stream,
    make_unipolar_stream,
    synthetic_regimes,
)
from streamlabel.datasets._transactions import make_transactions
from streamlabel.datasets._wrench import WrenchSplit, load_wrench, save_wrench, shared_data_dir
from streamlabel.datasets._youtube import (
    YoutubeLeakage,
    check_youtube_leakage,
    load_youtube_stream,
    load_youtube_test,
    youtube_data_dir,
    youtube_lfsets,
)

__all__ = [
    "FRAUD_PUSHES",
    "DriftPhase",
    "LabeledStream",
    "RandomStream",
    "VoteStream",
    "WrenchSplit",
    "YoutubeLeakage",
    "chat_lfsets",
    "chat_phases",
    "check_youtube_leakage",
    "fraud_lfsets",
    "fraud_phases",
    "fraud_push_points",
    "load_wrench",
    "load_youtube_stream",
    "load_youtube_test",
    "make_bipolar_stream",
    "make_chat_stream",
    "make_drifting_stream",
    "make_fraud_stream",
    "make_random_stream",
    "make_transactions",
    "make_unipolar_stream",
    "save_wrench",
    "shared_data_dir",
    "synthetic_regimes",
    "youtube_data_dir",
    "youtube_lfsets",
]
