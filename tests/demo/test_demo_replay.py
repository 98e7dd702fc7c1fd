"""The embedded replay: after each push the drifted range is relabeled from the event log."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from streamlabel.demo import DemoConfig, DemoRun, render_report

CFG = DemoConfig(events=6_000, batch_size=200, train_window=2_000)


@pytest.fixture(scope="module")
def runs() -> Any:
    with_replay, without = DemoRun(CFG), DemoRun(DemoConfig(**{**CFG.__dict__, "replay": False}))
    try:
        with_replay.run()
        without.run()
        yield with_replay, without
    finally:
        with_replay.close()
        without.close()


def test_each_push_replays_its_phase_up_to_the_push(runs: Any) -> None:
    run, _ = runs
    r = run.report()
    assert [x["lfset_version"] for x in r["replays"]] == ["2", "3", "4"]
    pushes = {p["lfset_version"]: p["at"] for p in r["pushes"]}
    for x, phase in zip(
        r["replays"], ("tactic_change", "new_pattern", "amount_shift"), strict=True
    ):
        assert (x["from"], x["to"]) == (run.stream.phase(phase).start, pushes[x["lfset_version"]])
        s = x["summary"]
        # Every record of the range is read from the log, malformed inputs included.
        assert s["events"] - s["invalid"] == x["to"] - x["from"] == x["compared"]
        assert s["unlabeled"] == 0 and s["revised"] + s["unchanged"] == x["compared"]
        assert s["revised"] == sum(s["flips"].values())


def test_the_gift_card_fix_flips_fraud_to_legit_and_improves_the_range(runs: Any) -> None:
    run, _ = runs
    tactic = run.report()["replays"][0]
    s = tactic["summary"]
    assert s["revised"] > 0 and set(s["flips"]) == {"1->0"}
    assert "gift_card_cashout" in s["lf_changes"]
    assert tactic["accuracy_after"] > tactic["accuracy_before"]
    # Over all replays the revisions fix more labels than they break.
    before = sum(x["accuracy_before"] * x["compared"] for x in run.replays)
    after = sum(x["accuracy_after"] * x["compared"] for x in run.replays)
    assert after > before
    text = render_report(run.report())
    assert "Replays after each push" in text and "fraud->legit" in text


def test_accuracy_figures_match_the_truth(runs: Any) -> None:
    run, _ = runs
    for x in run.replays:
        idx = np.arange(x["from"], x["to"])
        y = run.y[idx]
        assert x["accuracy_before"] == pytest.approx(float((run.label[idx] == y).mean()))
        # Two classes: each flip makes a wrong label right or a right one wrong, so the
        # change in correct labels has the parity of the flips and is bounded by them.
        delta = round((x["accuracy_after"] - x["accuracy_before"]) * len(idx))
        flips = x["summary"]["revised"]
        assert abs(delta) <= flips and (flips - delta) % 2 == 0, (delta, flips)


def test_a_second_replay_of_the_same_range_revises_nothing(runs: Any) -> None:
    run, _ = runs
    first = run.replays[0]
    again = run.replay(first["from"], first["to"])
    run.replays.pop()  # keep the module's run as it finished
    # By now the range is older than the label memory (twice the training window):
    # its events are unlabeled, which is no revision either.
    assert again["summary"]["revised"] == 0
    assert again["summary"]["unlabeled"] == first["compared"]


def test_replay_never_touches_the_live_labels(runs: Any) -> None:
    run, without = runs
    assert without.replays == [] and without.report()["replays"] == []
    np.testing.assert_array_equal(run.label, without.label)
    assert [p["label_accuracy"] for p in run.report()["phases"]] == [
        p["label_accuracy"] for p in without.report()["phases"]
    ]


def test_revisions_reach_the_trainers_window() -> None:
    run = DemoRun(CFG)
    try:
        for _ in range(1_000):  # bounded: up to the first push's batch
            if run.replays:
                break
            assert run.step()
        assert run.replays, "the first push happened"
        x = run.replays[0]
        window = {ex.event_id: ex for ex in run.window.examples()}
        ids = [run.stream.events[i]["id"] for i in range(x["from"], x["to"])]
        in_window = [window[i] for i in ids if i in window]
        assert len(in_window) > 0.9 * len(ids)
        relabeled = [ex for ex in in_window if ex.lfset_version == "2"]
        assert len(relabeled) == x["summary"]["revised"] > 0
        for ex in relabeled:  # the window holds the revised label, not the emitted one
            i = run._index_of[ex.event_id]
            assert ex.label != run.label[i]
        # The same replay again, with the same model: nothing left to revise (idempotent).
        # (The first re-run may revise: the model learned the push's batch since.)
        run.replay(x["from"], x["to"])
        assert run.replay(x["from"], x["to"])["summary"]["revised"] == 0
    finally:
        run.close()
