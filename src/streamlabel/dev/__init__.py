"""Development tools: a local single-node Apache Kafka broker.

:class:`LocalKafka` runs the official Apache Kafka broker (the version pinned in
``deploy/kafka/pom.xml``, fetched from Maven Central by Maven) in KRaft mode on
127.0.0.1; ``streamlabel dev kafka up|down|status|logs`` drives it, and the test suite's
``kafka_bootstrap`` fixture starts one per session. Needs Java 17+ and Maven.

Importing this package starts nothing and imports no Kafka client.
"""

from __future__ import annotations

from streamlabel.dev._kafka import (
    KafkaDevError,
    LocalKafka,
    find_deploy_dir,
    free_ports,
    kafka_version,
    start_on_free_ports,
)

__all__ = [
    "KafkaDevError",
    "LocalKafka",
    "find_deploy_dir",
    "free_ports",
    "kafka_version",
    "start_on_free_ports",
]
