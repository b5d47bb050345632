"""The monitoring assets hold together: every alert has a promtool unit test and a runbook section
that its link lands on, the unit tests pass, and the dashboards pass their offline checks."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from tests.monitoring import dashboards
from tests.monitoring.stack import REPO_ROOT, RULES, require_tools

PROMETHEUS_DIR = REPO_ROOT / "docker" / "prometheus"
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*_test.yml"))
OPERATIONS = REPO_ROOT / "docs" / "operations.md"
DASHBOARDS = sorted((REPO_ROOT / "docker" / "grafana" / "dashboards").glob("*.json"))


def _alerts() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown, re.M)
    return {
        re.sub(r"[^\w\- ]", "", heading).strip().lower().replace(" ", "-") for heading in headings
    }


def test_every_alert_has_a_unit_test_severity_and_runbook() -> None:
    tested = {
        case["alertname"]
        for path in RULE_TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", ())
        if case.get("exp_alerts")
    }
    anchors = _anchors(OPERATIONS.read_text())
    alerts = _alerts()
    assert len(alerts) >= 15
    for rule in alerts:
        name = str(rule["alert"])
        assert name in tested, f"{name}: no promtool test expects it to fire"
        assert rule["labels"]["severity"] in ("page", "ticket"), name  # type: ignore[index]
        annotations = rule["annotations"]
        assert annotations["summary"], name  # type: ignore[index]
        assert annotations["description"], name  # type: ignore[index]
        link = annotations["runbook_url"]  # type: ignore[index]
        assert link == f"docs/operations.md#{name.lower()}", name
        assert name.lower() in anchors, f"{name}: no section '{name}' in docs/operations.md"


def test_promtool_unit_tests_pass() -> None:
    require_tools()
    files = [str(path.relative_to(PROMETHEUS_DIR)) for path in RULE_TESTS]
    result = subprocess.run(
        ["promtool", "test", "rules", *files],
        cwd=PROMETHEUS_DIR, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS) == 2


def test_dashboards_pass_offline_checks_and_a_broken_query_does_not(tmp_path: Path) -> None:
    require_tools()
    assert [path.name for path in DASHBOARDS] == [
        "koiki-data.json", "koiki-overview.json", "koiki-security.json",
    ]  # fmt: skip
    assert dashboards.problems(DASHBOARDS) == []
    broken = json.loads(DASHBOARDS[0].read_text())
    broken["uid"] = "broken"
    broken["panels"][0]["targets"][0]["expr"] = "sum(rate(http_requests_total[5m]"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    found = dashboards.problems([path])
    assert len(found) == 1
    assert found[0].startswith("PromQL:")
