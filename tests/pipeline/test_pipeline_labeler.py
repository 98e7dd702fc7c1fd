from __future__ import annotations

import copy
import dataclasses
import json
import random
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pipeline_helpers import tx_events, tx_lfset

from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.lf import ABSTAIN, LFApplier, LFSet, LFVersionError, labeling_function, load_lfset
from streamlabel.pipeline import (
    INVALID_REASONS,
    FeedbackRecord,
    InvalidEvent,
    Labeler,
    LabelRecord,
    ReviewPolicy,
    Source,
)

NOW = 1234.5
BAD_KINDS = (
    "not_json",
    "not_utf8",
    "not_object",
    "missing_field",
    "wrong_type",
    "invalid_value",
    "unknown_field",
    "oversized",
)
POOL = tx_events(200, seed=42)


def make_labeler(version: int = 1, **kwargs: Any) -> Labeler:
    return Labeler(tx_lfset(version), OnlineLabelModel(cardinality=2), clock=lambda: NOW, **kwargs)


def clone(labeler: Labeler) -> Labeler:
    """The same labeler state (LF sets are immutable and shared; DeclarativeLF does not
    deep-copy), without the feedback cache."""
    return Labeler(
        labeler.lfset,
        copy.deepcopy(labeler.model),
        review=copy.deepcopy(labeler.review),
        clock=labeler.clock,
    )


def corrupt(raw: bytes, kind: str) -> bytes:
    """Spoil a valid event so that it fails with ``kind``."""
    obj = json.loads(raw)
    if kind == "not_json":
        return raw[:-3]
    if kind == "not_utf8":
        return raw.replace(b'"payload"', b'"pay\xffload"')
    if kind == "not_object":
        return json.dumps([obj]).encode()
    if kind == "missing_field":
        del obj["ts"]
    elif kind == "wrong_type":
        obj["id"] = 12345
    elif kind == "invalid_value":
        obj["ts"] = "not a time"
    elif kind == "unknown_field":
        obj["extra"] = 1
    elif kind == "oversized":
        obj["payload"]["descriptor"] = "x" * 70_000
    else:  # pragma: no cover
        raise ValueError(kind)
    return json.dumps(obj).encode()


def untimed(rec: LabelRecord) -> LabelRecord:
    return dataclasses.replace(rec, processing_seconds=0.0)


def payloads(raws: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(r)["payload"] for r in raws]


# ---------------------------------------------------------------- end to end


def test_end_to_end_transactions_with_malformed_inputs() -> None:
    n = 4000
    # Payload-level defects (missing descriptor, amount as a string, hour None): these
    # events are valid and labeled; the LFs that need the field abstain.
    raws = tx_events(n, seed=3, malformed_rate=0.05)
    rng = random.Random(0)
    inputs: list[tuple[bytes, Source]] = []
    expected: dict[int, str] = {}
    for i, raw in enumerate(raws):
        if rng.random() < 0.05:
            kind = BAD_KINDS[len(expected) % len(BAD_KINDS)]
            raw = corrupt(raw, kind)
            expected[i] = kind
        inputs.append((raw, Source("events", 3, 1000 + i)))
    assert 150 < len(expected) < 260

    labeler = make_labeler(review=ReviewPolicy())
    labels, dlq, review = [], [], []
    for start in range(0, n, 500):
        out = labeler.process_many(inputs[start : start + 500])
        labels += out.labels
        dlq += out.dlq
        review += out.review

    # Every input leaves exactly once, as a label or a DLQ record with the right reason.
    assert len(labels) + len(dlq) == n
    assert {d.source.offset - 1000: d.reason for d in dlq if d.source} == expected
    good = [i for i in range(n) if i not in expected]
    assert [r.source.offset - 1000 for r in labels if r.source] == good
    assert [r.event_id for r in labels] == [f"tx{i:09d}" for i in good]
    assert all(d.detail and d.raw and d.at == NOW for d in dlq)
    assert all(len(d.raw) <= 2000 for d in dlq)

    assert labeler.events_in_ == n and labeler.labels_out_ == len(labels)
    assert labeler.dlq_by_reason_ == {r: list(expected.values()).count(r) for r in INVALID_REASONS}
    assert labeler.batches_ == 8

    ids = set(tx_lfset(1).ids)
    for r in labels:
        assert (r.lfset, r.lfset_version) == ("tx", "1")
        assert set(r.votes) <= ids and all(v in (0, 1) for v in r.votes.values())
        assert abs(sum(r.posterior) - 1.0) < 1e-9
        assert r.label == int(np.argmax(r.posterior)) and r.confidence == max(r.posterior)
        assert r.processed_at == NOW and r.processing_seconds > 0
    # Unanimous evidence wins once the model has seen some data.
    late = labels[len(labels) // 2 :]
    for r in late:
        if len(r.votes) >= 2 and len(set(r.votes.values())) == 1:
            assert r.label == next(iter(r.votes.values()))
    # The payload defects made LFs abstain and were counted, never faults.
    assert labeler.lf_invalid_["gambling@1"] > 0 and labeler.lf_invalid_["night@1"] > 0
    assert sum(labeler.lf_faults_.values()) == 0

    # Review items are labeled events, within the budget.
    by_id = {r.event_id: r for r in labels}
    assert 0 < len(review) <= len(good) * 20 // 1000
    for item in review:
        rec = by_id[item.event_id]
        assert item.posterior == rec.posterior and item.votes == rec.votes
        if item.reason == "uncertain":
            assert max(item.posterior) < 0.6
        else:
            assert len(set(item.votes.values())) > 1
    assert sum(labeler.review_by_reason_.values()) == len(review)


@given(
    items=st.lists(
        st.sampled_from(("good", *BAD_KINDS)) | st.binary(max_size=40) | st.text(max_size=40),
        max_size=40,
    ),
    batch=st.integers(1, 15),
)
@settings(max_examples=60, deadline=None)
def test_every_input_yields_one_label_or_one_dlq_record(
    items: list[str | bytes], batch: int
) -> None:
    labeler = make_labeler(review=ReviewPolicy(max_per_1000=1000))
    inputs: list[tuple[Any, Source]] = []
    want: dict[int, str | None] = {}  # offset -> DLQ reason (None: labeled; "?": either)
    for i, item in enumerate(items):
        raw: Any = POOL[i % len(POOL)]
        if item == "good":
            want[i] = None
        elif isinstance(item, str) and item in BAD_KINDS:
            raw = corrupt(raw, item)
            want[i] = item
        else:
            raw = item
            want[i] = "?"
        inputs.append((raw, Source("events", 0, i)))
    labels, dlq = [], []
    for start in range(0, len(inputs), batch):
        out = labeler.process_many(inputs[start : start + batch])
        labels += out.labels
        dlq += out.dlq
    assert len(labels) + len(dlq) == len(inputs)
    labeled = [r.source.offset for r in labels if r.source]
    dead = {d.source.offset: d.reason for d in dlq if d.source}
    assert sorted(labeled + list(dead)) == list(range(len(inputs)))
    assert labeled == sorted(labeled)
    for i, reason in want.items():
        if reason is None:
            assert i in labeled
        elif reason != "?":
            assert dead[i] == reason
    assert all(d.reason in INVALID_REASONS for d in dlq)
    assert labeler.events_in_ == len(inputs)


def test_empty_and_all_bad_batches_leave_the_model_alone() -> None:
    labeler = make_labeler()
    version = labeler.model.version_
    out = labeler.process_many([])
    assert (out.labels, out.dlq, out.review) == ([], [], [])
    out = labeler.process_many([(b"nope", None), ({"id": "x"}, None)])
    assert [d.reason for d in out.dlq] == ["not_json", "missing_field"]
    assert [d.source for d in out.dlq] == [None, None]
    assert labeler.model.version_ == version


def test_lf_faults_abstain_and_are_counted() -> None:
    @labeling_function(fields=["amount"])
    def fragile(event: Any) -> int:
        if event["amount"] > 500:
            raise ZeroDivisionError("boom")
        return 0 if event["amount"] < 10 else ABSTAIN

    lfset = LFSet("mixed", "1", [fragile, *tx_lfset(1).lfs], cardinality=2)
    labeler = Labeler(lfset, OnlineLabelModel(cardinality=2))
    raws = POOL[:100]
    out = labeler.process_many([(r, None) for r in raws])
    assert len(out.labels) == 100
    big = sum(p["amount"] > 500 for p in payloads(raws))
    assert big > 0 and labeler.lf_faults_["fragile@1"] == big
    for r, p in zip(out.labels, payloads(raws), strict=True):
        assert ("fragile@1" in r.votes) == (p["amount"] < 10)


# ---------------------------------------------------------------- label before learning


def test_labels_come_from_the_model_before_the_batch() -> None:
    labeler = make_labeler()
    for start in range(0, 2000, 500):
        labeler.process_many([(r, None) for r in tx_events(2000, seed=1)[start : start + 500]])
    before = copy.deepcopy(labeler.model)
    batch = tx_events(500, seed=9)
    out = labeler.process_many([(r, None) for r in batch])

    ids = tx_lfset(1).ids
    L = LFApplier(tx_lfset(1)).apply_many(payloads(batch))
    posterior = np.array([r.posterior for r in out.labels])
    np.testing.assert_array_equal(posterior, before.predict_proba_many(L, ids))
    assert {r.labelmodel_version for r in out.labels} == {before.version_}
    # ... and then the model learned the batch: same state as learning it directly.
    before.learn_many(L, ids)
    assert labeler.model.version_ == before.version_ != out.labels[0].labelmodel_version
    np.testing.assert_allclose(
        labeler.model.predict_proba_many(L, ids), before.predict_proba_many(L, ids)
    )
    # Learning moved the estimate: emitting after learning would have given other numbers.
    assert not np.array_equal(labeler.model.predict_proba_many(L, ids), posterior)


def test_a_label_does_not_depend_on_the_rest_of_its_batch() -> None:
    warm = make_labeler()
    warm.process_many([(r, None) for r in tx_events(1500, seed=2)])
    batch = [(r, Source("events", 0, i)) for i, r in enumerate(tx_events(300, seed=4))]
    whole = clone(warm).process_many(batch)
    for i in (0, 7, 150, 299):
        alone = clone(warm).process_one(*batch[i])
        assert [untimed(r) for r in alone.labels] == [untimed(whole.labels[i])]


def test_process_one_equals_process_many_row() -> None:
    a = make_labeler(review=ReviewPolicy(max_per_1000=1000))
    b = clone(a)
    stream = tx_events(600, seed=6)
    for i, raw in enumerate(stream):
        src = Source("events", 1, i)
        one = a.process_one(raw, src)
        many = b.process_many([(raw, src)])
        assert [untimed(r) for r in one.labels] == [untimed(r) for r in many.labels]
        assert one.review == many.review
    assert a.model.version_ == b.model.version_
    bad = a.process_one(b"{", Source("events", 1, 600))
    assert bad.dlq == b.process_many([(b"{", Source("events", 1, 600))]).dlq
    assert bad.labels == [] and bad.dlq[0].reason == "not_json"


# ---------------------------------------------------------------- hot reload


def test_hot_reload_mid_stream() -> None:
    labeler = make_labeler()
    stream = [(r, None) for r in tx_events(6000, seed=5)]
    before_labels = []
    for start in range(0, 3000, 500):
        before_labels += labeler.process_many(stream[start : start + 500]).labels
    acc_before = labeler.model.lf_accuracies()
    reference = copy.deepcopy(labeler.model)

    diff = labeler.set_lfset(tx_lfset(2))

    assert diff.changed == (("big_amount@1", "big_amount@2"),)
    assert diff.removed == ("night@1",) and diff.added == ("everyday@1",)
    acc_after = labeler.model.lf_accuracies()
    for lf_id in ("gambling@1", "crypto@1", "scam_words@1", "refund@1", "small_grocery@1"):
        assert acc_after[lf_id] == acc_before[lf_id]  # untouched, exactly
    # The LFs that left the set are retired.
    assert sorted(labeler.model.lf_ids_) == sorted(tx_lfset(2).ids)
    # The changed LF starts from its predecessor, the added one from the prior.
    reference.add_lf("big_amount@2", predecessor="big_amount@1")
    reference.add_lf("control@1")  # a name the model never saw: the prior
    acc_ref = reference.lf_accuracies()
    assert acc_after["big_amount@2"] == acc_ref["big_amount@2"]
    assert acc_after["everyday@1"] == acc_ref["control@1"]
    assert acc_ref["big_amount@2"] != acc_ref["control@1"]
    theta = reference.lf_precisions()
    assert not np.allclose(theta["big_amount@2"], theta["control@1"])

    after_labels = []
    for start in range(3000, 6000, 500):
        after_labels += labeler.process_many(stream[start : start + 500]).labels
    assert {r.lfset_version for r in before_labels} == {"1"}
    assert {r.lfset_version for r in after_labels} == {"2"}
    assert set().union(*(r.votes for r in before_labels)) <= set(tx_lfset(1).ids)
    v2_votes = set().union(*(r.votes for r in after_labels))
    assert v2_votes <= set(tx_lfset(2).ids) and "everyday@1" in v2_votes
    assert labeler.lfset_swaps_ == 1
    assert "night@1" in labeler.lf_invalid_ and "everyday@1" in labeler.lf_invalid_


def _three_class_set() -> LFSet:
    return load_lfset(
        {
            "name": "tx",
            "version": "9",
            "cardinality": 3,
            "lfs": [
                {
                    "name": "big_amount",
                    "version": "3",
                    "label": 2,
                    "when": {"kind": "threshold", "field": "amount", "op": "gt", "value": 10},
                }
            ],
        }
    )


def _same_id_new_logic() -> LFSet:
    spec = tx_lfset(1).to_spec().model_dump()
    spec["version"] = "7"
    spec["lfs"][2]["when"]["value"] = 99.0  # big_amount@1 with other logic
    return load_lfset(spec)


def _other_name() -> LFSet:
    spec = tx_lfset(2).to_spec().model_dump()
    spec["name"] = "aml"
    return load_lfset(spec)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (_three_class_set, ValueError, "cardinality 3"),
        (_same_id_new_logic, LFVersionError, "bump the LF's version"),
        (_other_name, ValueError, "serves LF set 'tx'"),
    ],
)
def test_refused_swaps_change_nothing(make: Any, error: type[Exception], match: str) -> None:
    labeler = make_labeler()
    labeler.process_many([(r, None) for r in POOL])
    state = (labeler.model.version_, list(labeler.model.lf_ids_), labeler.model.lf_accuracies())
    with pytest.raises(error, match=match):
        labeler.set_lfset(make())
    assert labeler.lfset == tx_lfset(1) and labeler.lfset_swaps_ == 0
    assert state == (
        labeler.model.version_,
        list(labeler.model.lf_ids_),
        labeler.model.lf_accuracies(),
    )
    out = labeler.process_many([(POOL[0], None)])
    assert out.labels[0].lfset_version == "1"


def test_republished_content_changes_only_the_version() -> None:
    labeler = make_labeler()
    labeler.process_many([(r, None) for r in POOL])
    acc = labeler.model.lf_accuracies()
    spec = tx_lfset(1).to_spec().model_dump()
    spec["version"] = "1b"
    assert not labeler.set_lfset(load_lfset(spec))
    assert labeler.model.lf_accuracies() == acc
    assert labeler.process_one(POOL[0]).labels[0].lfset_version == "1b"


# ---------------------------------------------------------------- late gold


def test_feedback_applied_unmatched_and_duplicate() -> None:
    labeler = make_labeler(feedback_cache=1000)
    stream = tx_events(1500, seed=7)
    for start in range(0, 1500, 300):
        labeler.process_many([(r, None) for r in stream[start : start + 300]])
    assert labeler.n_remembered_ == 1000
    balance = labeler.model.class_balance_.copy()

    assert labeler.learn_feedback(FeedbackRecord("tx000001499", 1, "chargeback", 1.0)) is True
    assert not np.array_equal(labeler.model.class_balance_, balance)
    assert labeler.learn_feedback(FeedbackRecord("tx000000500", 0, "investigator", 2.0)) is True
    # Redelivered: the first verdict wins.
    assert labeler.learn_feedback(FeedbackRecord("tx000001499", 0, "investigator", 3.0)) is False
    # Unknown, and evicted (the 500 oldest events are gone).
    assert labeler.learn_feedback(FeedbackRecord("nope", 1, "chargeback", 4.0)) is False
    assert labeler.learn_feedback(FeedbackRecord("tx000000499", 1, "chargeback", 5.0)) is False
    assert (labeler.feedback_applied_, labeler.feedback_unmatched_) == (2, 2)
    assert labeler.feedback_duplicate_ == 1

    with pytest.raises(InvalidEvent) as info:
        labeler.learn_feedback(FeedbackRecord("tx000001400", 2, "chargeback", 6.0))
    assert (info.value.reason, info.value.field) == ("invalid_value", "label")


def test_feedback_uses_the_votes_as_labeled_and_skips_retired_lfs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    labeler = make_labeler()
    out = labeler.process_many([(r, None) for r in POOL])
    night = next(r for r in out.labels if "night@1" in r.votes and len(r.votes) >= 2)
    labeler.set_lfset(tx_lfset(2))  # retires night@1 and big_amount@1
    calls: list[tuple[dict[str, int], int]] = []
    learn_gold = labeler.model.learn_gold

    def spy(votes: Any, y: Any, lf_ids: Any = None) -> None:
        calls.append((dict(votes), y))
        learn_gold(votes, y, lf_ids)

    monkeypatch.setattr(labeler.model, "learn_gold", spy)
    assert labeler.learn_feedback(FeedbackRecord(night.event_id, 1, "chargeback", 0.0))
    ((votes, y),) = calls
    assert y == 1
    kept = set(tx_lfset(1).ids) - {"night@1", "big_amount@1"}
    assert set(votes) == kept  # abstains included, retired LFs skipped
    assert {i: v for i, v in votes.items() if v != ABSTAIN} == {
        i: v for i, v in night.votes.items() if i in kept
    }


def test_feedback_cache_is_exactly_bounded_and_lru() -> None:
    labeler = make_labeler(feedback_cache=10)
    labeler.process_many([(r, None) for r in POOL[:10]])
    labeler.process_one(POOL[0])  # seen again: now the most recent
    labeler.process_many([(r, None) for r in POOL[10:19]])
    assert labeler.n_remembered_ == 10
    assert not labeler.learn_feedback(FeedbackRecord("tx000000001", 1, "cb", 0.0))
    assert labeler.learn_feedback(FeedbackRecord("tx000000000", 1, "cb", 0.0))
    assert labeler.learn_feedback(FeedbackRecord("tx000000018", 1, "cb", 0.0))
    big = make_labeler(feedback_cache=5)
    big.process_many([(r, None) for r in POOL[:50]])  # a batch larger than the cache
    assert big.n_remembered_ == 5
    assert big.learn_feedback(FeedbackRecord("tx000000045", 1, "cb", 0.0))
    assert not big.learn_feedback(FeedbackRecord("tx000000044", 1, "cb", 0.0))
    none = make_labeler(feedback_cache=0)
    none.process_many([(r, None) for r in POOL[:5]])
    assert not none.learn_feedback(FeedbackRecord("tx000000001", 1, "cb", 0.0))
    assert none.n_remembered_ == 0


# ---------------------------------------------------------------- construction, imports


def test_construction_checks_and_registers_the_lfs() -> None:
    with pytest.raises(ValueError, match="cardinality"):
        Labeler(tx_lfset(1), OnlineLabelModel(cardinality=3))
    with pytest.raises(ValueError, match="feedback_cache"):
        make_labeler(feedback_cache=-1)
    with pytest.raises(TypeError, match="LFSet"):
        Labeler(list(tx_lfset(1).lfs), OnlineLabelModel(cardinality=2))  # type: ignore[arg-type]
    labeler = make_labeler()
    assert labeler.model.lf_ids_ == list(tx_lfset(1).ids)
    assert "Labeler(LFSet('tx', '1'" in repr(labeler)


def test_importing_the_pipeline_imports_no_engine() -> None:
    code = (
        "import sys, streamlabel.pipeline\n"
        "banned = {'faust', 'aiokafka', 'kafka', 'mode', 'streamlabel.stream'}\n"
        "print(sorted(m for m in sys.modules if m in banned or m.split('.')[0] in banned))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_use_params_labels_with_them_while_learning_into_its_own_model() -> None:
    labeler = make_labeler()
    other = make_labeler()
    other.process_many([(raw, None) for raw in tx_events(300, seed=5)])
    params = copy.deepcopy(other.model)
    before = copy.deepcopy(params)
    n_own = labeler.model.n_events_

    assert labeler.use_params(params)
    out = labeler.process_many([(raw, None) for raw in POOL[:50]])
    assert {r.labelmodel_version for r in out.labels} == {params.version_}
    for rec in out.labels:
        np.testing.assert_allclose(rec.posterior, params.predict_proba_one(rec.votes), atol=1e-12)
    # The batch was learned by the labeler's own model; the params were not touched.
    assert labeler.model.n_events_ == n_own + 50
    assert params.n_events_ == before.n_events_ and params.version_ == before.version_

    assert not labeler.use_params(None)
    own = labeler.model.version_  # labels come from the model before it learns the batch
    out = labeler.process_many([(raw, None) for raw in POOL[50:60]])
    assert {r.labelmodel_version for r in out.labels} == {own}
    with pytest.raises(ValueError, match="cardinality 3"):
        labeler.use_params(OnlineLabelModel(cardinality=3))


def test_params_predict_with_the_labelers_prior_weight() -> None:
    labeler = make_labeler()
    labeler.model.prior_weight = 1.0
    labeler.model.unanimous_weight = 0.0
    other = make_labeler()  # prior_weight and unanimous_weight 0.5, the defaults
    other.process_many([(raw, None) for raw in tx_events(300, seed=5)])
    params = copy.deepcopy(other.model)
    assert labeler.use_params(params)
    assert (params.prior_weight, params.unanimous_weight) == (1.0, 0.0)
    out = labeler.process_many([(raw, None) for raw in POOL[:50]])
    for rec in out.labels:
        np.testing.assert_allclose(rec.posterior, params.predict_proba_one(rec.votes), atol=1e-12)
    other.model.prior_weight = 1.0
    np.testing.assert_allclose(params.prior_, other.model.prior_)
