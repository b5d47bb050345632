"""Configuration as the pods would see it: every setting the app reads is set, .env.example maps
one to one, the example secrets are refused in production and real ones accepted, and the data
tier's URLs name the services the operators create."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from libkoiki.config import Settings
from tests.deploy.kube.render import KUBERNETES, ROOT, Rendered
from tests.deploy.kube.workloads import OPERATOR_SECRETS, api_environment, container, environment

# .env.example's variables that have no meaning on Kubernetes, and what replaces them.
COMPOSE_ONLY = {
    "POSTGRES_USER": "CloudNativePG's bootstrap (owner koiki) or the managed service",
    "POSTGRES_PASSWORD": "Secret koiki-db-app, made by the operator",
    "POSTGRES_DB": "CloudNativePG's bootstrap (database koiki)",
    "EDGE_SUBNET": "TRUSTED_PROXIES is the pod network, narrowed by NetworkPolicy",
    "TLS_CERT_DIR": "the Ingress's TLS Secret",
    "HTTP_PORT": "the ingress controller's Service",
    "HTTPS_PORT": "the ingress controller's Service",
    "APP_PORT": "Service koiki-api",
    "FRONTEND_PORT": "Service koiki-frontend",
    "POSTGRES_PORT": "the operator's services",
    "REDIS_PORT": "the operator's services",
    "KOIKI_IMAGE": "the overlay's images: list",
    "KOIKI_FRONTEND_IMAGE": "the overlay's images: list",
    "PUBLIC_ORIGIN": "the frontend's APP_ORIGIN (ConfigMap koiki-frontend-config)",
    "BUILD_COMMIT": "the image's build argument",
    "POSTGRES_REPLICATION_USER": "CloudNativePG's own streaming replication",
    "POSTGRES_REPLICATION_PASSWORD": "CloudNativePG's own streaming replication",
    "POSTGRES_SYNCHRONOUS_STANDBY_NAMES": "the Cluster's synchronous settings",
    "DB_PRIMARY_HOST": "CloudNativePG's failover (no manual rebuild)",
    "POSTGRES_LOG_MIN_DURATION_MS": "the Cluster's parameters (log_min_duration_statement)",
    "GRAFANA_ADMIN_PASSWORD": "the Prometheus Operator's stack (components/monitoring)",
    "GRAFANA_ADMIN_USER": "the Prometheus Operator's stack (components/monitoring)",
    "GRAFANA_PORT": "the Prometheus Operator's stack (components/monitoring)",
    "PROMETHEUS_PORT": "the Prometheus Operator's stack (components/monitoring)",
    "ALERTMANAGER_PORT": "the Prometheus Operator's stack (components/monitoring)",
    "ALERTMANAGER_SMTP_PASSWORD": "the Prometheus Operator's stack (components/monitoring)",
}
# Settings the image carries itself; an environment must not override them.
IMAGE_SETTINGS = {"BUILD_COMMIT"}
STRONG = {
    "koiki-secrets": {
        "SECRET_KEY": "k8s-test-secret-key-9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "JWT_SECRET": "k8s-test-jwt-secret-0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "REDIS_PASSWORD": "5f0c3a9e1b7d4c2a8e6f0b3d5a7c9e1f",
    }
}


def _example_variables() -> set[str]:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))


def _settings(env: dict[str, str]) -> Settings:
    """Settings from exactly this environment (no .env file, nothing from the test process)."""
    fields = {name.upper(): name for name in Settings.model_fields}
    values = {fields[key]: value for key, value in env.items() if key in fields}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_every_setting_the_app_reads_is_set_for_the_api(overlay: Rendered) -> None:
    env = api_environment(overlay)
    missing = sorted(
        name.upper()
        for name in Settings.model_fields
        if name.upper() not in env and name.upper() not in IMAGE_SETTINGS
    )
    assert not IMAGE_SETTINGS & set(env), "the image's own settings are overridden"
    assert not missing, f"{overlay.overlay}: set these in base/config.env or a Secret: {missing}"


def test_every_variable_of_env_example_has_a_kubernetes_home(overlay: Rendered) -> None:
    api_env = api_environment(overlay)
    migrate_env = environment(overlay, container(overlay, "Deployment", "koiki-api", "migrate"))
    homeless = sorted(
        name
        for name in _example_variables()
        if name not in api_env and name not in migrate_env and name not in COMPOSE_ONLY
    )
    assert not homeless, homeless
    assert not set(COMPOSE_ONLY) - _example_variables(), "COMPOSE_ONLY names a variable gone"


@pytest.mark.parametrize("name", ["staging", "production", "production-managed"])
def test_the_pods_settings_validate_with_real_secrets(
    rendered: dict[str, Rendered], name: str
) -> None:
    overlay = rendered[name]
    env = api_environment(overlay, STRONG)
    settings = _settings(env)
    assert settings.app_env == ("staging" if name == "staging" else "production")
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.rate_limit_strategy == "redis"
    assert settings.redis_url
    # One setting decides whose X-Forwarded-For is believed: uvicorn's and the app's agree.
    assert env["FORWARDED_ALLOW_IPS"] == env["TRUSTED_PROXIES"]
    assert "*" not in settings.trusted_hosts
    assert "*" not in settings.cors_origins


@pytest.mark.parametrize("name", ["staging", "production", "production-managed"])
def test_a_server_serving_the_docs_keeps_their_docstrings(
    rendered: dict[str, Rendered], name: str
) -> None:
    # docker-entrypoint.sh starts the server with PYTHONOPTIMIZE=2 unless told otherwise.
    overlay = rendered[name]
    env = api_environment(overlay, STRONG)
    optimisation = env.get("PYTHONOPTIMIZE", "2")
    assert optimisation == ("0" if _settings(env).docs_on else "2")


@pytest.mark.parametrize("name", ["production", "production-managed"])
def test_production_refuses_the_example_secrets(rendered: dict[str, Rendered], name: str) -> None:
    overlay = rendered[name]
    env = api_environment(overlay)
    with pytest.raises(ValidationError) as refused:
        _settings(env)
    assert "SECRET_KEY is a default/placeholder value" in str(refused.value)


def test_hosts_origins_and_tls_agree(overlay: Rendered) -> None:
    ingress = overlay.one("Ingress", "koiki")["spec"]
    (host,) = {rule["host"] for rule in ingress["rules"]}
    assert ingress["tls"] == [{"hosts": [host], "secretName": "koiki-tls"}]
    api = api_environment(overlay)
    frontend = environment(overlay, container(overlay, "Deployment", "koiki-frontend", "frontend"))
    origin = f"https://{host}"
    assert api["CORS_ORIGINS"] == origin
    assert api["FRONTEND_URL"] == origin
    assert frontend["APP_ORIGIN"] == origin
    # The frontend's server calls the API by its Service; the API accepts that Host.
    base = urlsplit(frontend["NEXT_PUBLIC_API_BASE_URL"])
    service = overlay.one("Service", "koiki-api")
    assert (base.hostname, base.port, base.path) == (
        service["metadata"]["name"],
        service["spec"]["ports"][0]["port"],
        "/api/v1",
    )
    assert set(api["TRUSTED_HOSTS"].split(",")) == {host, "koiki-api"}
    assert frontend["REFRESH_TOKEN_EXPIRE_DAYS"] == api["REFRESH_TOKEN_EXPIRE_DAYS"]


def test_in_cluster_urls_name_the_operators_services(rendered: dict[str, Rendered]) -> None:
    for name in ("staging", "production"):
        overlay = rendered[name]
        env = api_environment(overlay, STRONG)
        cluster = overlay.one("Cluster", "koiki-db")
        database = cluster["spec"]["bootstrap"]["initdb"]["database"]
        # Secret <cluster>-app is the operator's; its uri names <cluster>-rw.
        api = container(overlay, "Deployment", "koiki-api", "api")
        ref = next(entry for entry in api["env"] if entry["name"] == "DATABASE_URL")
        app_secret = f"{cluster['metadata']['name']}-app"
        assert ref["valueFrom"]["secretKeyRef"] == {"name": app_secret, "key": "uri"}
        read = urlsplit(env["DATABASE_READ_URL"])
        assert (read.hostname, read.port, read.path) == ("koiki-db-ro", 5432, f"/{database}")
        assert read.password == OPERATOR_SECRETS["koiki-db-app"]["password"]
        # redis+sentinel://:password@sentinel-0,...,sentinel-N/master-group/db
        sentinel = overlay.one("RedisSentinel", "koiki-redis")
        size = sentinel["spec"]["clusterSize"]
        stateful = f"{sentinel['metadata']['name']}-sentinel"
        url = env["REDIS_URL"]
        assert url.startswith(f"redis+sentinel://:{STRONG['koiki-secrets']['REDIS_PASSWORD']}@")
        hosts = url.split("@", 1)[1].split("/", 1)[0].split(",")
        assert hosts == [f"{stateful}-{i}.{stateful}-headless:26379" for i in range(size)]
        group = sentinel["spec"]["redisSentinelConfig"]["masterGroupName"]
        assert url.rsplit("/", 2)[1:] == [group, "0"]
        assert (
            sentinel["spec"]["redisSentinelConfig"]["redisReplicationName"]
            == overlay.one("RedisReplication", "koiki-redis")["metadata"]["name"]
        )
        assert env["REDIS_SENTINEL_PASSWORD"] == STRONG["koiki-secrets"]["REDIS_PASSWORD"]


def test_postgresql_matches_the_images_pg_dump_and_the_pools(rendered: dict[str, Rendered]) -> None:
    """The backup CronJob's pg_dump is Debian 12's (15): the server must be 15 too. Every API pod
    at the autoscaler's maximum, with its whole pool, plus the jobs, fits max_connections."""
    assert "python:3.11-slim-bookworm" in (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for name in ("staging", "production"):
        overlay = rendered[name]
        cluster = overlay.one("Cluster", "koiki-db")["spec"]
        assert re.search(r"postgresql:15\.\d+", cluster["imageName"]), cluster["imageName"]
        env = api_environment(overlay)
        pool = int(env["DB_POOL_SIZE"]) + int(env["DB_MAX_OVERFLOW"])
        pods = overlay.one("HorizontalPodAutoscaler", "koiki-api")["spec"]["maxReplicas"]
        # maxSurge pods during a rollout, one connection per job and migration, PostgreSQL's own
        # reserved slots (superuser, replication).
        surge = overlay.one("Deployment", "koiki-api")["spec"]["strategy"]["rollingUpdate"][
            "maxSurge"
        ]
        needed = (pods + surge) * pool + 3 + 10 + 10
        assert needed <= int(cluster["postgresql"]["parameters"]["max_connections"]), needed
        assert cluster["instances"] >= 2
        assert cluster["affinity"]["enablePodAntiAffinity"]
        backups = overlay.all("ScheduledBackup")
        assert [b["spec"]["cluster"]["name"] for b in backups] == ["koiki-db"]


def test_the_example_secret_files_hold_placeholders_only() -> None:
    """Nothing real is committed: every value is empty or one the app (or a reader) sees as fake."""
    for path in [
        KUBERNETES / "base" / "secrets.example.env",
        *KUBERNETES.glob("overlays/*/*.example.env"),
    ]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line or line.startswith("#"):
                continue
            _key, value = line.split("=", 1)
            assert value == "" or "change" in value or value.startswith("your-"), (path.name, line)
