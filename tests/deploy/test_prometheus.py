"""deploy/prometheus and deploy/grafana: promtool checks and unit-tests the alert rules; every metric the rules and
the dashboard query is one the code registers (a renamed metric breaks this test, not a pager at night)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY, CollectorRegistry

from iep.delivery.breaker import BreakerPolicy, CircuitBreaker, MemoryBreakerStore
from iep.kit.clock import FakeClock
from iep.observability import metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# Every metric IEP seed 003 §16 names, with the labels it names.
SEED_003 = {
    "iep_messages_total": {"status", "tenant", "provider"},
    "iep_message_duration_seconds_bucket": {"le"},
    "iep_queue_depth": {"queue"},
    "iep_provider_errors_total": {"provider", "error_type"},
    "iep_rate_limit_hits_total": {"tenant"},
}
PROMQL_WORDS = {"by", "on", "and", "or", "unless", "without", "le", "bool", "offset", "ignoring", "group_left"}
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created")}


def code_metrics() -> dict[str, set[str]]:
    """Sample name → label names, for every metric the code registers (process, scrape-time, accept, breaker)."""
    registry = CollectorRegistry()
    metrics.ScrapeMetrics(registry)
    metrics.AcceptMetrics(registry)
    breaker = CircuitBreaker(
        MemoryBreakerStore(),
        FakeClock(),
        BreakerPolicy(failure_ratio=0.5, min_calls=5, window_seconds=60, cooldown_seconds=30, probe_timeout_seconds=30),
    )
    registry.register(metrics.BreakerCollector(breaker))
    names: dict[str, set[str]] = {}
    for reg in (registry, REGISTRY):
        for family in reg.collect():
            for suffix in SUFFIXES.get(family.type, ("",)):
                names[family.name + suffix] = set()
    for metric in (
        metrics.MESSAGES,
        metrics.MESSAGE_DURATION,
        metrics.PROVIDER_ERRORS,
        metrics.RENDER_DURATION,
        metrics.WEBHOOK_DELIVERIES,
    ):
        for sample_name in [n for n in names if n.startswith(metric._name)]:
            names[sample_name] = set(metric._labelnames)
    scrape = metrics.ScrapeMetrics(CollectorRegistry())
    names["iep_queue_depth"] = set(scrape.queue_depth._labelnames)
    names["iep_rate_limit_hits_total"] = set(metrics.AcceptMetrics(CollectorRegistry()).rate_limit_hits._labelnames)
    return names


def metric_names(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    without_groupings = re.sub(r"\b(by|on|without|ignoring)\s*\([^)]*\)", "", without_ranges)
    words = set(re.findall(r"\b[a-z_][a-z0-9_]*\b(?!\s*\()", without_groupings))
    return {w for w in words if w.startswith(("iep_", "process_", "python_")) and w not in PROMQL_WORDS}


def test_seed_003_metrics_are_registered_with_their_labels() -> None:
    known = code_metrics()
    for name, labels in SEED_003.items():
        assert name in known, name
        if name.endswith("_bucket"):
            continue
        assert labels <= known[name], (name, known[name])


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: apt-get install prometheus (scripts/programs.txt)"
    return path


def test_promtool_checks_the_rules(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", "alerts.yml"], cwd=DEPLOY / "prometheus", capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


def test_promtool_unit_tests_every_rule(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"], cwd=DEPLOY / "prometheus", capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tests = yaml.safe_load((DEPLOY / "prometheus" / "alerts_test.yml").read_text())["tests"]
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"][0]["rules"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert tested == {rule["alert"] for rule in rules}


def test_the_rules_query_only_metrics_the_code_registers() -> None:
    known = code_metrics()
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"][0]["rules"]
    for rule in rules:
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= set(known), (rule["alert"], names - set(known))


def test_the_dashboard_is_valid_and_queries_only_registered_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "iep.json").read_text())
    known = set(code_metrics())
    titles = {panel["title"] for panel in dashboard["panels"]}
    for wanted in ("Throughput by status", "Queue depth", "Provider errors", "Breaker state (1 = open)"):
        assert wanted in titles
    assert any(t.startswith("Send latency") for t in titles)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, (panel["title"], target["expr"])
            assert names <= known, (panel["title"], names - known)


def test_the_name_extraction_sees_what_it_must() -> None:
    assert metric_names('sum by (le) (rate(iep_x_bucket{a="b"}[5m])) / max(iep_y)') == {"iep_x_bucket", "iep_y"}


def test_promtool_checks_the_compose_scrape_config(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"], cwd=DEPLOY / "prometheus", capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {f"iep-{role}" for role in ("api", "worker", "relay", "webhooks", "smtp")}
