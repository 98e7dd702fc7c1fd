"""Prometheus scrape config and alert rules, the Grafana dashboard: checked against the code.

Without promtool the rules are validated here: shape (alert, expr, for, severity,
summary), durations, balanced PromQL, and every metric an expression names exists in
:class:`streamlabel.metrics.Metrics`. With ``promtool`` on the PATH (or named by
``STREAMLABEL_PROMTOOL``) ``promtool check config``, ``check rules`` and ``test rules``
(``alerts_test.yml``: every alert fires on its series, with its labels and annotations,
and not before) run too; ``STREAMLABEL_REQUIRE_PROMTOOL=1`` makes a missing promtool a
failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from streamlabel.api import ApiSettings
from streamlabel.metrics import SERVICE_PORTS, Metrics
from streamlabel.stream import StreamSettings

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
SERVICES = ("labeler", "aggregator", "trainer", "predictor")

_DURATION = re.compile(r"^(?:[0-9]+(?:ms|s|m|h|d|w|y))+$")
# PromQL words that are not metric names: functions, aggregations, keywords.
_PROMQL_WORDS = frozenset(
    " ".join(
        [
            "sum avg min max count stddev stdvar topk bottomk quantile count_values group",
            "by without on ignoring group_left group_right and or unless bool offset",
            "rate irate increase delta idelta deriv predict_linear histogram_quantile",
            "abs absent absent_over_time ceil floor round clamp clamp_min clamp_max",
            "avg_over_time min_over_time max_over_time sum_over_time count_over_time",
            "last_over_time changes resets time timestamp vector scalar label_replace",
            "label_join sort sort_desc exp ln log2 log10 sqrt inf nan",
        ]
    ).split()
)
# Series Prometheus itself adds to every target.
_BUILTIN_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})


def exposed_names() -> dict[str, str]:
    """Every sample name the Metrics bundle can expose -> its family name."""
    names: dict[str, str] = {}
    for fam in Metrics().registry.collect():
        suffixes = {
            "counter": ("_total", "_created"),
            "histogram": ("_bucket", "_sum", "_count", "_created"),
            "gauge": ("",),
        }[fam.type]
        for suffix in suffixes:
            names[fam.name + suffix] = fam.name
    return names


def balanced(expr: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for ch in re.sub(r'"[^"]*"', '""', expr):
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            return False
    return not stack


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (strings, matchers, groupings, ranges removed)."""
    text = re.sub(r'"[^"]*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", text)
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text))
    return words - _PROMQL_WORDS


def ranges(expr: str) -> list[str]:
    return re.findall(r"\[([^\]]*)\]", expr)


def test_expression_helpers() -> None:
    expr = 'sum by (job, le) (rate(streamlabel_x_total{kind="a(b"}[5m])) / up > bool 0'
    assert metric_names(expr) == {"streamlabel_x_total", "up"}
    assert balanced(expr) and not balanced("sum(rate(x[5m])")
    assert ranges(expr) == ["5m"]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def prometheus() -> dict[str, Any]:
    data = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    data = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data = json.loads((GRAFANA / "dashboards" / "streamlabel.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_every_rule_is_complete_and_names_only_existing_metrics(
    rules: list[dict[str, Any]],
) -> None:
    exposed = exposed_names()
    alerts = [r["alert"] for r in rules]
    assert len(set(alerts)) == len(alerts) and all(a.startswith("Streamlabel") for a in alerts)
    for rule in rules:
        name = rule["alert"]
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, name
        assert _DURATION.match(str(rule["for"])), (name, rule["for"])
        assert rule["labels"]["severity"] in ("info", "warning", "critical"), name
        assert rule["annotations"]["summary"].strip(), name
        assert rule["annotations"]["description"].strip(), name
        expr = rule["expr"]
        assert balanced(expr), name
        for window in ranges(expr):
            assert _DURATION.match(window), (name, window)
        names = metric_names(expr)
        assert names, name
        for metric in names:
            assert metric in exposed or metric in _BUILTIN_SERIES, (name, metric)


def test_the_alerts_the_issue_asks_for_are_there(rules: list[dict[str, Any]]) -> None:
    families = {
        exposed_names()[m] for r in rules for m in metric_names(r["expr"]) if m in exposed_names()
    }
    by_alert = {r["alert"]: r["expr"] for r in rules}
    assert "streamlabel_lf_quarantined" in families
    drift = by_alert["StreamlabelDriftDetected"]
    assert 'streamlabel_drift_detections_total{kind="drift"}' in drift
    assert "streamlabel_model_load_failures" in families
    assert "streamlabel_consumer_lag" in families
    assert "streamlabel_events_processed" in families  # events stopped while lagging


def test_scrape_targets_are_the_services_and_their_metrics_ports(
    compose: dict[str, Any], prometheus: dict[str, Any]
) -> None:
    jobs = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in prometheus["scrape_configs"]
    }
    assert set(jobs) == {*SERVICES, "api"}
    api = compose["services"]["api"]
    api_settings = ApiSettings.from_env(
        environ={k: str(v) for k, v in api["environment"].items() if k != "STREAMLABEL_API_TOKENS"}
    )
    assert api_settings.metrics_enabled and api_settings.host == "0.0.0.0"
    assert jobs["api"] == [f"api:{api_settings.port}"]
    for name in SERVICES:
        service = compose["services"][name]
        env = {k: str(v) for k, v in service["environment"].items()}
        settings = StreamSettings.from_env(environ=env)
        if name == "predictor":  # /metrics on its HTTP server
            host, port = settings.predictor_host, settings.predictor_port
        else:
            host = settings.metrics_host
            port = settings.metrics_port or SERVICE_PORTS[name]
        assert settings.metrics_enabled, name
        assert host == "0.0.0.0", f"{name}: Prometheus reaches it over the compose network"
        assert jobs[name] == [f"{name}:{port}"], name
        # The metrics port itself is not published on the host (only the predictor's API).
        published = {int(m.split(":")[1]) for m in service.get("ports", [])}
        if name != "predictor":
            assert port not in published, name
    assert prometheus["global"]["scrape_interval"]


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> repository path of a service's bind mounts."""
    out = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            out[target] = ROOT / source
    return out


def test_prometheus_mounts_its_config_and_every_rule_file(
    compose: dict[str, Any], prometheus: dict[str, Any]
) -> None:
    service = compose["services"]["prometheus"]
    mounts = _mounts(service)
    flags = dict(a.removeprefix("--").split("=", 1) for a in service["command"])
    config = PurePosixPath(flags["config.file"])
    assert mounts[str(config)] == PROMETHEUS / "prometheus.yml"
    assert prometheus["rule_files"]
    for rule_file in prometheus["rule_files"]:
        in_container = config.parent / rule_file  # relative to the config file
        assert str(in_container) in mounts, rule_file
        assert mounts[str(in_container)].is_file()
        assert mounts[str(in_container)] == PROMETHEUS / rule_file  # the same path locally


def test_grafana_provisions_the_dashboard_on_the_prometheus_datasource(
    compose: dict[str, Any], dashboard: dict[str, Any]
) -> None:
    mounts = _mounts(compose["services"]["grafana"])
    provisioning = mounts["/etc/grafana/provisioning"]
    (provider,) = yaml.safe_load(
        (provisioning / "dashboards" / "streamlabel.yml").read_text(encoding="utf-8")
    )["providers"]
    folder = mounts[provider["options"]["path"]]
    assert (folder / "streamlabel.json").is_file()
    (source,) = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )["datasources"]
    assert source["url"] == "http://prometheus:9090"
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"], panel["title"]


def test_dashboard_panels_are_sound_and_cover_every_family(dashboard: dict[str, Any]) -> None:
    exposed = exposed_names()
    assert dashboard["uid"] == "streamlabel" and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(set(ids)) == len(ids)
    seen: set[str] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(set(refs)) == len(refs), panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            assert balanced(expr), (panel["title"], expr)
            for window in ranges(expr):
                assert window == "$__rate_interval" or _DURATION.match(window), expr
            for metric in metric_names(expr):
                assert metric in exposed, (panel["title"], metric)
                seen.add(exposed[metric])
            if "histogram_quantile" in expr:
                assert "_bucket" in expr and "le" in expr, expr
    families = set(exposed.values())
    assert families - seen == set(), "families without a panel"
    titles = " | ".join(p["title"] for p in dashboard["panels"])
    for needed in ("p50", "p99"):
        assert any(
            needed in t["legendFormat"]
            for p in dashboard["panels"]
            if p["type"] != "row"
            for t in p["targets"]
            if "prediction_latency" in t["expr"]
        ), needed
    assert "Consumer lag per partition" in titles


def test_every_alert_has_a_promtool_unit_test(rules: list[dict[str, Any]]) -> None:
    data = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text(encoding="utf-8"))
    assert data["rule_files"] == ["alerts.yml"]
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in data["tests"]:
        for check in case["alert_rule_test"]:
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
            for alert in check["exp_alerts"]:
                rule = next(r for r in rules if r["alert"] == check["alertname"])
                assert alert["exp_labels"]["severity"] == rule["labels"]["severity"]
    alerts = {r["alert"] for r in rules}
    assert fired == alerts  # each fires on its series...
    assert quiet == alerts  # ...and not before (its `for`, its window)


def _promtool() -> str | None:
    return os.environ.get("STREAMLABEL_PROMTOOL") or shutil.which("promtool")


def test_promtool_checks_config_rules_and_rule_tests() -> None:
    promtool = _promtool()
    if promtool is None:
        msg = "promtool not found (put it on the PATH or set STREAMLABEL_PROMTOOL)"
        if os.environ.get("STREAMLABEL_REQUIRE_PROMTOOL") == "1":
            pytest.fail(f"{msg} and STREAMLABEL_REQUIRE_PROMTOOL=1", pytrace=False)
        pytest.skip(msg)
    for args in (
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ):
        done = subprocess.run(
            [promtool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}{done.stderr}"
