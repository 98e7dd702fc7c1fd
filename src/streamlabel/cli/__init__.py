"""Command-line interface: the ``streamlabel`` console script.

Subcommands::

    streamlabel demo [--events N] [--seed S] [--json]
    streamlabel run [--brokers B] [--prefix P] [--lfset NAME] [--lfset-file FILE]
    streamlabel lf check|push|list|show ...
    streamlabel dev kafka up|down|status|logs
    streamlabel bench labelmodel|apply|lmspeed|regimes|shapes|drift|driftcost|stream ...

Importing this package is cheap and has no side effects: models, Kafka clients, faust,
Snorkel and torch are imported only when a subcommand runs.
"""

from __future__ import annotations

from streamlabel.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
