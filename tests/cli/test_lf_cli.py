"""``streamlabel lf check`` and the parts of ``lf push`` that need no broker."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from streamlabel.cli import build_parser, main
from streamlabel.lf import load_lfset

SPEC: dict[str, Any] = {
    "name": "card-fraud",
    "version": "1",
    "cardinality": 2,
    "label_names": ["legit", "fraud"],
    "resources": {"risky": ["gambling", "crypto"]},
    "lfs": [
        {
            "name": "risky_category",
            "label": 1,
            "when": {"kind": "lookup", "field": "merchant_category", "resource": "risky"},
        },
        {
            "name": "small_grocery",
            "version": "2",
            "label": 0,
            "when": {
                "kind": "all",
                "conditions": [
                    {"kind": "equals", "field": "merchant_category", "value": "grocery"},
                    {"kind": "threshold", "field": "amount", "op": "lt", "value": 100},
                ],
            },
        },
    ],
}

YAML = """\
name: card-fraud
version: 1
cardinality: 2
label_names: {0: legit, 1: fraud}
lfs:
  - name: urgent
    label: 1
    when: {kind: keyword, field: descriptor, keywords: [urgent, wire transfer]}
  - name: bad_regex
    label: 1
    when:
      kind: any
      conditions:
        - {kind: equals, field: country, value: XX}
        - {kind: regex, field: descriptor, pattern: "(a+)+$"}
"""


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens on it once the socket is closed


def write(tmp_path: Path, spec: dict[str, Any], name: str = "lfs.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def test_parser_has_the_lf_verbs() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["lf", "push", "f.yaml", "--set", "s", "--brokers", "h:1", "--reason", "r"]
    )
    assert (args.verb, args.file, args.set, args.brokers, args.prefix) == (
        "push",
        "f.yaml",
        "s",
        "h:1",
        None,
    )
    assert parser.parse_args(["lf", "show", "s", "--json"]).name == "s"
    assert parser.parse_args(["lf", "list"]).timeout == 10.0


def test_check_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SPEC)
    assert main(["lf", "check", str(path)]) == 0
    out = capsys.readouterr().out
    digest = load_lfset(path).content_hash
    assert (
        f"LF set 'card-fraud' version '1' is valid: 2 LFs, 2 classes, content hash {digest[:12]}"
        in out
    )
    lines = out.splitlines()
    assert lines[1].split() == ["LF", "id", "condition", "label", "fields"]
    assert lines[2].split()[:4] == ["risky_category@1", "lookup", "1", "(fraud)"]
    assert lines[3].split()[:4] == ["small_grocery@2", "all", "0", "(legit)"]


def test_check_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SPEC)
    assert main(["lf", "check", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert (report["name"], report["version"], report["n_lfs"]) == ("card-fraud", "1", 2)
    assert report["content_hash"] == load_lfset(path).content_hash
    assert report["lfs"][1] == {
        "id": "small_grocery@2",
        "kind": "all",
        "label": 0,
        "label_name": "legit",
        "fields": ["amount", "merchant_category"],
    }


def test_check_yaml_error_names_lf_field_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "lfs.yaml"
    path.write_text(YAML, encoding="utf-8")
    assert main(["lf", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert err.startswith(
        "streamlabel: error: LF 'bad_regex', field 'when.conditions[1].pattern': "
    ), err
    assert "\n" not in err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: s["lfs"][0].update(label=3),
            "LF 'risky_category', field 'label': label 3 is outside 0..1",
        ),
        (
            lambda s: s["lfs"][0]["when"].update(resource="nope"),
            "LF 'risky_category', field 'when.resource': unknown resource 'nope' "
            "(known: ['risky'])",
        ),
        (
            lambda s: s["lfs"][1]["when"]["conditions"][1].update(op="between"),
            "LF 'small_grocery', field 'when.conditions[1].op': ",
        ),
    ],
)
def test_check_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Any, message: str
) -> None:
    spec = json.loads(json.dumps(SPEC))
    change(spec)
    assert main(["lf", "check", str(write(tmp_path, spec))]) == 2
    assert capsys.readouterr().err.startswith(f"streamlabel: error: {message}")


def test_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lf", "check", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_push_validates_before_any_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on the port: had push connected first, the error would be about
    # the broker (after the timeout); it is the validation error, at once.
    spec = json.loads(json.dumps(SPEC))
    spec["lfs"][0]["label"] = 3
    path = write(tmp_path, spec)
    started = time.monotonic()
    code = main(
        [
            "lf",
            "push",
            str(path),
            "--reason",
            "r",
            "--brokers",
            f"127.0.0.1:{unused_port()}",
            "--timeout",
            "5",
        ]
    )
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        "streamlabel: error: LF 'risky_category', field 'label': label 3 is outside 0..1\n"
    )
    assert elapsed < 2.0


def test_push_set_name_must_match(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SPEC)
    code = main(
        [
            "lf",
            "push",
            str(path),
            "--set",
            "other",
            "--reason",
            "r",
            "--brokers",
            f"127.0.0.1:{unused_port()}",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "--set 'other' does not match the LF set name 'card-fraud'" in err


def test_push_to_an_unreachable_broker_fails_in_bounded_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, SPEC)
    port = unused_port()
    started = time.monotonic()
    code = main(
        [
            "lf",
            "push",
            str(path),
            "--reason",
            "r",
            "--brokers",
            f"127.0.0.1:{port}",
            "--timeout",
            "1",
        ]
    )
    elapsed = time.monotonic() - started
    assert code == 2
    err = capsys.readouterr().err
    assert f"no Kafka broker answers at 127.0.0.1:{port} within 1 s" in err
    assert elapsed < 10


def test_list_and_show_unreachable_broker(capsys: pytest.CaptureFixture[str]) -> None:
    brokers = f"127.0.0.1:{unused_port()}"
    assert main(["lf", "list", "--brokers", brokers, "--timeout", "1"]) == 2
    assert main(["lf", "show", "x", "--brokers", brokers, "--timeout", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("no Kafka broker answers") == 2


def test_broker_flags_are_validated(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lf", "list", "--prefix", "bad/"]) == 2
    assert main(["lf", "list", "--brokers", "nohost"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("streamlabel: error: --prefix 'bad/': ")
    assert err[1] == "streamlabel: error: --brokers 'nohost': broker 'nohost' is not host:port"


def test_settings_from_env_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlabel.cli._lf import _settings

    monkeypatch.setenv("STREAMLABEL_BROKERS", "127.0.0.1:1111")
    monkeypatch.setenv("STREAMLABEL_TOPIC_PREFIX", "env.")
    parser = build_parser()
    env = _settings(parser.parse_args(["lf", "list"]))
    assert (env.bootstrap_servers, env.topic("lfsets")) == (["127.0.0.1:1111"], "env.lfsets")
    flags = _settings(parser.parse_args(["lf", "list", "--brokers", "h:2", "--prefix", ""]))
    assert (flags.bootstrap_servers, flags.topic("lfsets")) == (["h:2"], "lfsets")
