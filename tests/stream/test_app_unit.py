"""The labeler agent batches and forwards, driven by ``agent.test_context()`` (no broker)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pytest

from streamlabel.stream import (
    OUTPUT_TOPICS,
    TOPICS,
    Output,
    RawEvent,
    StreamSettings,
    create_app,
    echo_handler,
)


def test_import_does_not_import_faust() -> None:
    code = (
        "import sys, streamlabel.stream; "
        "bad = [m for m in ('faust', 'mode', 'aiokafka', 'kafka') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_settings_from_env_and_validation() -> None:
    s = StreamSettings.from_env(
        environ={
            "STREAMLABEL_BROKERS": "kafka://h1:9092,h2:9093",
            "STREAMLABEL_TOPIC_PREFIX": "x.",
            "STREAMLABEL_BATCH_MAX_WAIT": "0.05",
            "STREAMLABEL_PARTITIONS": "3",
            "STREAMLABEL_KAFKA": "ignored:1",  # the test fixture's variable is no field
            "STREAMLABEL_DATADIR": "",  # empty means unset
        }
    )
    assert s.bootstrap_servers == ["h1:9092", "h2:9093"]
    assert s.broker_urls == ["kafka://h1:9092", "kafka://h2:9093"]
    assert (s.batch_max_wait, s.partitions, s.datadir) == (0.05, 3, None)
    assert (s.session_timeout_ms, s.processing_guarantee) == (6000, "at_least_once")
    assert s.group_id == "x.streamlabel-labeler"
    for bad in (
        {"STREAMLABEL_BATCH_SIZE": "0"},
        {"STREAMLABEL_TOPIC_PREFIX": "a b"},
        {"STREAMLABEL_BROKERS": "nohostport"},
        {"STREAMLABEL_PROCESSING_GUARANTEE": "exactly_once"},
    ):
        with pytest.raises(ValueError):
            StreamSettings.from_env(environ=bad)


def test_topics_follow_the_design() -> None:
    assert [t.name for t in TOPICS] == [
        "events",
        "labels",
        "review",
        "dlq",
        "lfsets",
        "feedback",
        "labelmodel-stats",
        "labelmodel-params",
        "predictions",
        "drift",
        "models",
        "lfset-versions",
        "audit",
        "model-commands",
        "model-registry",
        "lfset-candidates",
        "shadow-reports",
    ]
    assert OUTPUT_TOPICS == {
        "labels",
        "review",
        "dlq",
        "labelmodel-stats",
        "predictions",
        "drift",
        "shadow-reports",
    }
    assert [t.name for t in TOPICS if t.compacted] == [
        "lfsets",
        "labelmodel-stats",
        "labelmodel-params",
        "models",
        "lfset-versions",
        "audit",
        "model-registry",
        "lfset-candidates",
        "shadow-reports",
    ]
    assert {t.name for t in TOPICS if t.value == "raw"} == {
        "events",
        "lfsets",
        "feedback",
        "labelmodel-params",
        "models",
        "lfset-versions",
        "audit",
        "model-commands",
        "model-registry",
        "lfset-candidates",
    }


def test_app_declares_prefixed_topics(tmp_path: Any) -> None:
    async def main() -> dict[str, Any]:
        app = create_app(
            StreamSettings(topic_prefix="p1.", datadir=tmp_path, events_reader="faust")
        )
        (agent,) = app.agents.values()
        return {
            "id": app.conf.id,
            "source": agent.channel.get_topic_name(),  # type: ignore[attr-defined]
            "session": app.conf.broker_session_timeout,
            "guarantee": str(app.conf.processing_guarantee.value),
            "web": app.conf.web_enabled,
        }

    info = asyncio.run(main())
    assert info == {
        "id": "p1.streamlabel-labeler",
        "source": "p1.events",
        "session": 6.0,
        "guarantee": "at_least_once",
        "web": False,
    }


def test_batched_reader_app_has_no_agents_and_a_group_of_its_own(tmp_path: Any) -> None:
    async def main() -> dict[str, Any]:
        settings = StreamSettings(topic_prefix="p1.", datadir=tmp_path)
        app = create_app(settings)
        return {
            "id": app.conf.id,
            "agents": len(app.agents),
            "services": [s.__name__ for s in app._extra_services],
        }

    info = asyncio.run(main())
    # The reader's consumer group is the labeler's (p1.streamlabel-labeler): Faust's own
    # consumer (its assignor topic) must not join it with another protocol.
    assert info == {
        "id": "p1.streamlabel-labeler-worker",
        "agents": 0,
        "services": ["EventsReader"],
    }


def test_batched_app_follows_feedback_in_every_worker(tmp_path: Any) -> None:
    def nothing(batch: Any) -> list[Any]:
        return []

    async def main() -> list[str]:
        settings = StreamSettings(topic_prefix="p1.", datadir=tmp_path)
        with pytest.raises(ValueError, match="feedback_from"):
            create_app(settings, nothing, on_feedback=nothing)
        app = create_app(settings, nothing, on_feedback=nothing, feedback_from={0: 5, 1: 7})
        return [t.__name__ for t in app._app_tasks]

    # Outside the consumer group: every worker sees the gold of the events it labeled.
    assert asyncio.run(main()) == ["follow_feedback"]


def _run_agent(
    n_events: int, batch_size: int, handler: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> list[tuple[str, Any, Any]]:
    """Put ``n_events`` through the agent's test context; return what it sent."""
    import faust.topics

    sent: list[tuple[str, Any, Any]] = []

    async def fake_send(self: Any, *, key: Any = None, value: Any = None, **kw: Any) -> None:
        sent.append((self.get_topic_name(), key, value))

    monkeypatch.setattr(faust.topics.Topic, "send", fake_send)

    async def main() -> None:
        settings = StreamSettings(
            topic_prefix="u.",
            batch_size=batch_size,
            batch_max_wait=0.05,
            datadir=tmp_path,
            events_reader="faust",
        )
        app = create_app(settings, handler=handler)
        (agent,) = app.agents.values()
        async with agent.test_context() as agent_t:
            for i in range(n_events):
                await agent_t.put(
                    value=f'{{"id": "e{i}"}}'.encode(), key=f"e{i}".encode(), wait=False
                )
            deadline = asyncio.get_running_loop().time() + 10
            while len(sent) < n_events and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)

    asyncio.run(main())
    return sent


def test_agent_batches_and_forwards_to_the_handler(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    batches: list[list[RawEvent]] = []

    def handler(batch: Sequence[RawEvent]) -> list[Output]:
        batches.append(list(batch))
        return [
            *echo_handler(batch),
            Output("review", batch[0].key, {"n": len(batch)}),
            Output("dlq", batch[0].source, {"reason": "test"}),
        ]

    sent = _run_agent(25, 10, handler, monkeypatch, tmp_path)

    sizes = [len(b) for b in batches]
    assert sum(sizes) == 25
    assert all(size <= 10 for size in sizes)
    assert len(batches) < 25, f"events were not batched: {sizes}"
    assert max(sizes) == 10
    events = [ev for b in batches for ev in b]
    assert [ev.key for ev in events] == [f"e{i}".encode() for i in range(25)]
    assert [ev.offset for ev in events] == list(range(25))
    assert all(isinstance(ev.value, bytes) and ev.value.startswith(b'{"id"') for ev in events)

    labels = [(k, v) for t, k, v in sent if t == "u.labels"]
    assert [k for k, _ in labels] == [f"e{i}".encode() for i in range(25)]
    assert labels[3][1] == {
        "event_id": "e3",
        "raw_len": len(b'{"id": "e3"}'),
        "partition": 0,
        "offset": 3,
    }
    assert sum(1 for t, _, _ in sent if t == "u.review") == len(batches)
    assert sum(1 for t, _, _ in sent if t == "u.dlq") == len(batches)


def test_agent_uses_echo_handler_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    sent = _run_agent(5, 100, None, monkeypatch, tmp_path)
    assert [(t, k) for t, k, _ in sent] == [("u.labels", f"e{i}".encode()) for i in range(5)]
