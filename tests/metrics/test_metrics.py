"""The metrics bundle: explicit registry, conventions, fed from a real labeler."""

from __future__ import annotations

import prometheus_client
from prometheus_client.parser import text_string_to_metric_families

from streamlabel.datasets import chat_lfsets, fraud_lfsets, make_chat_stream, make_fraud_stream
from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.metrics import Metrics
from streamlabel.pipeline import Labeler


def test_nothing_registered_globally_and_bundles_do_not_collide() -> None:
    before = set(prometheus_client.REGISTRY._names_to_collectors)
    a, b = Metrics(), Metrics()
    a.events_processed.inc(2)
    assert b.registry.get_sample_value("streamlabel_events_processed_total") == 0.0
    assert set(prometheus_client.REGISTRY._names_to_collectors) == before


def test_names_follow_prometheus_conventions() -> None:
    m = Metrics()
    for fam in text_string_to_metric_families(m.render().decode()):
        assert fam.name.startswith("streamlabel_"), fam.name
        if fam.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in fam.samples)
        if "seconds" in fam.name and not fam.name.endswith("_created"):
            assert fam.type == "histogram"


def test_the_pairs_left_out_of_the_fit_are_exposed() -> None:
    # The chat stream's routine_ops and small_talk never vote on the same message: the
    # label model leaves that pair out of its moment fit, and the gauge says so.
    stream = make_chat_stream(6000, seed=1)
    labeler = Labeler(chat_lfsets()[0], OnlineLabelModel(2), clock=lambda: 0.0)
    for lo in range(0, 6000, 1000):
        labeler.process_many([(e, None) for e in stream.events[lo : lo + 1000]])
    m = Metrics()
    m.sync_labeler(labeler)
    pairs = m.registry.get_sample_value("streamlabel_labelmodel_unexplained_pairs")
    assert pairs == labeler.model.unexplained_pairs_ >= 1


def test_sync_from_a_labeler_counts_exactly_once() -> None:
    stream = make_fraud_stream(1200, seed=3)
    lfset = fraud_lfsets()[0]
    labeler = Labeler(lfset, OnlineLabelModel(2), clock=lambda: 0.0)
    m = Metrics(label_names=["legit", "fraud"])
    raws: list[object] = [(e, None) for e in stream.events[:1000]]
    raws += [(b"not json", None)] * 7 + [({"id": "x"}, None)] * 3
    votes = 0
    for lo in range(0, len(raws), 250):
        out = labeler.process_many(raws[lo : lo + 250])  # type: ignore[arg-type]
        m.observe_labels(out.labels, lfset.ids)
        m.sync_labeler(labeler)
        votes += sum(len(r.votes) for r in out.labels)
    m.sync_labeler(labeler)  # a second sync with nothing new adds nothing
    get = m.registry.get_sample_value
    assert get("streamlabel_events_processed_total") == labeler.events_in_ == 1010
    assert get("streamlabel_labels_emitted_total") == 1000
    assert get("streamlabel_dlq_total", {"reason": "not_json"}) == 7
    assert get("streamlabel_dlq_total", {"reason": "missing_field"}) == 3
    total_votes = sum(
        s.value
        for f in text_string_to_metric_families(m.render().decode())
        if f.name == "streamlabel_lf_votes"
        for s in f.samples
        if s.name.endswith("_total")
    )
    assert total_votes == votes
    for lf_id in lfset.ids:
        name, version = lf_id.split("@")
        fired = get("streamlabel_lf_abstains_total", {"lf": name, "version": version}) or 0.0
        assert 0 <= fired <= 1000
    balance = [
        get("streamlabel_labelmodel_class_balance", {"label": c}) for c in ("legit", "fraud")
    ]
    assert abs(sum(balance) - 1.0) < 1e-9  # type: ignore[arg-type]
    assert get("streamlabel_labelmodel_cofiring_ratio") == labeler.model.cofiring_ratio_ > 0
    assert get("streamlabel_labelmodel_intensity_weight") == 0.0  # the fraud LFs: no intensity
    assert get("streamlabel_labelmodel_pair_inflation") == 1.0
    assert get("streamlabel_labelmodel_unexplained_pairs") == labeler.model.unexplained_pairs_
    # The fraud LFs give the model enough views to settle ties itself (6 of 9 here).
    assert get("streamlabel_labelmodel_views") == labeler.model.views_ >= 3
    # The fraud rules' co-firing balance reads far more fraud than majority vote's.
    assert get("streamlabel_labelmodel_balance_agreement") == labeler.model.balance_agreement_


def test_relearned_lfs_are_counted_per_lf_once() -> None:
    stream = make_fraud_stream(500, seed=0)
    lfset = fraud_lfsets()[0]
    labeler = Labeler(lfset, OnlineLabelModel(2), clock=lambda: 0.0)
    labeler.process_many([(e, None) for e in stream.events])
    m = Metrics()
    get = m.registry.get_sample_value
    labeler.forget_lf("gift_card_cashout@1")
    labeler.forget_lf("gift_card_cashout@1")
    assert not labeler.forget_lf("not_in_the_model@1")
    m.sync_labeler(labeler)
    m.sync_labeler(labeler)  # nothing new: nothing added
    labels = {"lf": "gift_card_cashout", "version": "1"}
    assert get("streamlabel_lf_relearned_total", labels) == 2
    assert get("streamlabel_lf_relearned_total", {"lf": "refund", "version": "1"}) is None
    labeler.forget_lf("refund@1")
    m.sync_labeler(labeler)
    assert get("streamlabel_lf_relearned_total", {"lf": "refund", "version": "1"}) == 1
    assert get("streamlabel_lf_relearned_total", labels) == 2
