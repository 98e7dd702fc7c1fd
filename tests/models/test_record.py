"""The ``models`` topic record: round trip with a real artifact, refusals named."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamlabel.models import (
    CorruptArtifactError,
    EndModel,
    Lineage,
    ModelRecord,
    ModelRecordError,
    ModelVersion,
    PayloadFeaturizer,
    RegistryEntry,
    artifact_sha256,
    decode_model_record,
    dumps_model_artifact,
    encode_model_record,
    loads_model_artifact,
)


def _record() -> tuple[ModelRecord, EndModel]:
    f = PayloadFeaturizer(text_fields=["text"], numeric_fields=["amount"], n_features=64)
    payloads = [{"text": "win a prize", "amount": 9.0}, {"text": "lunch", "amount": 1.0}] * 8
    model = EndModel(f).fit(payloads, np.array([1, 0] * 8))
    sha = artifact_sha256(model)
    v = ModelVersion(
        "v3",
        3,
        10.0,
        {"accuracy": 1.0},
        Lineage("s", "2", "1.5", 16),
        "v2",
        "versions/v3/model.npz",
        sha,
        2,
    )
    e = RegistryEntry("promote", "v3", "v2", "trainer", 11.0, "better by 0.02")
    return ModelRecord("fraud", v, e, dumps_model_artifact(model)), model


def test_round_trip_keeps_a_loadable_verified_artifact() -> None:
    rec, model = _record()
    back = decode_model_record(encode_model_record(rec))
    assert back == rec
    loaded = loads_model_artifact(back.artifact, expected_sha256=back.version.sha256)
    probe = [{"text": "win", "amount": 3.0}]
    np.testing.assert_array_equal(loaded.predict_proba_many(probe), model.predict_proba_many(probe))


def test_tampered_artifact_is_refused_at_load() -> None:
    rec, _ = _record()
    other = ModelRecord(rec.name, rec.version, rec.entry, rec.artifact[:-40] + b"\0" * 40)
    back = decode_model_record(encode_model_record(other))
    with pytest.raises(CorruptArtifactError):
        loads_model_artifact(back.artifact, expected_sha256=back.version.sha256)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.pop("name"), "name"),
        (lambda d: d.update(format="x"), "format"),
        (lambda d: d.update(format_version=2), "format_version"),
        (lambda d: d.update(artifact_b64="***"), "artifact_b64"),
        (lambda d: d.update(artifact_b64=5), "artifact_b64"),
        (lambda d: d["entry"].update(action="delete"), "version/entry"),
        (lambda d: d["entry"].update(version="v9"), "entry"),
        (lambda d: d.update(name=""), "name"),
    ],
)
def test_invalid_records_name_the_field(edit, field) -> None:  # type: ignore[no-untyped-def]
    rec, _ = _record()
    d = json.loads(encode_model_record(rec))
    edit(d)
    with pytest.raises(ModelRecordError, match=f"^{field}:"):
        decode_model_record(json.dumps(d).encode())
