"""Command-line interface: the ``streamlabel`` console script.

Subcommands::

    streamlabel bench labelmodel --wrench DIR [--no-peers] [--json]
    streamlabel bench apply [--events N] [--seed S] [--repeats R] [--json]

Importing this package is cheap and has no side effects: the benchmarks (numpy models,
Snorkel, torch) are imported only when a subcommand runs.
"""

from __future__ import annotations

from streamlabel.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
