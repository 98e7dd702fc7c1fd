"""LabelerHandler, the LF-set hand-off, feedback and the start-up choice (no broker)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from streamlabel.datasets import make_transactions
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import load_lfset, load_lfset_spec
from streamlabel.stream import (
    INVALID_LFSET,
    LabelerHandler,
    LFSetLog,
    Output,
    RawEvent,
    StartupError,
    StreamSettings,
    _service,
    create_app,
    prepare_labeler,
)

SPEC_V1: dict[str, Any] = {
    "name": "tx",
    "version": "1",
    "cardinality": 2,
    "label_names": ["legit", "fraud"],
    "resources": {"risky": ["gambling", "crypto", "gift_cards"]},
    "lfs": [
        {
            "name": "risky",
            "label": 1,
            "when": {"kind": "lookup", "field": "merchant_category", "resource": "risky"},
        },
        {
            "name": "big_amount",
            "label": 1,
            "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 1500},
        },
        {
            "name": "small_grocery",
            "label": 0,
            "when": {
                "kind": "all",
                "conditions": [
                    {"kind": "equals", "field": "merchant_category", "value": "grocery"},
                    {"kind": "threshold", "field": "amount", "op": "lt", "value": 100},
                ],
            },
        },
    ],
}


def spec(version: str = "1", **changes: Any) -> dict[str, Any]:
    """SPEC_V1 as the contract's JSON (``LFSetSpec.model_dump(mode="json")``), changed."""
    data = load_lfset_spec(SPEC_V1).model_dump(mode="json")
    data["version"] = version
    data.update(changes)
    return data


def v2() -> dict[str, Any]:
    """big_amount@2 (threshold 1000) and no small_grocery."""
    data = spec("2")
    data["lfs"][1]["version"] = "2"
    data["lfs"][1]["when"]["value"] = 1000
    del data["lfs"][2]
    return data


def events(n: int, seed: int = 0, topic: str = "p.events", start: int = 0) -> list[RawEvent]:
    out = []
    for i, tx in enumerate(make_transactions(n, seed)):
        payload = {k: v for k, v in tx.items() if k not in ("id", "ts", "entity")}
        value = {"id": tx["id"], "ts": tx["ts"], "entity": tx["entity"], "payload": payload}
        out.append(RawEvent(tx["entity"].encode(), json.dumps(value).encode(), topic, 0, start + i))
    return out


def lfset_record(value: Any, offset: int = 0, key: bytes = b"tx") -> RawEvent:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return RawEvent(key, raw, "p.lfsets", 0, offset)


def make_handler(**settings: Any) -> LabelerHandler:
    return LabelerHandler.from_settings(StreamSettings(**settings), load_lfset(spec()))


def by_topic(outputs: list[Output], topic: str) -> list[Output]:
    return [o for o in outputs if o.topic == topic]


def test_batch_gives_labels_dlq_and_review_keyed_as_the_design_says() -> None:
    handler = make_handler(review_min_confidence=0.99, review_max_per_1000=1000)
    good = events(50)
    bad = [
        RawEvent(None, b"not json", "p.events", 0, 50),
        RawEvent(None, b'{"ts": 1, "entity": "c", "payload": {}}', "p.events", 0, 51),
        RawEvent(None, b'{"id": 5, "ts": 1, "entity": "c", "payload": {}}', "p.events", 0, 52),
        RawEvent(
            None,
            b'{"id": "x", "ts": 1, "entity": "c", "payload": {"t": "' + b"a" * 70_000 + b'"}}',
            "p.events",
            0,
            53,
        ),
    ]
    out = handler([*good[:25], *bad, *good[25:]])

    labels = by_topic(out, "labels")
    assert [o.key for o in labels] == [json.loads(e.value)["id"].encode() for e in good]
    first = labels[0].value
    assert first["lfset"] == "tx" and first["lfset_version"] == "1"
    assert {"votes", "posterior", "label", "labelmodel_version", "source"} <= set(first)
    assert first["source"] == {"topic": "p.events", "partition": 0, "offset": 0}
    json.dumps([o.value for o in out])  # JSON-able

    dlq = by_topic(out, "dlq")
    assert [(o.key, o.value["reason"]) for o in dlq] == [
        (b"p.events:0:50", "not_json"),
        (b"p.events:0:51", "missing_field"),
        (b"p.events:0:52", "wrong_type"),
        (b"p.events:0:53", "oversized"),
    ]
    assert dlq[1].value["source"] == {"topic": "p.events", "partition": 0, "offset": 51}

    review = by_topic(out, "review")
    assert review, "a min_confidence of 0.99 routes some events"
    ids = {o.key for o in labels}
    assert all(o.key in ids and o.value["event_id"].encode() == o.key for o in review)


def test_review_off_with_zero_rate() -> None:
    handler = make_handler(review_min_confidence=1.0, review_max_per_1000=0)
    assert handler.labeler.review is None
    assert not by_topic(handler(events(20)), "review")


def test_new_version_takes_effect_at_the_next_batch() -> None:
    handler = make_handler()
    assert handler.offer_lfset(lfset_record(v2(), offset=7)) == []
    assert handler.pending is not None and handler.labeler.lfset.version == "1"
    out = handler(events(10))
    assert {o.value["lfset_version"] for o in by_topic(out, "labels")} == {"2"}
    assert handler.pending is None and handler.labeler.lfset_swaps_ == 1
    # Unchanged LFs keep their ids in the model, the changed one is big_amount@2, the
    # removed one is retired.
    assert sorted(handler.labeler.model.lf_ids_) == ["big_amount@2", "risky@1"]
    assert all("small_grocery@1" not in o.value["votes"] for o in by_topic(out, "labels"))


def test_a_redelivered_current_version_cancels_a_pending_one() -> None:
    handler = make_handler()
    handler.offer_lfset(lfset_record(v2(), offset=1))
    assert handler.offer_lfset(lfset_record(spec(), offset=2)) == []  # v1 again: latest wins
    assert handler.pending is None
    out = handler(events(5))
    assert {o.value["lfset_version"] for o in by_topic(out, "labels")} == {"1"}
    assert handler.lfsets_ignored_ == 1 and handler.lfsets_accepted_ == 1


@pytest.mark.parametrize(
    ("value", "lf", "field", "needle"),
    [
        (b"{not json", None, None, "not JSON"),
        (b"[1, 2]", None, None, "JSON object"),
        (
            spec("3", lfs=[{"name": "bad", "label": 7, "when": SPEC_V1["lfs"][0]["when"]}]),
            "bad",
            "label",
            "outside 0..1",
        ),
        (
            spec(
                "3",
                lfs=[
                    {
                        "name": "evil",
                        "label": 1,
                        "when": {"kind": "regex", "field": "d", "pattern": "(a+)+$"},
                    }
                ],
            ),
            "evil",
            "when.pattern",
            "",
        ),
        (spec("3", name="other"), None, "name", "named 'other'"),
        (spec("3", cardinality=3, label_names=None), None, "cardinality", "cardinality 3"),
        (spec("1", lfs=v2()["lfs"]), None, "version", "immutable"),
    ],
    ids=["not-json", "not-object", "label", "regex", "name", "cardinality", "reused-version"],
)
def test_unusable_specs_go_to_the_dlq_and_the_set_stays(
    value: Any, lf: str | None, field: str | None, needle: str
) -> None:
    handler = make_handler()
    (out,) = handler.offer_lfset(lfset_record(value, offset=4))
    assert out.topic == "dlq" and out.key == b"p.lfsets:0:4"
    assert out.value["reason"] == INVALID_LFSET
    assert (out.value["lf"], out.value["field"]) == (lf, field)
    assert needle in out.value["detail"]
    assert out.value["source"] == {"topic": "p.lfsets", "partition": 0, "offset": 4}
    assert out.value["lfset"] == "tx"
    assert handler.pending is None and handler.lfsets_invalid_ == 1
    labels = by_topic(handler(events(5)), "labels")
    assert {o.value["lfset_version"] for o in labels} == {"1"}


def test_changed_logic_under_the_same_lf_id_is_refused() -> None:
    handler = make_handler()
    data = spec("2")
    data["lfs"][1]["when"]["value"] = 999  # big_amount@1 with other logic
    (out,) = handler.offer_lfset(lfset_record(data))
    assert (out.value["lf"], out.value["field"]) == ("big_amount", "version")
    assert "bump" in out.value["detail"]


def test_other_sets_and_tombstones_are_ignored() -> None:
    handler = make_handler()
    assert handler.offer_lfset(lfset_record(spec("2", name="other"), key=b"other")) == []
    assert handler.offer_lfset(lfset_record(b"")) == []
    assert handler.pending is None and handler.lfsets_ignored_ == 2


def test_feedback_is_learned_and_bad_feedback_goes_to_the_dlq() -> None:
    handler = make_handler()
    batch = events(20)
    handler(batch)
    ids = [json.loads(e.value)["id"] for e in batch]

    def fb(i: int, value: Any) -> RawEvent:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        return RawEvent(None, raw, "p.feedback", 1, i)

    out = handler.on_feedback(
        [
            fb(0, {"event_id": ids[0], "label": 1, "source": "chargeback", "at": 5}),
            fb(1, {"event_id": ids[0], "label": 1, "source": "chargeback", "at": 5}),
            fb(2, {"event_id": "unknown", "label": 0, "source": "investigator", "at": 5}),
            fb(3, b"{oops"),
            fb(4, {"event_id": ids[1], "label": 9, "source": "x", "at": 5}),
            fb(5, {"event_id": ids[1], "label": "1", "source": "x", "at": 5}),
        ]
    )
    lab = handler.labeler
    assert (lab.feedback_applied_, lab.feedback_duplicate_, lab.feedback_unmatched_) == (1, 1, 1)
    assert [(o.topic, o.key, o.value["reason"]) for o in out] == [
        ("dlq", b"p.feedback:1:3", "not_json"),
        ("dlq", b"p.feedback:1:4", "invalid_value"),
        ("dlq", b"p.feedback:1:5", "wrong_type"),
    ]
    assert handler.feedback_invalid_ == 3


# --------------------------------------------------------------------------- start-up


def _fake_log(monkeypatch: pytest.MonkeyPatch, *values: Any) -> None:
    records = [lfset_record(v, offset=i) for i, v in enumerate(values)]

    def fake(settings: StreamSettings, name: str, timeout: float = 30.0) -> LFSetLog:
        return LFSetLog([r for r in records if r.key == name.encode()], {0: len(values)})

    monkeypatch.setattr(_service, "read_lfsets", fake)
    monkeypatch.setattr(_service, "read_snapshot", lambda settings, timeout=30.0: None)
    monkeypatch.setattr(_service, "read_params", lambda settings, timeout=30.0: (None, {}))
    monkeypatch.setattr(_service, "_feedback_end", lambda settings, timeout: {0: 0})
    monkeypatch.setattr(_service, "_start_candidate", lambda settings, handler, timeout: {})


def _file(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "lfs.json"
    path.write_text(json.dumps(data))
    return path


def test_startup_takes_the_newest_valid_version_on_the_topic(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_log(monkeypatch, spec(), v2(), b"{broken")
    start = prepare_labeler(StreamSettings(lfset="tx", lfset_file=_file(tmp_path, spec("0"))))
    assert start.handler.labeler.lfset.version == "2"
    assert start.origin == "topic p.lfsets:0:1"
    assert start.lfsets_from == {0: 3}
    assert len(start.skipped) == 1 and "not JSON" in start.skipped[0]


def test_startup_falls_back_to_the_file_and_names_the_set_from_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_log(monkeypatch, b"{broken")
    path = _file(tmp_path, spec("0"))
    start = prepare_labeler(StreamSettings(lfset_file=path))
    assert start.handler.name == "tx" and start.handler.labeler.lfset.version == "0"
    assert start.origin == f"file {path}"


def test_startup_refuses_without_a_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_log(monkeypatch, spec(name="other"))
    with pytest.raises(StartupError, match=r"no LF set to serve"):
        prepare_labeler(StreamSettings())
    with pytest.raises(StartupError, match=r"no version of LF set 'tx'.*lf push"):
        prepare_labeler(StreamSettings(lfset="tx"))
    with pytest.raises(StartupError, match=r"holds set 'tx', not 'fraud'"):
        prepare_labeler(StreamSettings(lfset="fraud", lfset_file=_file(tmp_path, spec())))
    bad = spec()
    bad["lfs"][0]["label"] = 3
    with pytest.raises(StartupError, match=r"is invalid: LF 'risky', field 'label'"):
        prepare_labeler(StreamSettings(lfset="tx", lfset_file=_file(tmp_path, bad)))
    with pytest.raises(StartupError, match=r"not found"):
        prepare_labeler(StreamSettings(lfset="tx", lfset_file=tmp_path / "missing.yaml"))


def test_settings_of_the_service_from_env() -> None:
    s = StreamSettings.from_env(
        environ={
            "STREAMLABEL_LFSET": "fraud",
            "STREAMLABEL_LFSET_FILE": "lfs.yaml",
            "STREAMLABEL_HALF_LIFE": "1000",
            "STREAMLABEL_REVIEW_MAX_PER_1000": "5",
            "STREAMLABEL_REVIEW_CONFLICTS": "false",
        }
    )
    assert (s.lfset, s.lfset_file, s.half_life) == ("fraud", Path("lfs.yaml"), 1000.0)
    assert (s.review_max_per_1000, s.review_conflicts, s.review_min_confidence) == (5, False, 0.6)
    for bad in ({"STREAMLABEL_LFSET": "a b"}, {"STREAMLABEL_REVIEW_MAX_PER_1000": "1001"}):
        with pytest.raises(ValueError):
            StreamSettings.from_env(environ=bad)
    assert s.prior_weight == 0.5  # the label model's own default
    assert StreamSettings.from_env(environ={"STREAMLABEL_PRIOR_WEIGHT": "1"}).prior_weight == 1.0
    with pytest.raises(ValueError, match="prior_weight"):
        StreamSettings.from_env(environ={"STREAMLABEL_PRIOR_WEIGHT": "1.5"})
    assert s.unanimous_weight == 0.5  # the label model's own default
    env = {"STREAMLABEL_UNANIMOUS_WEIGHT": "0"}
    assert StreamSettings.from_env(environ=env).unanimous_weight == 0.0
    with pytest.raises(ValueError, match="unanimous_weight"):
        StreamSettings.from_env(environ={"STREAMLABEL_UNANIMOUS_WEIGHT": "-0.1"})
    assert s.balance == OnlineLabelModel(2).balance == "majority"
    env = {"STREAMLABEL_BALANCE": "cofiring"}
    assert StreamSettings.from_env(environ=env).balance == "cofiring"
    with pytest.raises(ValueError, match="balance"):
        StreamSettings.from_env(environ={"STREAMLABEL_BALANCE": "lift"})
    # A balance you know: one share per class, separated by commas.
    env = {"STREAMLABEL_BALANCE": "0.94, 0.06"}
    assert StreamSettings.from_env(environ=env).balance == (0.94, 0.06)
    for bad in ("0.94", "0.94,0", "0.94,nan", "0.94;0.06"):
        with pytest.raises(ValueError, match=r"balance \(STREAMLABEL_BALANCE\)"):
            StreamSettings.from_env(environ={"STREAMLABEL_BALANCE": bad})
    # Every prediction setting a worker hands its models is a worker setting, with the
    # label model's default.
    defaults = OnlineLabelModel(2)._settings()
    for name in OnlineLabelModel.prediction_settings:
        assert getattr(s, name) == defaults[name], name


def test_app_with_the_labeler_runs_a_feedback_agent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import faust.topics

    sent: list[tuple[str, Any, Any]] = []

    async def fake_send(self: Any, *, key: Any = None, value: Any = None, **kw: Any) -> None:
        sent.append((self.get_topic_name(), key, value))

    monkeypatch.setattr(faust.topics.Topic, "send", fake_send)
    handler = make_handler()

    async def main() -> list[str]:
        settings = StreamSettings(
            topic_prefix="u.", batch_max_wait=0.05, datadir=tmp_path, events_reader="faust"
        )
        with pytest.raises(ValueError, match="lfsets_from"):
            create_app(settings, handler, on_lfset=handler.offer_lfset)
        app = create_app(
            settings,
            handler,
            on_feedback=handler.on_feedback,
            on_lfset=handler.offer_lfset,
            lfsets_from={0: 0},
        )
        agents = {a.channel.get_topic_name(): a for a in app.agents.values()}  # type: ignore[attr-defined]
        async with agents["u.feedback"].test_context() as agent_t:
            await agent_t.put(value=b"{oops", key=b"tx1", wait=False)
            deadline = asyncio.get_running_loop().time() + 10
            while not sent and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
        return sorted(agents)

    assert asyncio.run(main()) == ["u.events", "u.feedback"]
    assert [(t, v["reason"]) for t, _, v in sent] == [("u.dlq", "not_json")]
