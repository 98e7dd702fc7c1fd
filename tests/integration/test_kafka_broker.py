"""The development broker is a real Kafka: metadata, groups, committed offsets, transactions.

Runs against the session's ``kafka_bootstrap`` (a LocalKafka started by conftest, or
``STREAMLABEL_KAFKA``); every test names its topics and groups with its own prefix.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.serializer import DefaultSerializer, JsonSerializer

pytestmark = pytest.mark.kafka

N_MESSAGES = 1_000
N_PARTITIONS = 3


@pytest.fixture
def admin(kafka_bootstrap: str) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10_000)
    try:
        yield client
    finally:
        client.close()


def _create_topic(admin: KafkaAdminClient, topic: str, partitions: int) -> None:
    admin.create_topics(
        {topic: {"num_partitions": partitions, "replication_factor": 1}},
        timeout_ms=10_000,
        wait_for_metadata=True,
    )


def _drain(consumer: KafkaConsumer, expected: int, seconds: float = 30.0) -> list[Any]:
    """Poll until ``expected`` records arrived (or time is up); return them in order."""
    records: list[Any] = []
    deadline = time.monotonic() + seconds
    while len(records) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    return records


def test_broker_answers_metadata(admin: KafkaAdminClient, kafka_bootstrap: str) -> None:
    cluster = admin.describe_cluster()
    assert len(cluster["brokers"]) == 1
    assert isinstance(admin.list_topics(), list)
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10_000)
    try:
        assert isinstance(consumer.topics(), set)
    finally:
        consumer.close()


def test_keyed_json_round_trip_through_a_consumer_group(
    admin: KafkaAdminClient, kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}events"
    group = f"{topic_prefix}group"
    _create_topic(admin, topic, N_PARTITIONS)

    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        acks="all",
        key_serializer=DefaultSerializer(),  # kafka-python 3.x serializer objects
        value_serializer=JsonSerializer(),
        linger_ms=5,
    )
    try:
        for i in range(N_MESSAGES):
            key = f"entity-{i % 37}"
            producer.send(topic, key=key, value={"i": i, "key": key, "amount": i * 0.5})
        producer.flush(timeout=30)
    finally:
        producer.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6_000,
        heartbeat_interval_ms=1_000,
        key_deserializer=DefaultSerializer(),
        value_deserializer=JsonSerializer(),
    )
    try:
        records = _drain(consumer, N_MESSAGES)
        consumer.commit()
        tps = [TopicPartition(topic, p) for p in range(N_PARTITIONS)]
        end_offsets = consumer.end_offsets(tps)
    finally:
        consumer.close()

    seen = [r.value["i"] for r in records]
    assert len(seen) == N_MESSAGES, f"got {len(seen)} of {N_MESSAGES} messages"
    assert sorted(seen) == list(range(N_MESSAGES)), "a message is missing or duplicated"

    by_partition: dict[int, list[Any]] = defaultdict(list)
    partition_of_key: dict[str, set[int]] = defaultdict(set)
    for r in records:
        by_partition[r.partition].append(r)
        partition_of_key[r.key].add(r.partition)
        assert r.value["key"] == r.key
    assert set(by_partition) == set(range(N_PARTITIONS)), "every partition gets keys"
    assert all(len(parts) == 1 for parts in partition_of_key.values()), "a key spans partitions"
    for part_records in by_partition.values():
        offsets = [r.offset for r in part_records]
        assert offsets == list(range(len(part_records))), "offsets are 0..n-1, in order"
        values = [r.value["i"] for r in part_records]
        assert values == sorted(values), "a partition delivers in produce order"

    # kafka-python 3.x: list_group_offsets (list_consumer_group_offsets is gone).
    committed = admin.list_group_offsets(group)[group]
    assert {tp: meta.offset for tp, meta in committed.items()} == end_offsets
    assert sum(end_offsets.values()) == N_MESSAGES


def test_transactions_commit_and_abort(
    admin: KafkaAdminClient, kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}tx"
    _create_topic(admin, topic, 1)
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        transactional_id=f"{topic_prefix}producer",
        value_serializer=JsonSerializer(),
    )
    try:
        producer.init_transactions()  # needs __transaction_state: one replica, min ISR 1
        for name, count, commit in (("a", 10, True), ("b", 5, False), ("c", 3, True)):
            producer.begin_transaction()
            for i in range(count):
                producer.send(topic, value={"batch": name, "i": i})
            if commit:
                producer.commit_transaction()
            else:
                producer.flush()  # unsent records are dropped on abort; make them reach the log
                producer.abort_transaction()
    finally:
        producer.close()

    def read(isolation_level: str, expected: int) -> list[str]:
        consumer = KafkaConsumer(
            bootstrap_servers=kafka_bootstrap,
            isolation_level=isolation_level,
            value_deserializer=JsonSerializer(),
            enable_auto_commit=False,
        )
        try:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            records = _drain(consumer, expected, seconds=15)
            # Nothing more arrives (no aborted record sneaks in after the committed ones).
            records.extend(r for b in consumer.poll(timeout_ms=500).values() for r in b)
        finally:
            consumer.close()
        return [r.value["batch"] for r in records]

    assert read("read_committed", 13) == ["a"] * 10 + ["c"] * 3
    assert sorted(read("read_uncommitted", 18)) == ["a"] * 10 + ["b"] * 5 + ["c"] * 3
