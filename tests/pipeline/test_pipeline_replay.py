"""The pure replay core: revisions exactly for flipped labels, read-only model, idempotence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamlabel.datasets import fraud_lfsets, make_fraud_stream
from streamlabel.labelmodel import OnlineLabelModel, dumps_model
from streamlabel.lf import LFApplier, load_lfset
from streamlabel.pipeline import (
    Labeler,
    LabelRecord,
    RawInput,
    Relabeler,
    ReplaySummary,
    RevisionRecord,
    Source,
    TrainingWindow,
    parse_label_value,
    replay_log,
)

N = 4_000


@pytest.fixture(scope="module")
def labeled() -> tuple[object, list[LabelRecord], OnlineLabelModel]:
    """The fraud stream labeled with v1 up to the end of tactic_change, v2 after."""
    v1, v2 = fraud_lfsets()[:2]
    stream = make_fraud_stream(N, seed=0)
    drift = stream.phase("tactic_change")
    labeler = Labeler(v1, OnlineLabelModel(cardinality=2), clock=lambda: 1.0)
    labels: list[LabelRecord] = []
    for i in range(0, N, 200):
        if i == drift.stop:
            labeler.set_lfset(v2)
        batch = [(e, Source("events", 0, i + j)) for j, e in enumerate(stream.events[i : i + 200])]
        labels += labeler.process_many(batch).labels
    return stream, labels, labeler.model


def test_revisions_are_exactly_the_flipped_labels(
    labeled: tuple[object, list[LabelRecord], OnlineLabelModel],
) -> None:
    stream, labels, model = labeled
    v2 = fraud_lfsets()[1]
    drift = stream.phase("tactic_change")  # type: ignore[attr-defined]
    events = stream.events[drift.start : drift.stop]  # type: ignore[attr-defined]
    before = dumps_model(model)
    result = replay_log(events, labels, v2, model, replay_id="r1", clock=lambda: 7.0)
    assert dumps_model(model) == before  # prediction only: the live model is untouched

    # Independently: v2's votes, the same model, argmax against the emitted label.
    P = model.predict_proba_many(LFApplier(v2).apply_many([e["payload"] for e in events]), v2.ids)
    emitted = {r.event_id: r for r in labels}
    expected = {
        e["id"]: int(y)
        for e, y in zip(events, P.argmax(axis=1), strict=True)
        if int(y) != emitted[e["id"]].label
    }
    assert expected  # the drift makes v1 wrong somewhere
    assert {r.event_id: r.label for r in result.revisions} == expected
    for rev in result.revisions:
        prev = emitted[rev.event_id]
        assert (rev.previous_label, rev.previous_posterior) == (prev.label, prev.posterior)
        assert rev.previous_votes == prev.votes and rev.previous_lfset_version == "1"
        assert rev.lfset_version == "2" and rev.replay_id == "r1" and rev.revised_at == 7.0
        assert rev.label == int(np.argmax(rev.posterior)) != rev.previous_label
        assert rev.votes == {k: v for k, v in rev.votes.items() if v >= 0}
    s = result.summary
    assert s.events == len(events) and s.revised == len(expected)
    assert s.unchanged == len(events) - len(expected) and s.unlabeled == s.invalid == 0
    assert sum(s.flips.values()) == s.revised
    assert s.lf_changes["gift_card_cashout"] == sum(
        "gift_card_cashout" in r.changed_lfs() for r in result.revisions
    )
    # Most flips correct the drift: gift-card purchases that are legit.
    truth = dict(zip((e["id"] for e in events), stream.y[drift.start : drift.stop], strict=True))  # type: ignore[attr-defined]
    assert sum(truth[k] == v for k, v in expected.items()) >= 0.8 * len(expected)


def test_replay_is_idempotent_and_batching_does_not_matter(
    labeled: tuple[object, list[LabelRecord], OnlineLabelModel],
) -> None:
    stream, labels, model = labeled
    v2 = fraud_lfsets()[1]
    events = stream.events[: N // 2]  # type: ignore[attr-defined]
    one = replay_log(events, labels, v2, model, replay_id="r", clock=lambda: 0.0, batch_size=1)
    big = replay_log(events, labels, v2, model, replay_id="r", clock=lambda: 0.0, batch_size=5000)
    assert one.revisions == big.revisions and one.summary == big.summary
    # The revisions (as labels-topic values, through JSON) become the previous labels.
    values = [json.loads(json.dumps(r.label_value())) for r in one.revisions]
    again = replay_log(events, [*labels, *values], v2, model, replay_id="r2")
    assert again.revisions == [] and again.summary.unchanged == len(events)


def test_posterior_only_changes_are_not_revisions() -> None:
    lfset = load_lfset(
        {
            "name": "s",
            "version": "2",
            "cardinality": 2,
            "lfs": [
                {
                    "name": "big",
                    "label": 1,
                    "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 9},
                }
            ],
        }
    )
    relabeler = Relabeler(lfset, OnlineLabelModel(cardinality=2), replay_id="r")
    event = {"id": "e1", "ts": 0, "entity": "c", "payload": {"amount": 50}}
    y = int(relabeler.model.predict_proba_many(np.array([[1]]), ["big@1"]).argmax())
    prev = LabelRecord("e1", "c", "s", "1", {}, [0.5, 0.5], y, 0.5, "0", 0.0, 0.0, None)
    out = relabeler.relabel_many([(event, None)], {"e1": prev})
    assert out.revisions == [] and out.summary.unchanged == 1


def test_unlabeled_invalid_duplicate_and_other_sets_are_counted_not_revised() -> None:
    lfset = fraud_lfsets()[1]
    relabeler = Relabeler(lfset, OnlineLabelModel(cardinality=2), replay_id="r")
    good = {"id": "e1", "ts": 0, "entity": "c", "payload": {"amount": 5}}
    other = LabelRecord("e2", "c", "another-set", "1", {}, [0.0, 1.0], 1, 1.0, "0", 0, 0, None)
    events: list[RawInput] = [
        (good, None),
        (good, None),  # same id again in the batch
        (b"{oops", None),
        ({"id": "e2", "ts": 0, "entity": "c", "payload": {}}, None),
    ]
    calls: list[list[str]] = []

    def lookup(ids: list[str]) -> dict[str, LabelRecord]:
        calls.append(ids)
        return {"e2": other}

    out = relabeler.relabel_many(events, lookup)
    assert calls == [["e1", "e2"]]  # one look-up per batch, valid ids only
    assert out.revisions == []
    assert (out.summary.invalid, out.summary.duplicates, out.summary.unlabeled) == (1, 1, 2)


def test_new_lf_versions_inherit_in_the_copy_only() -> None:
    v1, v2 = fraud_lfsets()[:2]
    stream = make_fraud_stream(1_000, seed=1)
    labeler = Labeler(v1, OnlineLabelModel(cardinality=2))
    labeler.process_many([(e, None) for e in stream.events])
    relabeler = Relabeler(v2, labeler.model, replay_id="r")
    assert "gift_card_cashout@2" in relabeler.model.lf_ids_
    assert "gift_card_cashout@2" not in labeler.model.lf_ids_
    with pytest.raises(ValueError, match="cardinality"):
        Relabeler(v2, OnlineLabelModel(cardinality=3), replay_id="r")
    with pytest.raises(ValueError, match="replay_id"):
        Relabeler(v2, labeler.model, replay_id="")


def test_records_round_trip_and_the_trainer_window_takes_the_revision() -> None:
    rev = RevisionRecord(
        "e1", "c", "s", 1, [0.2, 0.8], {"gc@1": 1}, "1", "3.1", 0, [0.7, 0.3], {"sg@1": 0},
        "2", "3.1", "why", "r1", 9.0, Source("events", 1, 5),
    )  # fmt: skip
    value = json.loads(json.dumps(rev.label_value()))
    label, back = parse_label_value(value)
    assert back == rev and label == rev.to_label_record()
    assert rev.changed_lfs() == ["gc", "sg"] and rev.flip == "1->0"
    w = TrainingWindow(max_events=10, holdout_fraction=0.5)
    w.add_event("e1", {"x": 1.0})
    w.add_label(LabelRecord("e1", "c", "s", "1", {}, [0.2, 0.8], 1, 0.8, "3.1", 0, 0, None))
    w.add_label(value)  # the labels-topic value of the revision: the latest label wins
    (ex,) = w.examples()
    assert (ex.label, ex.lfset_version) == (0, "2")
    with pytest.raises(ValueError):
        parse_label_value({"event_id": "e1"})


def test_summary_round_trip_and_merge() -> None:
    a = ReplaySummary(events=5, unchanged=3, revised=2, flips={"0->1": 2}, lf_changes={"x": 2})
    b = ReplaySummary(events=1, invalid=1, flips={"0->1": 1, "1->0": 1})
    assert ReplaySummary.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    merged = a.merge(b)
    assert merged.events == 6 and merged.flips == {"0->1": 3, "1->0": 1}


def test_the_core_imports_no_engine() -> None:
    import streamlabel.pipeline._replay as mod

    with open(mod.__file__, encoding="utf-8") as f:
        src = f.read()
    imports = [ln.split()[1] for ln in src.splitlines() if ln.startswith(("import ", "from "))]
    assert not [m for m in imports if m.split(".")[0] in ("kafka", "aiokafka", "faust", "sqlite3")]
