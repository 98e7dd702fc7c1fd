"""Edges of the control API that a mutation review found untested (in-memory backend)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from streamlabel.api import (
    ApiSettings,
    ControlPlane,
    InMemoryBackend,
    Principal,
    TokenError,
    Tokens,
    create_api,
)
from streamlabel.api._model import ControlError

from .test_api import AS_ALICE, SPEC, TOKENS, push, spec_v2

ALICE = Principal("alice", "write")


def state(backend: InMemoryBackend) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was."""
    active = backend.active_lfsets().get("tx")
    return (
        [v.version for v in backend.lfset_versions()],
        [e.action for e in backend.audit()],
        None if active is None or active.version is None else active.version.version,
        dict(backend.candidates()),
    )


# ---------------------------------------------------------------- ControlPlane (CLI path)


def test_a_string_spec_is_refused_and_never_read_as_a_file(tmp_path: Path) -> None:
    """Guards _compile's Mapping check: a string spec must not make load_lfset_spec read a file.

    The HTTP body model already insists on an object; the CLI runs ControlPlane directly.
    """
    path = tmp_path / "tx.json"
    path.write_text(json.dumps(SPEC))
    backend = InMemoryBackend()
    cp = ControlPlane(backend)
    with pytest.raises(ControlError) as info:
        cp.push(str(path), ALICE, "from a file name")
    assert (info.value.status, info.value.field) == (422, "spec")
    assert state(backend) == ([], [], None, {})


def test_an_overlong_reason_is_refused_by_the_control_plane() -> None:
    """Guards MAX_REASON in _check_reason (the CLI path has no request-body limit)."""
    backend = InMemoryBackend()
    cp = ControlPlane(backend)
    with pytest.raises(ControlError) as info:
        cp.push(SPEC, ALICE, "x" * 2001)
    assert (info.value.status, info.value.field) == (422, "reason")
    assert state(backend) == ([], [], None, {})
    assert cp.push(SPEC, ALICE, "x" * 2000)["status"] == "published"


def test_push_refuses_a_spec_of_another_set_than_expected() -> None:
    """Guards push(expected_name=): a spec naming another set is 422 on ``name``."""
    backend = InMemoryBackend()
    cp = ControlPlane(backend)
    with pytest.raises(ControlError) as info:
        cp.push(SPEC, ALICE, "r", expected_name="other")
    assert (info.value.status, info.value.field) == (422, "name")
    assert state(backend) == ([], [], None, {})


# ---------------------------------------------------------------- tokens


@pytest.mark.parametrize("length", [8, 15])
def test_tokens_shorter_than_16_characters_are_refused(length: int) -> None:
    """Guards MIN_TOKEN_LENGTH: 15 characters is too short, 16 is enough."""
    with pytest.raises(TokenError):
        Tokens.parse(f"alice:{'a' * length}:write")
    assert len(Tokens.parse(f"alice:{'a' * 16}:write")) == 1


# ---------------------------------------------------------------- candidates


@pytest.fixture
def backend() -> InMemoryBackend:
    """Return a fresh in-memory backend."""
    return InMemoryBackend()


@pytest.fixture
def client(backend: InMemoryBackend) -> TestClient:
    """Return a client over ``backend`` with SPEC v1 pushed."""
    c = TestClient(create_api(ApiSettings(tokens=TOKENS), backend))
    r = push(c, SPEC, "starter")
    assert r.status_code == 200, r.json()
    return c


def deploy(client: TestClient, **body: Any) -> Any:
    """POST a candidate for ``tx`` as alice."""
    return client.post("/lfsets/tx/candidate", json=body, headers=AS_ALICE)


def test_a_candidate_of_another_cardinality_is_422_and_nothing_is_written(
    client: TestClient, backend: InMemoryBackend
) -> None:
    """Guards deploy_candidate's cardinality check (labelers refuse a change of classes)."""
    before = state(backend)
    bad = {**spec_v2(), "cardinality": 3, "label_names": ["a", "b", "c"]}
    r = deploy(client, reason="three classes", spec=bad)
    assert (r.status_code, r.json()["field"]) == (422, "cardinality"), r.json()
    assert state(backend) == before


def test_a_candidate_with_the_active_content_under_a_new_version_is_409(
    client: TestClient, backend: InMemoryBackend
) -> None:
    """Guards deploy_candidate's content-hash check: the active content is nothing to compare."""
    before = state(backend)
    r = deploy(client, reason="same rules", spec={**copy.deepcopy(SPEC), "version": "7"})
    assert (r.status_code, r.json()["error"]) == (409, "unchanged"), r.json()
    assert state(backend) == before
    assert deploy(client, reason="real change", spec=spec_v2()).status_code == 200


def test_the_control_plane_itself_refuses_a_read_only_principal() -> None:
    """Guards _check_writer in ControlPlane.push/rollback/model_command (not only the route)."""
    backend = InMemoryBackend()
    cp = ControlPlane(backend)
    bob = Principal("bob", "read")
    with pytest.raises(ControlError) as info:
        cp.push(SPEC, bob, "r")
    assert info.value.status == 403
    assert state(backend) == ([], [], None, {})
    cp.push(SPEC, ALICE, "first")
    cp.push(spec_v2(), ALICE, "second")
    before = state(backend)
    for call in (
        lambda: cp.push({**spec_v2(), "version": "3"}, bob, "r"),
        lambda: cp.rollback("tx", "1", bob, "r"),
        lambda: cp.model_command("m", "rollback", bob, "r"),
    ):
        with pytest.raises(ControlError) as info:
            call()
        assert info.value.status == 403
    assert state(backend) == before


@pytest.mark.parametrize("version", [None, ""])
def test_a_model_promotion_without_a_version_is_refused_before_any_command(
    version: str | None,
) -> None:
    """Guards model_command's "a promotion names the version" check (CLI path, no view).

    Without it a command with no version reaches the trainer and the audit log.
    """
    backend = InMemoryBackend()
    cp = ControlPlane(backend)
    with pytest.raises(ControlError) as info:
        cp.model_command("fraud", "promote", ALICE, "ship it", version)
    assert (info.value.status, info.value.field) == (422, "version")
    assert backend.model_commands_ == [] and backend.audit() == []
