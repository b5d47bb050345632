"""The edge and the network: the Ingress carries nginx.conf's limits and routes, NetworkPolicies
admit each tier only from the tiers that call it, disruption budgets never block a drain, and
Prometheus finds the pods its alerts are about."""

from __future__ import annotations

import re
from typing import Any

import httpx

from libkoiki.config import Settings
from tests.deploy.kube.render import ROOT, Rendered
from tests.deploy.kube.workloads import api_environment, pod_spec, workloads

NGINX_CONF = (ROOT / "docker" / "nginx" / "nginx.conf").read_text(encoding="utf-8")
ANNOTATION = "nginx.ingress.kubernetes.io/"


def _nginx_size(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", value).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[unit.lower()]


def _nginx_directive(name: str) -> str:
    match = re.search(rf"^\s*{name}\s+([^;]+);", NGINX_CONF, re.MULTILINE)
    assert match, name
    return match.group(1).strip()


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, selector
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def _pod_labels(overlay: Rendered, component: str) -> dict[str, str]:
    for workload in workloads(overlay):
        template = (
            workload["spec"]["jobTemplate"]["spec"]["template"]
            if workload["kind"] == "CronJob"
            else workload["spec"]["template"]
        )
        labels: dict[str, str] = template["metadata"]["labels"]
        if labels.get("app.kubernetes.io/component") == component:
            return labels
    raise AssertionError(component)


def test_the_ingress_body_limit_is_the_apps(overlay: Rendered) -> None:
    annotations = overlay.one("Ingress", "koiki")["metadata"]["annotations"]
    api = api_environment(overlay)
    limit = _nginx_size(annotations[ANNOTATION + "proxy-body-size"])
    assert limit == int(api["MAX_REQUEST_BODY_BYTES"]) == Settings().max_request_body_bytes
    assert limit == _nginx_size(_nginx_directive("client_max_body_size"))


def test_the_ingress_timeouts_and_retries_are_nginx_confs(overlay: Rendered) -> None:
    annotations = overlay.one("Ingress", "koiki")["metadata"]["annotations"]
    for name in ("proxy_connect_timeout", "proxy_send_timeout", "proxy_read_timeout"):
        assert annotations[ANNOTATION + name.replace("_", "-")] + "s" == _nginx_directive(name)
    assert annotations[ANNOTATION + "proxy-next-upstream"] == _nginx_directive(
        "proxy_next_upstream"
    )
    assert annotations[ANNOTATION + "proxy-next-upstream-tries"] == _nginx_directive(
        "proxy_next_upstream_tries"
    )
    assert annotations[ANNOTATION + "proxy-next-upstream-timeout"] + "s" == _nginx_directive(
        "proxy_next_upstream_timeout"
    )
    assert annotations[ANNOTATION + "force-ssl-redirect"] == "true"


def test_the_ingress_routes_as_nginx_conf_does(overlay: Rendered) -> None:
    (rule,) = overlay.one("Ingress", "koiki")["spec"]["rules"]
    routes = {path["path"]: path["backend"]["service"]["name"] for path in rule["http"]["paths"]}
    api_paths = {path for path, service in routes.items() if service == "koiki-api"}
    assert api_paths == {
        "/api/v1/",
        "/health",
        "/health/ready",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
        "/docs-assets/",
    }
    assert routes["/"] == "koiki-frontend"
    # /metrics is never routed to the API from outside (nginx.conf answers it 404).
    assert not any("/metrics".startswith(path.rstrip("/")) for path in api_paths)
    services = {s["metadata"]["name"] for s in overlay.all("Service")}
    assert set(routes.values()) <= services


async def test_the_probe_paths_are_served_by_the_app(client: httpx.AsyncClient) -> None:
    live = await client.get("/health")
    assert live.status_code == 200
    assert live.json()["status"] == "healthy"
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


def test_every_pod_is_behind_a_network_policy(overlay: Rendered) -> None:
    policies = overlay.all("NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]]
    assert len(deny) == 1
    assert deny[0]["spec"]["policyTypes"] == ["Ingress"]


def _peers(overlay: Rendered, labels: dict[str, str]) -> list[dict[str, Any]]:
    """Every `from` entry of the policies that select pods with these labels."""
    return [
        peer
        for policy in overlay.all("NetworkPolicy")
        if policy["spec"]["podSelector"] and _selects(policy["spec"]["podSelector"], labels)
        for rule in policy["spec"].get("ingress", [])
        for peer in rule["from"]
    ]


def _in_namespace(peers: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [p["podSelector"]["matchLabels"] for p in peers if "namespaceSelector" not in p]


def _namespaces(peers: list[dict[str, Any]]) -> set[str]:
    return {
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for p in peers
        if "namespaceSelector" in p
    }


def test_the_api_is_reached_only_from_the_ingress_the_frontend_and_prometheus(
    overlay: Rendered,
) -> None:
    peers = _peers(overlay, _pod_labels(overlay, "api"))
    assert _in_namespace(peers) == [
        {"app.kubernetes.io/name": "koiki", "app.kubernetes.io/component": "frontend"}
    ]
    assert _selects({"matchLabels": _in_namespace(peers)[0]}, _pod_labels(overlay, "frontend"))
    assert _namespaces(peers) == {"ingress-nginx", "monitoring"}
    frontend_peers = _peers(overlay, _pod_labels(overlay, "frontend"))
    assert _namespaces(frontend_peers) == {"ingress-nginx"}
    assert not _in_namespace(frontend_peers)


def test_the_data_tier_is_reached_only_from_the_api_and_the_jobs(overlay: Rendered) -> None:
    if overlay.overlay == "production-managed":
        assert not overlay.all("Cluster")
        assert not overlay.all("RedisReplication")
        return
    callers = [_pod_labels(overlay, "api"), _pod_labels(overlay, "ops")]
    database_pods = {"cnpg.io/cluster": overlay.one("Cluster", "koiki-db")["metadata"]["name"]}
    redis_pods = {**overlay.one("RedisReplication", "koiki-redis")["metadata"]["labels"]}
    assert overlay.one("RedisSentinel", "koiki-redis")["metadata"]["labels"] == redis_pods
    for pods, operator in ((database_pods, "cnpg-system"), (redis_pods, "redis-operator")):
        peers = _peers(overlay, pods)
        assert peers, pods
        for allowed in _in_namespace(peers):
            admitted = [labels for labels in callers if _selects({"matchLabels": allowed}, labels)]
            assert admitted or allowed.items() <= pods.items(), (pods, allowed)
        assert all(
            any(_selects({"matchLabels": a}, c) for a in _in_namespace(peers)) for c in callers
        )
        assert _namespaces(peers) == {operator, "monitoring"}
        # The frontend never reaches the data.
        frontend = _pod_labels(overlay, "frontend")
        assert not any(_selects({"matchLabels": a}, frontend) for a in _in_namespace(peers))


def test_disruption_budgets_fit_the_autoscalers(overlay: Rendered) -> None:
    """A drain must always be able to evict one pod, and never all of them."""
    for budget in overlay.all("PodDisruptionBudget"):
        name = budget["metadata"]["name"]
        deployment = overlay.one("Deployment", name)
        assert "replicas" not in deployment["spec"], f"{name}: the autoscaler owns the count"
        assert _selects(
            budget["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"]
        )
        autoscaler = overlay.one("HorizontalPodAutoscaler", name)["spec"]
        assert autoscaler["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert autoscaler["minReplicas"] <= autoscaler["maxReplicas"]
        if "minAvailable" in budget["spec"]:
            assert 1 <= budget["spec"]["minAvailable"] < autoscaler["minReplicas"], name
        else:
            assert budget["spec"]["maxUnavailable"] >= 1, name
        strategy = deployment["spec"]["strategy"]["rollingUpdate"]
        assert strategy["maxUnavailable"] == 0
        assert strategy["maxSurge"] >= 1


def test_prometheus_scrapes_the_api_pods_and_every_alert_has_a_runbook(overlay: Rendered) -> None:
    monitor = overlay.one("ServiceMonitor", "koiki-api")["spec"]
    service = overlay.one("Service", "koiki-api")
    assert _selects(monitor["selector"], service["metadata"]["labels"])
    (endpoint,) = monitor["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    secret_keys = overlay.one("Secret", "koiki-secrets")["data"]
    credentials = endpoint["authorization"]["credentials"]
    assert credentials["name"] == overlay.one("Secret", "koiki-secrets")["metadata"]["name"]
    assert credentials["key"] in secret_keys
    docs = (ROOT / "docs" / "kubernetes.md").read_text(encoding="utf-8")
    anchors = {f"#{a}" for a in re.findall(r'<a id="([a-z0-9-]+)"></a>', docs)}
    rules = [
        r
        for g in overlay.one("PrometheusRule", "koiki-kubernetes")["spec"]["groups"]
        for r in g["rules"]
    ]
    assert len(rules) >= 5
    for rule in rules:
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
        link = rule["annotations"]["runbook_url"]
        assert link.startswith("docs/kubernetes.md#")
        assert link.removeprefix("docs/kubernetes.md") in anchors


def test_pods_fit_the_namespaces_pod_security_level(overlay: Rendered) -> None:
    (namespace,) = overlay.all("Namespace")
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] in {"baseline", "restricted"}
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    for workload in workloads(overlay):
        spec = pod_spec(workload)
        assert not spec.get("hostNetwork")
        assert not spec.get("hostPID")
        assert not spec.get("hostIPC")
        assert all("hostPath" not in volume for volume in spec.get("volumes", []))
