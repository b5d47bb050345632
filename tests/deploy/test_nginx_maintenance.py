"""Maintenance behind the production nginx: `ops smoke` through the edge (as an operator, with
`/metrics` checked to be private), the app's maintenance 503 passed through untouched, and
nginx's own maintenance answer (JSON for the API) once every replica is down."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from libkoiki.maintenance.state import MaintenanceState, remove_file, write_file
from tests.deploy.edge import Edge, edge_env, running_edge
from tests.ops.support import ScratchDatabase, ops_env, wait_until
from tests.support.servers import stop_process

pytestmark = pytest.mark.postgres_only
OPERATOR_TOKEN = "edge-operator-token-0123456789ab"


def _in_thread(coroutine: Coroutine[Any, Any, Any]) -> Any:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture
def switch(tmp_path: Path) -> Path:
    return tmp_path / "maintenance.json"


@pytest.fixture
def edge(switch: Path) -> Iterator[Edge]:
    database = ScratchDatabase(os.environ["KOIKI_TEST_DATABASE_URL"], "edgemaint")
    _in_thread(database.create())
    env = edge_env(
        database.url,
        RATE_LIMIT_ENABLED="false",
        # The smoke journey's throwaway account must be able to log in at once.
        REQUIRE_EMAIL_VERIFICATION="false",
        MAINTENANCE_FILE=str(switch),
        MAINTENANCE_OPERATOR_TOKEN=OPERATOR_TOKEN,
    )
    try:
        with running_edge(env, replicas=1) as running:
            yield running
    finally:
        _in_thread(database.drop())


def test_smoke_through_nginx_during_maintenance_then_nginx_answers_alone(
    edge: Edge, switch: Path, tmp_path: Path
) -> None:
    write_file(switch, MaintenanceState(message="restoring", retry_after=90))
    with edge.client() as client:
        assert wait_until(lambda: client.get("/api/v1/todos").status_code == 503, timeout=10)
        passed_through = client.get("/api/v1/todos")
    assert passed_through.json()["detail"] == "restoring"  # the app's answer, not nginx's
    assert passed_through.headers["retry-after"] == "90"

    smoke = subprocess.run(
        [sys.executable, "-m", "ops", "smoke", edge.https, "--edge-url", edge.https],
        env=ops_env(SSL_CERT_FILE=str(edge.ca_file), MAINTENANCE_OPERATOR_TOKEN=OPERATOR_TOKEN),
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "14/14 steps passed" in smoke.stdout
    assert "metrics not public" in smoke.stdout

    remove_file(switch)
    for replica in edge.replicas:
        stop_process(replica)
    with edge.client() as client:
        api = client.get("/api/v1/todos", headers={"X-Request-ID": "all-down-1"})
        site = client.get("/")  # the frontend stand-in still serves
    assert api.status_code == 503
    body = api.json()
    assert body["code"] == "maintenance"
    assert "メンテナンス中" in body["detail"]
    assert body["request_id"] == "all-down-1"
    assert api.headers["retry-after"] == "120"
    assert api.headers["content-type"].startswith("application/json")
    assert site.status_code == 200
