"""The embedded demo loop: deterministic, every input accounted for, the script happens."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streamlabel.demo import DemoConfig, DemoRun, EventLog, demo_lfsets
from streamlabel.status import StatusServer

SMALL = DemoConfig(events=6_000, batch_size=200, train_window=2_000)


@pytest.fixture(scope="module")
def finished() -> Any:
    run = DemoRun(SMALL)
    run.run()
    yield run
    run.close()


def _strip_times(report: dict[str, Any]) -> dict[str, Any]:
    report = dict(report)
    report.pop("elapsed_s")
    report["models"] = [{k: v for k, v in m.items() if k != "seconds"} for m in report["models"]]
    return report


def test_same_seed_same_report(finished: DemoRun) -> None:
    again = DemoRun(SMALL)
    try:
        again.run()
        assert _strip_times(again.report()) == _strip_times(finished.report())
    finally:
        again.close()
    other = DemoRun(DemoConfig(events=6_000, batch_size=200, train_window=2_000, seed=1))
    try:
        other.run()
        assert _strip_times(other.report()) != _strip_times(finished.report())
    finally:
        other.close()


def test_every_input_becomes_a_label_or_a_dlq_record(finished: DemoRun) -> None:
    lab = finished.labeler
    dlq = sum(lab.dlq_by_reason_.values())
    assert lab.labels_out_ == finished.n == 6_000
    assert dlq > 0, "the demo injects malformed inputs on purpose"
    assert lab.events_in_ == lab.labels_out_ + dlq == finished.log.appended
    assert (finished.label >= 0).all()
    assert finished.log.backlog == 0 and finished.log.lag() == [0] * SMALL.partitions


def test_the_script_happens(finished: DemoRun) -> None:
    r = finished.report()
    stream = finished.stream
    pushes = {p["lfset_version"]: p["at"] for p in r["pushes"]}
    assert list(pushes) == ["2", "3", "4"]
    for (phase, _), version in zip(
        (("tactic_change", 1), ("new_pattern", 2), ("amount_shift", 3)), "234", strict=True
    ):
        ph = stream.phase(phase)
        assert ph.start <= pushes[version] < ph.stop
    assert finished.labeler.lfset.version == "4"
    served = [m for m in r["models"] if m["served"]]
    assert len(served) >= 2, "a first model and at least one swap"
    assert finished.serving.version == served[-1]["version"]
    assert r["lf_faults"]["country_risk@1"] > 0
    for p in r["phases"]:
        assert p["label_accuracy"] > 0.9
        for lf, a in p["lf_accuracy"].items():
            assert a["true"] is None or 0.0 <= a["true"] <= 1.0, lf
    # gift_card_cashout@1 turns to chance in tactic_change: the truth shows it
    tactic = next(p for p in r["phases"] if p["phase"] == "tactic_change")
    assert tactic["lf_accuracy"]["gift_card_cashout@1"]["true"] < 0.7
    base = next(p for p in r["phases"] if p["phase"] == "baseline")
    assert base["lf_accuracy"]["gift_card_cashout@1"]["true"] > 0.85


def test_snapshot_is_json_and_bounded(finished: DemoRun) -> None:
    snap = finished.snapshot()
    json.dumps(snap, allow_nan=False)
    assert snap["state"] == "finished"
    assert snap["stream"]["events_done"] == 6_000
    assert [lf["id"] for lf in snap["lfs"]] == list(demo_lfsets()[3].ids)
    for lf in snap["lfs"]:
        assert 0 < len(lf["history"]) <= SMALL.history_points
    for name, series in snap["series"].items():
        assert len(series) <= SMALL.history_points, name
    assert snap["series"]["label_accuracy"] and snap["series"]["serving_accuracy"]


def test_event_log_partitions_by_key() -> None:
    log = EventLog(partitions=4)
    for i in range(100):
        log.append(f"card_{i % 7}", b"x", tag=i)
    assert sum(log.lag()) == 100
    batch = log.read(30)
    assert [r.tag for r in batch] == list(range(30))
    by_key: dict[str, set[int]] = {}
    for r in batch:
        by_key.setdefault(r.key, set()).add(r.partition)
    assert all(len(p) == 1 for p in by_key.values())
    assert sum(log.lag()) == log.backlog == 70
    with pytest.raises(ValueError):
        EventLog(partitions=0)


def _scrape(url: str) -> dict[str, list[Any]]:
    text = urllib.request.urlopen(url + "metrics", timeout=10).read().decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def _positive(samples: list[Any], suffix: str = "") -> bool:
    return any(s.value > 0 for s in samples if s.name.endswith(suffix))


def test_metrics_scraped_during_a_run_have_data() -> None:
    """Scrape /metrics over HTTP while the demo runs: every family of the issue has data.

    20,000 events: the drift monitors first fire in the last phase (the fraud rate rise)
    at this size, so drift detections and retraining requests are checked at the end.
    """
    run = DemoRun(DemoConfig(events=20_000, train_window=3_000))
    try:
        with StatusServer(run.snapshot, run.metrics.render) as srv:
            while run.done < 12_000:
                assert run.step()
            fam = _scrape(srv.url)
            assert not run.finished
            for name in (
                "streamlabel_events_processed",
                "streamlabel_labels_emitted",
                "streamlabel_dlq",
                "streamlabel_lf_votes",
                "streamlabel_lf_abstains",
                "streamlabel_lf_faults",
                "streamlabel_lf_invalid",
                "streamlabel_review_items",
                "streamlabel_feedback",
                "streamlabel_retrain_runs",
                "streamlabel_model_swaps",
                "streamlabel_predictions",
            ):
                assert _positive(fam[name], "_total"), name
            for name in (
                "streamlabel_batch_duration_seconds",
                "streamlabel_retrain_duration_seconds",
                "streamlabel_prediction_latency_seconds",
            ):
                assert _positive(fam[name], "_count"), name
            for name in (
                "streamlabel_lf_coverage",
                "streamlabel_lf_estimated_accuracy",
                "streamlabel_labelmodel_class_balance",
                "streamlabel_labelmodel_mean_confidence",
                "streamlabel_model_info",
                "streamlabel_consumer_lag",
                "streamlabel_label_quality_estimated_accuracy",
                "streamlabel_label_quality_estimated_precision",
                "streamlabel_label_quality_gold_accuracy",
                "streamlabel_label_quality_gold_precision",
                "streamlabel_label_quality_calibration_gold",
            ):
                assert _positive(fam[name]), name
            # Calibrated and raw estimates for both classes; the calibrated one and the
            # gold check agree (the demo's labels are ~97% right; raw says ~85%).
            quality = {
                s.labels["estimate"]: s.value
                for s in fam["streamlabel_label_quality_estimated_accuracy"]
            }
            gold = fam["streamlabel_label_quality_gold_accuracy"][0].value
            assert set(quality) == {"calibrated", "raw"}
            assert abs(quality["calibrated"] - gold) < 0.03 < abs(quality["raw"] - gold)
            classes = {s.labels["label"] for s in fam["streamlabel_label_quality_gold_precision"]}
            assert classes == {"legit", "fraud"}
            reasons = {s.labels["reason"] for s in fam["streamlabel_dlq"] if s.value > 0}
            assert len(reasons) >= 3, reasons
            lag = {s.labels["partition"] for s in fam["streamlabel_consumer_lag"]}
            assert lag == {"0", "1", "2"}
            faults = [s for s in fam["streamlabel_lf_faults"] if s.value > 0]
            assert {s.labels["lf"] for s in faults} == {"country_risk"}
            run.run()
            fam = _scrape(srv.url)
            assert _positive(fam["streamlabel_drift_detections"], "_total")
            assert _positive(fam["streamlabel_retrain_requests"], "_total")
            served = [s for s in fam["streamlabel_model_info"] if s.value == 1]
            assert [s.labels["version"] for s in served] == [run.serving.version]
            status = json.loads(urllib.request.urlopen(srv.url + "status.json", timeout=10).read())
            assert status["state"] == "finished"
            page = urllib.request.urlopen(srv.url, timeout=10).read().decode()
            assert "country_risk@1" in page and page.count("<svg") > 10
    finally:
        run.close()
