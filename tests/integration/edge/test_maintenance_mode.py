"""Maintenance mode as users and operators see it: `ops maintenance` throws the switch, every
replica answers 503 `maintenance` for the API, probes and operators pass."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.audit.models import AuditEvent
from libkoiki.config import Settings
from ops import maintenance_mode
from tests.conftest import base_settings
from tests.integration.edge.conftest import EdgeAppFactory, client_for

OPERATOR_TOKEN = "operator-token-0123456789abcdef"
TODOS = "/api/v1/todos"  # not mounted in the edge app: 404 is "the API answered"
STATUS = "/api/v1/maintenance"


@pytest.fixture
def switch_file(tmp_path: Path) -> Path:
    return tmp_path / "maintenance.json"


@pytest.fixture
def ops_settings(database_url: str, switch_file: Path) -> Settings:
    return base_settings(database_url, maintenance_file=switch_file)


@pytest.fixture
async def switch_off_after(ops_settings: Settings) -> AsyncIterator[None]:
    yield
    await maintenance_mode.switch_off(
        ops_settings, by="test", reason="cleanup", out=io.StringIO(), err=io.StringIO()
    )


async def until(check: Callable[[], Any], *, seconds: float = 10) -> None:
    """Poll `check` (an async callable returning truthy) until it holds; fail after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.05)


async def test_on_blocks_the_api_on_every_replica_and_off_restores_it(
    edge_app: EdgeAppFactory,
    ops_settings: Settings,
    switch_file: Path,
    db_session: AsyncSession,
    switch_off_after: None,
) -> None:
    overrides = {"maintenance_file": switch_file, "maintenance_poll_seconds": 0.1}
    async with edge_app(**overrides) as first, edge_app(**overrides) as second:
        replicas = [client_for(first), client_for(second)]
        try:
            before = await replicas[0].get(TODOS)
            assert before.status_code == 404
            status = await replicas[0].get(STATUS)
            assert status.status_code == 200
            assert status.json() == {"maintenance": False}
            assert status.headers["cache-control"] == "no-store"

            code = await maintenance_mode.switch_on(
                ops_settings,
                message="Restoring the database / データベース復旧中",
                retry_after=120,
                by="alice",
                reason="disk failure",
                out=io.StringIO(),
                err=io.StringIO(),
            )
            assert code == 0
            for replica in replicas:

                async def blocked(replica: httpx.AsyncClient = replica) -> bool:
                    return (await replica.get(TODOS)).status_code == 503

                await until(blocked)
                answer = await replica.get(TODOS)
                body = answer.json()
                assert body["code"] == "maintenance"
                assert body["detail"] == "Restoring the database / データベース復旧中"
                assert body["request_id"] == answer.headers["x-request-id"]
                assert answer.headers["retry-after"] == "120"
                status = await replica.get(STATUS)
                assert status.status_code == 503
                assert status.json()["detail"] == body["detail"]
                assert status.headers["retry-after"] == "120"

                health = await replica.get("/health")
                assert health.status_code == 200
                assert health.json()["status"] == "healthy"
                ready = await replica.get("/health/ready")
                assert ready.status_code == 503
                assert ready.json()["checks"]["maintenance"].startswith("on: Restoring")

            await maintenance_mode.switch_off(
                ops_settings, by="alice", reason="restored", out=io.StringIO(), err=io.StringIO()
            )
            for replica in replicas:

                async def open_again(replica: httpx.AsyncClient = replica) -> bool:
                    return (await replica.get(TODOS)).status_code == 404

                await until(open_again)
                ready = await replica.get("/health/ready")
                assert ready.json()["checks"]["maintenance"] == "ok"
        finally:
            for replica in replicas:
                await replica.aclose()

    events = (
        (
            await db_session.execute(
                select(AuditEvent)
                .where(AuditEvent.action.in_(["maintenance.on", "maintenance.off"]))
                .order_by(AuditEvent.id)
            )
        )
        .scalars()
        .all()
    )
    assert [event.action for event in events][-2:] == ["maintenance.on", "maintenance.off"]
    on, off = events[-2:]
    assert on.details["by"] == "alice"
    assert on.details["reason"] == "disk failure"
    assert on.details["retry_after"] == 120
    assert off.details["by"] == "alice"
    assert off.details["reason"] == "restored"


async def test_operators_pass_by_address_or_token(
    edge_app: EdgeAppFactory, ops_settings: Settings, switch_file: Path, switch_off_after: None
) -> None:
    await maintenance_mode.switch_on(
        ops_settings,
        message=None,
        retry_after=None,
        by="bob",
        reason=None,
        out=io.StringIO(),
        err=io.StringIO(),
    )
    async with (
        edge_app(
            maintenance_file=switch_file,
            maintenance_allow_ips=["198.51.100.0/24"],
            maintenance_operator_token=OPERATOR_TOKEN,
        ) as app,
        client_for(app, "198.51.100.7") as operator,
        client_for(app, "203.0.113.10") as public,
    ):
        await until(lambda: _status_is(public, 503))
        refused = await public.get(TODOS)
        assert refused.headers["retry-after"] == "300"
        assert "maintenance" in refused.json()["detail"]
        # The allow-listed address reaches the API itself (404 here).
        assert (await operator.get(TODOS)).status_code == 404
        with_token = await public.get(TODOS, headers={"X-Maintenance-Token": OPERATOR_TOKEN})
        assert with_token.status_code == 404
        wrong = await public.get(TODOS, headers={"X-Maintenance-Token": "x" * 30})
        assert wrong.status_code == 503
        assert wrong.json()["code"] == "maintenance"
        # The status answers the truth to operators too: they pass, the switch is still on.
        told = await operator.get(STATUS, headers={"X-Maintenance-Token": OPERATOR_TOKEN})
        assert told.status_code == 503
        assert told.json()["code"] == "maintenance"


async def test_the_status_is_never_rate_limited(edge_app: EdgeAppFactory) -> None:
    """The frontend's servers ask once a second each, from one address: no limit may count it."""
    async with edge_app(rate_limit_default="5/minute") as app, client_for(app) as client:
        answers = [(await client.get(STATUS)).status_code for _ in range(20)]
        limited = [(await client.get(TODOS)).status_code for _ in range(6)]
    assert answers == [200] * 20
    assert limited[-1] == 429


async def _status_is(client: httpx.AsyncClient, status: int) -> bool:
    return (await client.get(TODOS)).status_code == status


async def test_unreachable_database_still_switches_and_says_the_event_is_missing(
    database_url: str, switch_file: Path, switch_off_after: None
) -> None:
    settings = base_settings(
        "postgresql+asyncpg://nobody@127.0.0.1:1/absent", maintenance_file=switch_file
    )
    err = io.StringIO()
    code = await maintenance_mode.switch_on(
        settings,
        message="down",
        retry_after=60,
        by="carol",
        reason="restore",
        out=io.StringIO(),
        err=err,
    )
    assert code == 0
    assert "audit event maintenance.on NOT recorded" in err.getvalue()
    report = await maintenance_mode.read_switch(settings)
    assert report.on is not None
    assert report.on.by == "carol"
    assert report.on.message == "down"
    status = io.StringIO()
    maintenance_mode.render_status(report, settings, status)
    assert "maintenance: on" in status.getvalue()
    assert "carol" in status.getvalue()


def test_cli_refuses_an_unknown_action_and_changes_nothing(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.ops.support import REPO_ROOT, ops_env

    switch = tmp_path / "maintenance.json"
    env = ops_env(MAINTENANCE_FILE=str(switch), DATABASE_URL="sqlite:///" + str(tmp_path / "x.db"))
    run = subprocess.run(
        [sys.executable, "-m", "ops", "maintenance", "pause"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert "invalid choice: 'pause'" in run.stderr
    assert not switch.exists()
    status = subprocess.run(
        [sys.executable, "-m", "ops", "maintenance", "status"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert status.returncode == 0
    assert status.stdout.startswith("maintenance: off")


async def test_a_replica_started_during_maintenance_refuses_its_first_request(
    edge_app: EdgeAppFactory, ops_settings: Settings, switch_file: Path, switch_off_after: None
) -> None:
    await maintenance_mode.switch_on(
        ops_settings,
        message="still restoring",
        retry_after=30,
        by="dave",
        reason=None,
        out=io.StringIO(),
        err=io.StringIO(),
    )
    # A long poll interval: only the read at start-up can know the switch is on.
    async with (
        edge_app(maintenance_file=switch_file, maintenance_poll_seconds=30) as app,
        client_for(app) as client,
    ):
        first = await client.get(TODOS)
    assert first.status_code == 503
    assert first.json()["detail"] == "still restoring"


async def test_an_unreachable_redis_leaves_the_file_switch_on_and_exits_1(
    database_url: str, switch_file: Path, switch_off_after: None
) -> None:
    # Port 1 on loopback: refused at once.
    settings = base_settings(
        database_url, redis_url="redis://127.0.0.1:1/0", maintenance_file=switch_file
    )
    err = io.StringIO()
    code = await maintenance_mode.switch_on(
        settings,
        message="restoring",
        retry_after=60,
        by="erin",
        reason=None,
        out=io.StringIO(),
        err=err,
    )
    assert code == 1
    assert "Redis could not be written" in err.getvalue()
    assert "only replicas that read" in err.getvalue()
    report = await maintenance_mode.read_switch(settings)
    assert report.file is not None
    assert report.file.by == "erin"
    assert report.redis_error is not None
