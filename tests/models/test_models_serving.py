"""ServingModel: verified hot swaps, refused candidates, no failed request under swaps."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from models_helpers import FraudSetup

from streamlabel.models import (
    EndModel,
    ModelRegistry,
    NoModelError,
    PayloadFeaturizer,
    ServingModel,
    save_model_artifact,
)


def test_nothing_serves_before_the_first_swap(fraud: FraudSetup) -> None:
    serving = ServingModel()
    with pytest.raises(NoModelError):
        serving.predict_proba_many(fraud.test[:2])
    assert serving.version is None and serving.current is None


def test_a_corrupt_artifact_is_refused_and_the_champion_keeps_serving(
    fraud: FraudSetup, tmp_path: Path
) -> None:
    good = save_model_artifact(fraud.soft_model, tmp_path / "good.npz").path
    serving = ServingModel()
    assert serving.swap(good, version="v1").ok
    before = serving.predict_proba_many(fraud.test)

    data = bytearray(save_model_artifact(fraud.hard_model, tmp_path / "bad.npz").path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "bad.npz").write_bytes(bytes(data))
    result = serving.swap(tmp_path / "bad.npz", version="v2")
    assert not result.ok and result.version == "v2" and result.serving == "v1"
    assert "not a readable model artifact" in result.reason
    (tmp_path / "short.npz").write_bytes(good.read_bytes()[:1000])
    assert not serving.swap(tmp_path / "short.npz").ok
    assert not serving.swap(tmp_path / "missing.npz").ok

    assert serving.swap_failures_ == 3 and serving.swaps_ == 1
    assert serving.version == "v1" and serving.last_swap_ is not None
    assert not serving.last_swap_.ok
    np.testing.assert_array_equal(serving.predict_proba_many(fraud.test), before)


def test_candidates_failing_the_smoke_test_are_refused(
    fraud: FraudSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving = ServingModel()
    assert serving.swap(fraud.soft_model, version="v1").ok
    # Another number of classes than the model serving.
    three = EndModel(PayloadFeaturizer(numeric_fields=["amount"], n_features=4))
    three.fit(fraud.train[:300], np.arange(300) % 3)
    result = serving.swap(three, version="k3")
    assert not result.ok and "predicts 3 classes" in result.reason
    # Broken weights never reach the smoke test: the artifact check refuses them.
    broken = EndModel(fraud.soft_model.featurizer).fit(fraud.train[:200], np.arange(200) % 2)
    broken.coef_ = np.full_like(broken.coef_, np.nan)
    result = serving.swap(broken, version="nan")
    assert not result.ok and "must be finite" in result.reason
    # A candidate whose probe prediction is wrong, or raises.
    with monkeypatch.context() as m:
        m.setattr(EndModel, "predict_proba_many", lambda self, p: np.full((len(p), 2), 0.7))
        result = serving.swap(fraud.hard_model, version="sum")
    assert not result.ok and "smoke test: probabilities sum to 1.4" in result.reason
    with monkeypatch.context() as m:
        m.setattr(EndModel, "predict_proba_many", lambda self, p: np.full((len(p), 3), 1 / 3))
        result = serving.swap(fraud.hard_model, version="shape")
    assert not result.ok and "shape (1, 3), not (1, 2)" in result.reason
    with monkeypatch.context() as m:
        m.setattr(EndModel, "decision_function", lambda self, p: 1 / 0)
        result = serving.swap(fraud.hard_model, version="crash")
    assert not result.ok and result.reason.startswith("smoke test raised ZeroDivisionError")
    assert serving.swap_failures_ == 5 and serving.version == "v1"
    np.testing.assert_array_equal(
        serving.predict_proba_many(fraud.test), fraud.soft_model.predict_proba_many(fraud.test)
    )


def test_swap_to_registry_versions_checks_the_registered_hash(
    fraud: FraudSetup, tmp_path: Path
) -> None:
    reg = ModelRegistry(tmp_path)
    v1 = reg.register(fraud.soft_model, {}, fraud.lineage)
    v2 = reg.register(fraud.hard_model, {}, fraud.lineage)
    serving = ServingModel(registry=reg)
    assert serving.swap(v1).serving == "v1"
    assert serving.current is not None and serving.current.sha256 == v1.sha256
    save_model_artifact(fraud.gold_model, reg.path_of(v2))  # replaced behind the registry
    result = serving.swap(v2)
    assert not result.ok and "not the artifact that was registered" in result.reason
    assert serving.version == "v1"
    with pytest.raises(TypeError, match="registry"):
        ServingModel().swap(v1)


def test_shadow_scores_alongside_without_serving(fraud: FraudSetup) -> None:
    serving = ServingModel()
    serving.swap(fraud.soft_model, version="champion")
    assert serving.predict_with_shadow(fraud.test[:5]).shadow_proba is None
    assert serving.set_shadow(fraud.hard_model, version="challenger").ok
    out = serving.predict_with_shadow(fraud.test)
    assert (out.version, out.shadow_version) == ("champion", "challenger")
    np.testing.assert_array_equal(out.proba, fraud.soft_model.predict_proba_many(fraud.test))
    assert out.shadow_proba is not None
    np.testing.assert_array_equal(out.shadow_proba, fraud.hard_model.predict_proba_many(fraud.test))
    np.testing.assert_array_equal(serving.predict_proba_many(fraud.test), out.proba)
    # A shadow that fails never fails the request.
    assert serving.shadow is not None
    serving.shadow.model.coef_ = serving.shadow.model.coef_[:, :3]
    out = serving.predict_with_shadow(fraud.test[:5])
    assert out.shadow_proba is None and out.shadow_error is not None
    assert out.proba.shape == (5, 2) and serving.shadow_failures_ == 1
    serving.clear_shadow()
    assert serving.predict_with_shadow(fraud.test[:5]).shadow_version is None


def test_swaps_under_concurrent_requests_fail_no_request(fraud: FraudSetup, tmp_path: Path) -> None:
    paths = {
        "a": save_model_artifact(fraud.soft_model, tmp_path / "a.npz").path,
        "b": save_model_artifact(fraud.hard_model, tmp_path / "b.npz").path,
    }
    batches = [fraud.test[i : i + 25] for i in range(0, 200, 25)]
    expected = {
        "a": [fraud.soft_model.predict_proba_many(b) for b in batches],
        "b": [fraud.hard_model.predict_proba_many(b) for b in batches],
    }
    assert not np.array_equal(expected["a"][0], expected["b"][0])
    serving = ServingModel()
    assert serving.swap(paths["a"], version="a").ok

    # Switch threads every 0.2 ms instead of 5: more interleavings of requests and swaps,
    # and the swapping thread (file reads release the GIL) is not starved by the clients.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    stop = threading.Event()
    lock = threading.Lock()
    served: Counter[str] = Counter()
    errors: list[BaseException] = []
    wrong: list[str] = []

    def client(seed: int) -> None:
        i = seed
        try:
            while not stop.is_set():
                b = i % len(batches)
                i += 1
                version, proba = serving.predict_proba_with_version(batches[b])
                plain = serving.predict_proba_many(batches[b])
                # One request, one model: its output is exactly that version's output.
                if proba.shape != (len(batches[b]), 2) or not np.array_equal(
                    proba, expected[version][b]
                ):
                    wrong.append(f"{version} batch {b}")
                if not any(np.array_equal(plain, expected[v][b]) for v in expected):
                    wrong.append(f"plain batch {b}")
                with lock:
                    served[version] += 1
        except BaseException as exc:  # recorded for the main thread to fail on
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(s,), daemon=True) for s in range(4)]
    for t in threads:
        t.start()
    try:
        for n in range(60):
            version = "b" if n % 2 == 0 else "a"
            with lock:
                seen = served[version]
            assert serving.swap(paths[version], version=version).ok
            # Wait until a request has been served by this version (bounded): both versions
            # must really serve, whatever the thread scheduling.
            for _ in range(2000):
                with lock:
                    if served[version] > seen or errors:
                        break
                stop.wait(0.001)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        sys.setswitchinterval(interval)
    assert not any(t.is_alive() for t in threads)
    assert errors == [] and wrong == []
    assert served["a"] > 30 and served["b"] > 30
    assert serving.swaps_ == 61 and serving.swap_failures_ == 0
