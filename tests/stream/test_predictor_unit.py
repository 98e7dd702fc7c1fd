"""The predictor adapter without a broker: batch outputs, the HTTP routes, the CLI refusal."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer

from streamlabel.cli import main as cli_main
from streamlabel.datasets import make_fraud_stream
from streamlabel.models import (
    EndModel,
    Lineage,
    ModelRecord,
    ModelVersion,
    PayloadFeaturizer,
    RegistryEntry,
    artifact_sha256,
    dumps_model_artifact,
    encode_model_record,
)
from streamlabel.pipeline import Predictor
from streamlabel.stream import (
    PredictorHandler,
    PredictorService,
    RawEvent,
    StartupError,
    StreamSettings,
)

STREAM = make_fraud_stream(300, seed=1)


@pytest.fixture(scope="module")
def model() -> EndModel:
    f = PayloadFeaturizer(text_fields=["descriptor"], numeric_fields=["amount"], n_features=2**8)
    return EndModel(f).fit(STREAM.payloads()[:200], STREAM.y[:200])


def record(model: EndModel, version: str = "v1") -> bytes:
    v = ModelVersion(
        version,
        1,
        0.0,
        {},
        Lineage("s", "1", "1", 200),
        None,
        "-",
        artifact_sha256(model),
        model.n_classes_,
    )
    entry = RegistryEntry("promote", version, None, "test", 0.0, "test")
    return encode_model_record(ModelRecord("fraud", v, entry, dumps_model_artifact(model)))


def test_handler_keys_predictions_by_event_id_and_dlq_by_source(model: EndModel) -> None:
    p = Predictor("fraud")
    p.offer_model(b"fraud", record(model))
    batch = [
        RawEvent(b"c", json.dumps(e).encode(), "p.events", 1, 10 + i)
        for i, e in enumerate(STREAM.events[200:205])
    ]
    batch.append(RawEvent(None, b"[1]", "p.events", 1, 99))
    outs = PredictorHandler(p)(batch)
    preds = [o for o in outs if o.topic == "predictions"]
    assert [o.key for o in preds] == [e["id"].encode() for e in STREAM.events[200:205]]
    assert [o.value["source"]["offset"] for o in preds] == [10, 11, 12, 13, 14]
    expected = model.predict_proba_many(STREAM.payloads()[200:205])
    np.testing.assert_array_equal([o.value["proba"] for o in preds], expected)
    (dlq,) = [o for o in outs if o.topic == "dlq"]
    assert dlq.key == b"p.events:1:99"
    assert (dlq.value["reason"], dlq.value["service"]) == ("not_object", "predictor")


def test_http_routes(model: EndModel) -> None:
    predictor = Predictor("fraud")
    service = PredictorService(StreamSettings(predictor_model="fraud"), predictor)

    async def main() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with TestClient(TestServer(service._web_app())) as client:
            seen["healthz"] = (await client.get("/healthz")).status
            resp = await client.get("/readyz")
            seen["readyz_before"] = resp.status
            resp = await client.post("/predict", data=json.dumps(STREAM.events[250]))
            seen["predict_before"] = (resp.status, (await resp.json())["error"])
            predictor.offer_model(b"fraud", record(model))
            resp = await client.get("/readyz")
            seen["readyz_after"] = (resp.status, await resp.json())
            resp = await client.post("/predict", data=json.dumps(STREAM.events[250:253]))
            seen["predict"] = (resp.status, await resp.json())
            resp = await client.post("/predict", data=b'{"id": "x", "ts": 1, "entity": "e"}')
            seen["invalid"] = (resp.status, await resp.json())
            seen["model"] = await (await client.get("/model")).json()
        return seen

    seen = asyncio.run(main())
    assert seen["healthz"] == 200 and seen["readyz_before"] == 503
    assert seen["predict_before"] == (503, "no_model")
    assert seen["readyz_after"] == (200, {"ready": True, "version": "v1"})
    status, body = seen["predict"]
    assert status == 200 and body["version"] == "v1" and len(body["predictions"]) == 3
    expected = model.predict_proba_many(STREAM.payloads()[250:253])
    np.testing.assert_array_equal([p["proba"] for p in body["predictions"]], expected)
    status, body = seen["invalid"]
    assert status == 422
    assert [(e["field"], e["reason"]) for e in body["errors"]] == [("payload", "missing_field")]
    info = seen["model"]
    assert (info["version"], info["sha256"], info["swaps"]) == ("v1", artifact_sha256(model), 1)
    assert info["events"] == {"reading": False, "batches": 0, "records": 0}


def test_a_predictor_without_a_model_name_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(StartupError, match="PREDICTOR_MODEL"):
        PredictorService(StreamSettings())
    monkeypatch.delenv("STREAMLABEL_PREDICTOR_MODEL", raising=False)
    # Refused before any connection: the broker address is never dialled.
    assert cli_main(["predict", "--brokers", "127.0.0.1:1"]) == 2
    assert "STREAMLABEL_PREDICTOR_MODEL" in capsys.readouterr().err
