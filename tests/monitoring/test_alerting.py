"""The alert rules proven end to end: a real Prometheus scrapes a real app on loopback, the
database goes away, and KoikiDatabaseUnreachable reaches a webhook through a real Alertmanager;
it resolves when the database returns. The dashboards' queries run on the same Prometheus.

Bounds: the rule waits 30 s (`for: 30s`); scrapes, evaluations and Alertmanager's grouping add a
few seconds, readiness probes (every 0.5 s here, as an orchestrator's) one more. The alert must
arrive within 60 s of the outage and resolve within 30 s of the database's return.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.monitoring.stack import REPO_ROOT, Monitoring, running_monitoring
from tests.ops.support import STRONG_JWT_SECRET, STRONG_SECRET, ops_env
from tests.support.servers import (
    ThrowawayPostgres,
    free_port,
    serves_health,
    start_uvicorn,
    stop_process,
)

pytestmark = pytest.mark.postgres_only

METRICS_TOKEN = "monitoring-test-scrape-token-0123456789"  # a test's own
ALERT_WITHIN_SECONDS = 60
RESOLVED_WITHIN_SECONDS = 30
DASHBOARDS = sorted((REPO_ROOT / "docker" / "grafana" / "dashboards").glob("*.json"))


class Stack:
    def __init__(self, postgres: ThrowawayPostgres, app_url: str, monitoring: Monitoring) -> None:
        self.postgres = postgres
        self.app_url = app_url
        self.monitoring = monitoring


def _probe_readiness(url: str, stop: threading.Event) -> None:
    """What an orchestrator does: /health/ready every half second (it feeds the readiness gauge)."""
    with httpx.Client(timeout=3) as client:
        while not stop.wait(0.5):
            try:
                client.get(f"{url}/health/ready")
            except httpx.TransportError:
                continue


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("monitoring")
    postgres = ThrowawayPostgres().init_and_start()
    stop = threading.Event()
    try:
        database_url = postgres.url.replace("postgresql://", "postgresql+asyncpg://")
        env = ops_env(
            DATABASE_URL=database_url,
            SECRET_KEY=STRONG_SECRET,
            JWT_SECRET=STRONG_JWT_SECRET,
            METRICS_BEARER_TOKEN=METRICS_TOKEN,
            RATE_LIMIT_ENABLED="false",
            HEALTH_CHECK_TIMEOUT_SECONDS="0.5",
        )
        subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        port = free_port()
        log = work / "app.log"
        app = start_uvicorn(port, env, log)
        try:
            deadline = time.monotonic() + 60
            while not serves_health(port):
                assert app.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            url = f"http://127.0.0.1:{port}"
            prober = threading.Thread(target=_probe_readiness, args=(url, stop), daemon=True)
            prober.start()
            with running_monitoring(port, work, metrics_token=METRICS_TOKEN) as monitoring:
                yield Stack(postgres, url, monitoring)
        finally:
            stop.set()
            stop_process(app)
    finally:
        postgres.cleanup()


def _wait_for(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"no {what} within {timeout:g}s")


def _scraped_up(monitoring: Monitoring) -> bool:
    answer = monitoring.query('koiki_readiness_status{job="koiki-api",check="database"}')
    return any(sample["value"][1] == "1" for sample in answer["data"]["result"])


def _dashboard_queries() -> list[tuple[str, str]]:
    queries = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", ()):
                queries.append((f"{path.name}: {panel['title']}", target["expr"]))
    return queries


def test_every_dashboard_query_runs_on_prometheus(stack: Stack) -> None:
    monitoring = stack.monitoring
    _wait_for(lambda: _scraped_up(monitoring), 30, "scrape of the app (bearer token)")
    queries = _dashboard_queries()
    assert len(queries) >= 15, "the three dashboards have their panels"
    for where, expression in queries:
        # Grafana's own variables, as it substitutes them.
        concrete = re.sub(r"\$__rate_interval|\$__interval", "1m", expression)
        answer = monitoring.query(concrete)
        assert answer["status"] == "success", (where, expression, answer)


def test_database_outage_pages_through_alertmanager_and_resolves(stack: Stack) -> None:
    monitoring, webhook = stack.monitoring, stack.monitoring.webhook
    _wait_for(lambda: _scraped_up(monitoring), 30, "scrape of the app")
    assert not webhook.alerts("KoikiDatabaseUnreachable", "firing"), "healthy: nothing fired"

    stack.postgres.stop()
    stopped = time.monotonic()
    fired = _wait_for(
        lambda: webhook.alerts("KoikiDatabaseUnreachable", "firing"),
        ALERT_WITHIN_SECONDS,
        "KoikiDatabaseUnreachable at the webhook",
    )
    fired_after = time.monotonic() - stopped
    alert = fired[0]
    assert alert["labels"]["severity"] == "page"
    assert alert["annotations"]["summary"] == "The database is unreachable"
    assert alert["annotations"]["runbook_url"] == "docs/operations.md#koikidatabaseunreachable"
    # The app answers what it cannot do with a 503, and says so in readiness.
    ready = httpx.get(f"{stack.app_url}/health/ready", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] != "ok"

    stack.postgres.start()
    returned = time.monotonic()
    _wait_for(
        lambda: webhook.alerts("KoikiDatabaseUnreachable", "resolved"),
        RESOLVED_WITHIN_SECONDS,
        "the resolved notification",
    )
    print(  # the measured delays, for the record (-s shows them)
        f"alert after {fired_after:.1f}s, resolved {time.monotonic() - returned:.1f}s after return"
    )
