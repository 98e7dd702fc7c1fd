"""TrainingWindow (join, gold precedence, bounds, holdout) and Trainer (rounds, gates)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamlabel.drift import RetrainRequest
from streamlabel.models import (
    ModelRegistry,
    PayloadFeaturizer,
    decode_model_record,
    encode_model_record,
    loads_model_artifact,
)
from streamlabel.pipeline import (
    FeedbackRecord,
    LabelRecord,
    Trainer,
    TrainingWindow,
)


def label(eid: str, y: int, conf: float = 0.9, lfset_version: str = "1") -> LabelRecord:
    post = [1.0 - conf, conf] if y == 1 else [conf, 1.0 - conf]
    return LabelRecord(
        eid, "c", "fraud", lfset_version, {}, post, y, conf, f"lm{lfset_version}", 0.0, 0.0, None
    )


def gold(eid: str, y: int) -> FeedbackRecord:
    return FeedbackRecord(eid, y, "chargeback", 1.0)


def stream(n: int, seed: int, start: int = 0) -> tuple[list[str], list[dict[str, Any]], Any]:
    """Payloads whose class is the sign of x (with 5% of the truth flipped)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (x > 0).astype(int)
    flip = rng.random(n) < 0.05
    y[flip] = 1 - y[flip]
    ids = [f"e{start + i}" for i in range(n)]
    return ids, [{"x": float(v), "noise": float(rng.normal())} for v in x], y


def featurizer() -> PayloadFeaturizer:
    return PayloadFeaturizer(numeric_fields=["x", "noise"], n_features=1)


def feed(
    w: TrainingWindow,
    ids: list[str],
    payloads: list[dict[str, Any]],
    labels: Any,
    *,
    gold_of: dict[str, int] | None = None,
) -> None:
    for eid, p, y in zip(ids, payloads, labels, strict=True):
        w.add_event(eid, p)
        w.add_label(label(eid, int(y)))
        if gold_of is not None and eid in gold_of:
            w.add_gold(gold(eid, gold_of[eid]))


# ---------------------------------------------------------------------- window


def test_joins_in_either_order_and_counts() -> None:
    w = TrainingWindow(max_events=10)
    assert w.add_event("a", {"x": 1.0}) is False
    assert w.add_label(label("b", 1)) is False
    assert w.pending == {"events": 1, "labels": 1, "gold": 0}
    assert w.add_label(label("a", 0).to_dict()) is True  # dicts as read from `labels`
    assert w.add_event("b", {"x": 2.0}) is True
    assert [(e.event_id, e.payload["x"], e.label, e.gold) for e in w.examples()] == [
        ("a", 1.0, 0, None),
        ("b", 2.0, 1, None),
    ]
    assert w.pending == {"events": 0, "labels": 0, "gold": 0}
    assert (w.joined_, w.events_in_, w.labels_in_) == (2, 2, 2)
    assert w.examples()[0].lfset == "fraud" and w.examples()[0].labelmodel_version == "lm1"


def test_gold_wins_before_or_after_the_join_and_the_first_verdict_stays() -> None:
    w = TrainingWindow()
    # gold first, then label, then event
    assert w.add_gold(gold("a", 1)) is False
    w.add_label(label("a", 0))
    w.add_event("a", {})
    # joined first, then gold; a second verdict is a duplicate
    w.add_event("b", {})
    w.add_label(label("b", 0))
    assert w.add_gold(gold("b", 1)) is True
    assert w.add_gold(gold("b", 0)) is False
    # a re-label after the gold keeps the gold
    w.add_label(label("b", 0, conf=0.6))
    ex = {e.event_id: e for e in w.examples()}
    assert (ex["a"].label, ex["a"].gold) == (0, 1)
    assert (ex["b"].gold, ex["b"].confidence) == (1, 0.6)
    assert w.duplicates_ == 2
    assert w.add_gold(gold("c", 2)) is False and w.ignored_ == 1  # not a class


def test_gold_overrides_the_label_model_in_training_and_in_the_holdout(tmp_path: Path) -> None:
    ids, payloads, y = stream(1200, seed=1)
    w = TrainingWindow(holdout_fraction=0.25)
    # The label model is always wrong; gold (the truth) is known for every event.
    feed(w, ids, payloads, 1 - y, gold_of=dict(zip(ids, y.tolist(), strict=True)))
    t = Trainer(w, ModelRegistry(tmp_path), featurizer(), min_gold=50)
    result = t.train()
    assert result.truth == "gold" and result.promoted
    assert result.challenger is not None and result.challenger["accuracy"] > 0.9


def test_bounds_hold_and_drops_are_counted() -> None:
    w = TrainingWindow(max_events=5, max_pending=3)
    for i in range(5):
        w.add_event(f"lonely{i}", {})
        w.add_label(label(f"orphan{i}", 1))
        w.add_gold(gold(f"early{i}", 1))
    assert w.pending == {"events": 3, "labels": 3, "gold": 3}
    assert (w.dropped_events_, w.dropped_labels_, w.dropped_gold_) == (2, 2, 2)
    # the oldest pending event was dropped: its label no longer joins
    assert w.add_label(label("lonely0", 1)) is False
    assert w.add_label(label("lonely4", 1)) is True
    for i in range(10):
        w.add_event(f"j{i}", {})
        w.add_label(label(f"j{i}", 0))
    assert len(w) == 5 and w.evicted_ == 6 and w.joined_ == 11
    assert [e.event_id for e in w.examples()] == [f"j{i}" for i in range(5, 10)]


def test_holdout_is_a_stable_hash_split() -> None:
    ids = [f"tx{i}" for i in range(5000)]
    a = TrainingWindow(max_events=10_000, holdout_fraction=0.2)
    b = TrainingWindow(max_events=10_000, holdout_fraction=0.2)
    for eid in ids:
        a.add_event(eid, {})
        a.add_label(label(eid, 0))
    for eid in reversed(ids):  # another arrival order, label first
        b.add_label(label(eid, 0))
        b.add_event(eid, {})
    train, held = a.split()
    assert {e.event_id for e in held} == {e.event_id for e in b.split()[1]}
    assert not {e.event_id for e in train} & {e.event_id for e in held}
    assert 0.18 < len(held) / 5000 < 0.22


def test_labels_of_other_sets_or_shapes_are_ignored() -> None:
    w = TrainingWindow(lfset="fraud", n_classes=2)
    other = LabelRecord("a", "c", "chat", "1", {}, [0.5, 0.5], 0, 0.5, "x", 0.0, 0.0, None)
    three = LabelRecord("b", "c", "fraud", "1", {}, [0.2, 0.3, 0.5], 2, 0.5, "x", 0.0, 0, None)
    assert not w.add_label(other) and not w.add_label(three)
    assert w.ignored_ == 2 and w.pending["labels"] == 0
    with pytest.raises(ValueError, match="missing key"):
        w.add_label({"event_id": "x"})


# ---------------------------------------------------------------------- trainer


def test_first_round_promotes_and_the_record_carries_a_loadable_artifact(tmp_path: Path) -> None:
    ids, payloads, y = stream(1500, seed=2)
    w = TrainingWindow(holdout_fraction=0.2)
    feed(w, ids, payloads, y)
    t = Trainer(w, ModelRegistry(tmp_path, clock=lambda: 5.0), featurizer(), name="fraud")
    result = t.train("manual", "first")
    assert result.trained and result.promoted and result.truth == "labels"
    assert result.champion is None and result.decision is not None
    rec = result.record
    assert rec is not None and rec.name == "fraud" and rec.entry.action == "promote"
    assert decode_model_record(encode_model_record(rec)) == rec
    model = loads_model_artifact(rec.artifact, expected_sha256=rec.version.sha256)
    _, payloads2, y2 = stream(500, seed=3, start=10_000)
    accuracy = float((model.predict_many(payloads2) == y2).mean())
    assert accuracy > 0.88
    assert rec.version.lineage.lfset_name == "fraud"
    assert rec.version.lineage.lfset_version == "1"
    assert rec.version.lineage.labelmodel_version == "lm1"
    assert rec.version.lineage.training_window == result.n_train
    assert t.registry.champion is not None and t.registry.champion.version == "v1"
    assert t.champion_record() == rec
    summary = json.loads(json.dumps(result.to_dict()))
    assert summary["version"] == "v1" and summary["decision"]["promote"] is True
    assert t.results_[0].record is None  # the history keeps no artifact bytes


def test_a_worse_challenger_is_registered_but_not_promoted(tmp_path: Path) -> None:
    ids, payloads, y = stream(1500, seed=4)
    w = TrainingWindow(max_events=1500, holdout_fraction=0.25)
    feed(w, ids, payloads, y)
    registry = ModelRegistry(tmp_path)
    t = Trainer(w, registry, featurizer(), min_gold=100)
    first = t.train()
    assert first.promoted
    # The label model breaks (inverted labels) while gold keeps arriving for held-out events.
    ids, payloads, y = stream(1500, seed=5, start=5000)
    held_gold = {eid: int(v) for eid, v in zip(ids, y, strict=True) if w.is_holdout(eid)}
    feed(w, ids, payloads, 1 - y, gold_of=held_gold)
    assert all(e.event_id.startswith("e") and int(e.event_id[1:]) >= 5000 for e in w.examples())
    second = t.train()
    assert second.trained and not second.promoted and second.record is None
    assert second.truth == "gold"
    assert second.champion is not None and second.challenger is not None
    assert second.champion["accuracy"] > 0.85 > 0.2 > second.challenger["accuracy"]
    assert registry.champion is not None and registry.champion.version == "v1"
    assert [v.version for v in registry.list()] == ["v1", "v2"]
    assert registry.get("v2").parent == "v1"
    assert t.promotions_ == 1 and len(registry.history) == 1


def test_schedule_runs_every_n_joined_events(tmp_path: Path) -> None:
    ids, payloads, y = stream(1000, seed=6)
    w = TrainingWindow(holdout_fraction=0.2)
    t = Trainer(w, ModelRegistry(tmp_path), featurizer(), every=400, min_train=100, min_holdout=20)
    results = []
    for i in range(1000):
        feed(w, ids[i : i + 1], payloads[i : i + 1], y[i : i + 1])
        r = t.poll()
        if r is not None:
            results.append(r)
    assert [r.at for r in results] == [400, 800]
    assert [r.trigger for r in results] == ["schedule", "schedule"]
    assert results[0].promoted and results[0].reason.startswith("schedule: 400 labeled events")


def test_schedule_waits_for_enough_data(tmp_path: Path) -> None:
    ids, payloads, y = stream(300, seed=7)
    w = TrainingWindow(holdout_fraction=0.2)
    t = Trainer(w, ModelRegistry(tmp_path), featurizer(), every=50, min_train=200, min_holdout=20)
    ats = []
    for i in range(300):
        feed(w, ids[i : i + 1], payloads[i : i + 1], y[i : i + 1])
        r = t.poll()
        if r is not None:
            ats.append(r.at)
    # Due from 50 on, but the first round needs 200 training events (about 250 joined).
    assert ats and 240 <= ats[0] <= 265 and all(b - a >= 50 for a, b in itertools.pairwise(ats))


def test_requests_train_and_the_cooldown_drops_the_ones_too_soon(tmp_path: Path) -> None:
    ids, payloads, y = stream(2000, seed=8)
    w = TrainingWindow(holdout_fraction=0.2)
    t = Trainer(w, ModelRegistry(tmp_path), featurizer(), cooldown=500)
    req = RetrainRequest(1, None, ("gold_error",), "drift on critical monitor gold_error", ())
    feed(w, ids[:1000], payloads[:1000], y[:1000])
    first = t.offer_request(req)
    assert first is not None and first.trigger == "request" and first.promoted
    assert "retraining request: drift on critical monitor gold_error" in first.reason
    feed(w, ids[1000:1499], payloads[1000:1499], y[1000:1499])
    assert t.offer_request(req) is None  # 499 events after the round
    feed(w, ids[1499:1500], payloads[1499:1500], y[1499:1500])
    later = t.offer_request(req)
    assert later is not None and later.trained and later.at == 1500
    assert (t.requests_, t.requests_suppressed_) == (3, 1)


def test_a_tie_keeps_the_champion_and_a_new_trainer_finds_it(tmp_path: Path) -> None:
    ids, payloads, y = stream(1000, seed=9)
    w = TrainingWindow(holdout_fraction=0.2)
    feed(w, ids, payloads, y)
    assert Trainer(w, ModelRegistry(tmp_path), featurizer()).train().promoted
    # A restarted trainer: the champion comes from the registry folder.
    again = Trainer(w, ModelRegistry(tmp_path), featurizer(), name="fraud")
    assert again.champion_record() is not None
    result = again.train()
    assert result.trained and not result.promoted and result.champion == result.challenger
    assert "is not better than champion" in result.reason, result.reason
    assert result.version is not None and result.version.parent == "v1"


def test_soft_labels_and_skips(tmp_path: Path) -> None:
    ids, payloads, y = stream(800, seed=10)
    w = TrainingWindow(holdout_fraction=0.2)
    t = Trainer(w, ModelRegistry(tmp_path), featurizer(), soft_labels=True, min_train=100)
    skipped = t.train()
    assert not skipped.trained and "skipped" in skipped.reason
    feed(w, ids, payloads, y)
    result = t.train()
    assert result.promoted and result.challenger is not None
    assert result.challenger["accuracy"] > 0.85
    one = TrainingWindow()
    feed(one, ids, payloads, np.zeros(800, dtype=int))  # one class: nothing to learn
    failed = Trainer(one, ModelRegistry(tmp_path / "b"), featurizer(), min_train=100).train()
    assert not failed.trained and "training failed" in failed.reason


def test_a_request_on_a_small_window_waits_until_it_can_train(tmp_path: Path) -> None:
    ids, payloads, y = stream(1000, seed=11)
    w = TrainingWindow(holdout_fraction=0.2)
    t = Trainer(w, ModelRegistry(tmp_path), featurizer(), min_train=400, min_holdout=50)
    req = RetrainRequest(7, None, ("a", "b"), "drift on 2 monitors within 10000 events: a, b", ())
    feed(w, ids[:100], payloads[:100], y[:100])
    assert t.offer_request(req) is None and t.waiting is req
    assert (t.requests_deferred_, t.requests_suppressed_, t.results_) == (1, 0, [])
    ran = []
    for i in range(100, 1000):
        feed(w, ids[i : i + 1], payloads[i : i + 1], y[i : i + 1])
        r = t.poll()
        if r is not None:
            ran.append(r)
    (result,) = ran  # no schedule: only the waiting request, once
    assert result.trigger == "request" and result.promoted and t.waiting is None
    assert 480 <= result.at <= 530 and result.reason.startswith("retraining request: drift")


def test_reset_schedule_counts_from_a_refilled_window(tmp_path: Path) -> None:
    ids, payloads, y = stream(1500, seed=12)
    w = TrainingWindow(holdout_fraction=0.2)
    t = Trainer(w, ModelRegistry(tmp_path), featurizer(), every=500, cooldown=100)
    feed(w, ids[:1000], payloads[:1000], y[:1000])  # a warm start refilled the window
    t.reset_schedule()
    assert not t.due() and t.poll() is None
    req = RetrainRequest(1, None, ("gold_error",), "drift on critical monitor gold_error", ())
    assert t.offer_request(req) is not None  # requests are not held back by the refill
    feed(w, ids[1000:1499], payloads[1000:1499], y[1000:1499])
    assert t.poll() is None
    feed(w, ids[1499:], payloads[1499:], y[1499:])
    result = t.poll()
    assert result is not None and result.at == 1500 and result.trigger == "schedule"
