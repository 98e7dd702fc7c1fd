"""``streamlabel demo --kafka``: placeholder until the Kafka demo lands."""

from __future__ import annotations

from typing import Any

__all__ = ["run_kafka_demo"]


def run_kafka_demo(
    n_events: int, seed: int, brokers: str | None, prefix: str | None
) -> dict[str, Any]:
    """Refuse: the Kafka variant of the demo is not built yet."""
    raise ValueError("streamlabel demo --kafka is not built yet; run streamlabel demo")
