"""The app's alert rules reach the cluster's Prometheus unchanged: PrometheusRule koiki-app holds
exactly the groups of docker/prometheus/rules/ (regenerate with
`python -m tests.deploy.kube.alert_rules`), and the cluster's own rules do not repeat them."""

from __future__ import annotations

from tests.deploy.kube.alert_rules import app_groups
from tests.deploy.kube.render import Rendered


def test_the_app_rules_are_the_monitoring_rules_unchanged(overlay: Rendered) -> None:
    rules = {rule["metadata"]["name"]: rule for rule in overlay.all("PrometheusRule")}
    expected = app_groups()
    if not expected:
        assert "koiki-app" not in rules
        return
    assert "koiki-app" in rules, "run: python -m tests.deploy.kube.alert_rules"
    assert rules["koiki-app"]["spec"]["groups"] == expected, (
        "PrometheusRule koiki-app differs from docker/prometheus/rules/: "
        "run python -m tests.deploy.kube.alert_rules"
    )


def test_the_cluster_rules_do_not_repeat_the_apps(overlay: Rendered) -> None:
    app = {rule["expr"].strip() for group in app_groups() for rule in group["rules"]}
    cluster = overlay.one("PrometheusRule", "koiki-kubernetes")["spec"]["groups"]
    repeated = [
        rule["alert"] for group in cluster for rule in group["rules"] if rule["expr"].strip() in app
    ]
    assert not repeated, f"already alerted on by docker/prometheus/rules: {repeated}"
