"""``streamlabel lf push|list|show`` against the session's real Kafka broker.

Each test has its own topic prefix, so its ``lfsets`` topic starts empty.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from streamlabel.cli import main
from streamlabel.lf import load_lfset, load_lfset_spec

pytestmark = pytest.mark.kafka

V1: dict[str, Any] = {
    "name": "card-fraud",
    "version": "1",
    "cardinality": 2,
    "label_names": ["legit", "fraud"],
    "resources": {"risky": ["gambling", "crypto"]},
    "lfs": [
        {
            "name": "risky_category",
            "label": 1,
            "when": {"kind": "lookup", "field": "merchant_category", "resource": "risky"},
        },
        {
            "name": "urgent",
            "label": 1,
            "when": {"kind": "keyword", "field": "descriptor", "keywords": ["urgent"]},
        },
        {
            "name": "small",
            "label": 0,
            "when": {"kind": "threshold", "field": "amount", "op": "lt", "value": 100},
        },
    ],
}


def v2() -> dict[str, Any]:
    """V1 with ``urgent`` removed, ``night`` added and ``small`` changed under version 2."""
    spec = copy.deepcopy(V1)
    spec["version"] = "2"
    spec["lfs"] = [
        spec["lfs"][0],
        {"name": "night", "label": 1, "when": {"kind": "range", "field": "hour", "max": 4}},
        {**spec["lfs"][2], "version": "2", "when": {**spec["lfs"][2]["when"], "value": 50}},
    ]
    return spec


class LF:
    """Runs ``streamlabel lf ...`` in-process against one broker and prefix."""

    def __init__(self, bootstrap: str, prefix: str, tmp_path: Path, capsys: Any) -> None:
        self.bootstrap, self.prefix, self.tmp_path, self.capsys = (
            bootstrap,
            prefix,
            tmp_path,
            capsys,
        )
        self.topic = f"{prefix}lfsets"
        self._n = 0

    def write(self, spec: dict[str, Any]) -> Path:
        self._n += 1
        path = self.tmp_path / f"spec{self._n}.yaml"
        path.write_text(yaml.safe_dump(spec), encoding="utf-8")
        return path

    def run(self, *argv: str, json_out: bool = True) -> tuple[int, Any, str]:
        self.capsys.readouterr()
        flags = ["--brokers", self.bootstrap, "--prefix", self.prefix]
        code = main(["lf", *argv, *flags, *(["--json"] if json_out else [])])
        out, err = self.capsys.readouterr()
        if json_out and code == 0:
            return code, json.loads(out), err
        return code, out, err

    def push(self, spec: dict[str, Any], *extra: str) -> tuple[int, Any, str]:
        return self.run("push", str(self.write(spec)), "--reason", "test push", *extra)

    def end_offset(self) -> int:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap, request_timeout_ms=10_000, enable_auto_commit=False
        )
        try:
            parts = consumer.partitions_for_topic(self.topic) or set()
            tps = [TopicPartition(self.topic, p) for p in parts]
            return sum(consumer.end_offsets(tps, timeout_ms=10_000).values())
        finally:
            consumer.close()

    def records(self) -> list[Any]:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap, request_timeout_ms=10_000, enable_auto_commit=False
        )
        try:
            tp = TopicPartition(self.topic, 0)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            end = consumer.end_offsets([tp])[tp]
            out: list[Any] = []
            for _ in range(40):
                if len(out) >= end:
                    break
                out.extend(r for b in consumer.poll(timeout_ms=250).values() for r in b)
            return out
        finally:
            consumer.close()


@pytest.fixture
def lf(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[LF]:
    yield LF(kafka_bootstrap, topic_prefix, tmp_path, capsys)


def test_push_then_list_and_show_read_it_back(lf: LF, kafka_bootstrap: str) -> None:
    code, listed, _ = lf.run("list")
    assert code == 0 and listed["exists"] is False and listed["sets"] == []

    code, pushed, err = lf.push(V1, "--set", "card-fraud")
    assert code == 0, err
    expected_hash = load_lfset(V1).content_hash
    assert pushed["status"] == "published"
    assert (pushed["topic"], pushed["key"], pushed["version"]) == (lf.topic, "card-fraud", "1")
    assert (pushed["partition"], pushed["offset"], pushed["content_hash"]) == (0, 0, expected_hash)
    assert pushed["previous"] is None
    assert pushed["diff"]["added"] == ["risky_category@1", "urgent@1", "small@1"]

    # The record follows the contract: key = set name, value = the spec's model_dump JSON.
    (record,) = lf.records()
    assert record.key == b"card-fraud"
    assert json.loads(record.value) == load_lfset_spec(V1).model_dump(mode="json")

    # The topic was created compacted.
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10_000)
    try:
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, lf.topic)])
    finally:
        admin.close()
    assert configs["topic"][lf.topic]["cleanup.policy"]["value"] == "compact"

    code, listed, _ = lf.run("list")
    assert code == 0 and listed["exists"] is True
    (row,) = listed["sets"]
    assert (row["name"], row["version"], row["n_lfs"], row["content_hash"]) == (
        "card-fraud",
        "1",
        3,
        expected_hash,
    )

    code, shown, _ = lf.run("show", "card-fraud")
    assert code == 0
    assert shown["spec"] == load_lfset_spec(V1).model_dump(mode="json")

    # The text form is YAML that loads back to the same LF set.
    code, text, _ = lf.run("show", "card-fraud", json_out=False)
    assert code == 0 and text.startswith("# card-fraud version 1 on ")
    assert load_lfset(yaml.safe_load(text)).content_hash == expected_hash
    code, text, _ = lf.run("list", json_out=False)
    assert text.splitlines()[1].split() == ["card-fraud", "1", "3", expected_hash[:12], "0"]

    code, _, err = lf.run("show", "nope")
    assert code == 2 and "no LF set named 'nope'" in err and "(sets: card-fraud)" in err


def test_push_v2_reports_the_diff_and_identical_repush_is_a_noop(lf: LF) -> None:
    assert lf.push(V1)[0] == 0
    code, pushed, err = lf.push(v2())
    assert code == 0, err
    assert pushed["status"] == "published" and pushed["offset"] == 1
    assert pushed["previous"]["version"] == "1"
    assert pushed["diff"] == {
        "added": ["night@1"],
        "removed": ["urgent@1"],
        "changed": [{"from": "small@1", "to": "small@2"}],
    }
    code, text, _ = lf.run("push", str(lf.write(v2())), "--reason", "again", json_out=False)
    assert code == 0 and text.startswith("unchanged: LF set 'card-fraud' version '2'")
    code, again, _ = lf.push(v2())
    assert code == 0 and again["status"] == "unchanged" and again["offset"] == 1
    assert lf.end_offset() == 2  # the re-pushes published nothing

    code, listed, _ = lf.run("list")
    assert [(s["name"], s["version"], s["n_lfs"]) for s in listed["sets"]] == [
        ("card-fraud", "2", 3)
    ]
    code, shown, _ = lf.run("show", "card-fraud")
    assert shown["version"] == "2" and shown["spec"]["lfs"][1]["name"] == "night"


def test_same_version_with_different_content_is_refused(lf: LF) -> None:
    assert lf.push(V1)[0] == 0
    before = lf.end_offset()
    changed = copy.deepcopy(V1)
    changed["lfs"] = changed["lfs"][:2]  # drop an LF, keep version "1"
    code, _, err = lf.push(changed)
    assert code == 2
    assert "LF set 'card-fraud' version '1' is already published with different content" in err
    assert "Nothing was published" in err
    assert lf.end_offset() == before
    code, shown, _ = lf.run("show", "card-fraud")
    assert shown["content_hash"] == load_lfset(V1).content_hash


def test_changed_lf_logic_under_the_same_id_is_refused(lf: LF) -> None:
    assert lf.push(V1)[0] == 0
    before = lf.end_offset()
    sneaky = copy.deepcopy(V1)
    sneaky["version"] = "2"  # a new set version...
    sneaky["lfs"][2]["when"]["value"] = 500  # ...but small@1 now means something else
    code, _, err = lf.push(sneaky)
    assert code == 2
    assert "LF 'small@1' changed logic but kept its version" in err
    assert lf.end_offset() == before


def test_several_sets_and_an_unreadable_record(lf: LF) -> None:
    other = {**copy.deepcopy(V1), "name": "aml"}
    assert lf.push(V1)[0] == 0
    assert lf.push(other)[0] == 0
    producer = KafkaProducer(bootstrap_servers=lf.bootstrap, acks="all")
    try:
        producer.send(lf.topic, key=b"broken", value=b"{not json").get(timeout=10)
    finally:
        producer.close()
    code, listed, _ = lf.run("list")
    assert [(s["name"], s["version"]) for s in listed["sets"]] == [
        ("aml", "1"),
        ("broken", None),
        ("card-fraud", "1"),
    ]
    assert "not UTF-8 JSON" in listed["sets"][1]["error"]
    code, _, err = lf.run("show", "broken")
    assert code == 2 and "is not a valid LF set" in err
    # A valid push replaces the unreadable record.
    code, pushed, _ = lf.push({**copy.deepcopy(V1), "name": "broken"})
    assert code == 0 and pushed["status"] == "published"
    assert "not UTF-8 JSON" in pushed["previous"]["error"]
    code, shown, _ = lf.run("show", "broken")
    assert code == 0 and shown["version"] == "1"
