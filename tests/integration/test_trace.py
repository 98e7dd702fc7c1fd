"""``streamlabel trace`` and ``GET /trace/{event_id}`` on the real broker.

The chain of a labeled, revised, predicted and gold-labeled event, read by the CLI and by
the control API (``streamlabel api`` as a subprocess), which answer the same.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from kafka import KafkaProducer
from tests.integration.test_api_service import READ, Api
from tests.integration.test_labeler_service import SPEC, Outputs, Worker, event_json, produce
from tests.integration.worker_setup import worker_settings

from streamlabel.cli import main as cli_main
from streamlabel.datasets import make_transactions
from streamlabel.models import EndModel, PayloadFeaturizer, ServingModel
from streamlabel.pipeline import Predictor, RevisionRecord
from streamlabel.stream._trace import read_trace

pytestmark = pytest.mark.kafka


def test_trace_shows_source_votes_posterior_prediction_and_gold(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = worker_settings(kafka_bootstrap, topic_prefix, tmp_path, batch_size=100, lfset="tx")
    lfset_file = tmp_path / "lfs.json"
    lfset_file.write_text(json.dumps(SPEC))
    settings = settings.model_copy(update={"lfset_file": lfset_file})
    txs = make_transactions(200, seed=8)
    items = [(tx["entity"].encode(), event_json(tx)) for tx in txs]
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    worker = Worker(settings, tmp_path / "worker.log")
    outputs = Outputs(settings)
    try:
        where = produce(producer, settings.topic("events"), items)
        worker.wait_log(r"streamlabel worker ready")
        outputs.poll_until(lambda: len(outputs.labels) >= 200, timeout=90)
        # The predictor's record for every event (the pure core, as the service writes it).
        serving = ServingModel()
        payloads = [json.loads(v)["payload"] for _, v in items]
        f = PayloadFeaturizer(text_fields=["descriptor"], numeric_fields=["amount"], n_features=64)
        model = EndModel(f).fit(payloads, np.array([i % 2 for i in range(len(payloads))]))
        assert serving.swap(model, version="v7").ok
        pred = Predictor("fraud", serving=serving).process_many([(v, None) for _, v in items])
        produce(
            producer,
            settings.topic("predictions"),
            [(p.event_id.encode(), json.dumps(p.to_dict()).encode()) for p in pred.predictions],
        )
        target = txs[17]["id"]
        gold = {"event_id": target, "label": 1, "source": "chargeback", "at": 5.0}
        produce(
            producer, settings.topic("feedback"), [(target.encode(), json.dumps(gold).encode())]
        )

        label = outputs.labels[target]
        # A replay's revision of its label (written to labels, as stream._replay does).
        revision = RevisionRecord(
            target,
            label["entity"],
            label["lfset"],
            label["label"],
            label["posterior"],
            label["votes"],
            label["lfset_version"],
            label["labelmodel_version"],
            1 - label["label"],
            label["posterior"][::-1],
            label["votes"],
            "9",
            "x.1",
            "test fix",
            "r1",
            6.0,
        )
        produce(
            producer,
            settings.topic("labels"),
            [(target.encode(), json.dumps(revision.label_value()).encode())],
        )
        trace = read_trace(settings, target, timeout=30)
        assert [r.value for r in trace.labels] == [label]
        assert [r.value["replay_id"] for r in trace.revisions] == ["r1"]
        current = trace.current_label()
        assert current is not None and current["label"] == 1 - label["label"]
        assert current["source"] == "revision"
        assert trace.event is not None
        assert trace.event.value["id"] == target
        assert (trace.event.partition, trace.event.offset) == where[17]
        assert [r.value["version"] for r in trace.predictions] == ["v7"]
        assert [r.value["label"] for r in trace.feedback] == [1]

        assert (
            cli_main(["trace", target, "--brokers", kafka_bootstrap, "--prefix", topic_prefix]) == 0
        )
        text = capsys.readouterr().out
        assert f"event {target}" in text and "predicted" in text and "gold 1 (chargeback)" in text
        assert f"LF set tx v{label['lfset_version']}" in text
        assert "revised" in text and "replay r1" in text
        assert (
            cli_main(
                ["trace", "no-such-event", "--brokers", kafka_bootstrap, "--prefix", topic_prefix]
            )
            == 2
        )

        # The control API answers the same chain (read role), 404 for an unknown event.
        api = Api(settings, tmp_path / "api.log")
        try:
            code, body = api.call("GET", f"/trace/{target}", token=READ)
            assert code == 200, body
            assert body == read_trace(settings, target, timeout=30).to_dict()
            assert body["found"] and body["event"]["offset"] == where[17][1]
            assert [r["value"]["replay_id"] for r in body["revisions"]] == ["r1"]
            assert [r["value"]["version"] for r in body["predictions"]] == ["v7"]
            assert body["feedback"][0]["value"]["source"] == "chargeback"
            assert body["labels"][0]["value"]["votes"] == label["votes"]
            assert body["current_label"]["label"] == 1 - label["label"]
            code, body = api.call("GET", "/trace/no-such-event", token=READ)
            assert (code, body["error"]) == (404, "not_found")
            assert api.call("GET", f"/trace/{target}")[0] == 401
        finally:
            assert api.stop() == 0
    finally:
        worker.kill()
        outputs.close()
        producer.close()
