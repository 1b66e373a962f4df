"""The alerting rules shipped in deploy/prometheus: valid for Prometheus, unit-tested by promtool,
and the same conditions as the console's alarm band."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hub.console.alarms import CONDITIONS
from tests.conftest import unavailable

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
#: rules without a console condition, with their severity: each watches a figure only in the /metrics of
#: another process, which the console does not read (deploy/prometheus/README.md lists them and says why)
PROMETHEUS_ONLY = {"RabtRetentionFailing": "warning"}


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        unavailable("promtool is not installed (apt-get install prometheus)")
    return path


def test_promtool_accepts_the_rules(promtool):
    result = subprocess.run([promtool, "check", "rules", "rules.yml"], cwd=RULES, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(CONDITIONS) + len(PROMETHEUS_ONLY)} rules found" in result.stdout


def test_promtool_unit_tests_pass(promtool):
    result = subprocess.run([promtool, "test", "rules", "rules.test.yml"], cwd=RULES, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_console_condition_is_a_rule_with_its_severity_and_only_the_listed_rules_are_not():
    rules = yaml.safe_load((RULES / "rules.yml").read_text())["groups"][0]["rules"]
    shipped = {rule["alert"]: rule["labels"]["severity"] for rule in rules}
    assert shipped == {**{c.name: c.severity for c in CONDITIONS}, **PROMETHEUS_ONLY}
    assert not set(PROMETHEUS_ONLY) & {c.name for c in CONDITIONS}
    readme = (RULES / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in PROMETHEUS_ONLY)
