"""`ops smoke` against a real uvicorn on a free loopback port: the whole journey, its table,
its exit status, its clean-up, and how it gets through maintenance as an operator."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import create_app
from app.todos.models import Todo
from libkoiki.accounts.models import User
from libkoiki.maintenance.state import MaintenanceState, write_file
from ops import smoke
from ops.superuser import SuperuserRequest, ensure_first_superuser
from tests.conftest import base_settings
from tests.support.servers import serving

OPERATOR_TOKEN = "operator-token-0123456789abcdef"


async def test_the_journey_passes_and_cleans_up(
    database_url: str, tmp_path: Path, db_session: AsyncSession
) -> None:
    app = create_app(base_settings(database_url, maintenance_file=tmp_path / "m.json"))
    async with serving(app) as port:
        options = smoke.SmokeOptions(base_url=f"http://127.0.0.1:{port}")
        results = await asyncio.to_thread(smoke.run_smoke, options)
    out = io.StringIO()
    smoke.render(results, smoke.step_count(options), out)
    assert smoke.passed(results, options), out.getvalue()
    names = [result.name for result in results]
    assert names[:4] == ["health", "ready", "account", "login"]
    assert "revoked token refused" in names
    assert "docs page" in names
    assert f"{smoke.step_count(options)}/{smoke.step_count(options)} steps passed" in out.getvalue()
    account = next(result for result in results if result.name == "account")
    email = account.detail.split()[0]
    user_id = (await db_session.execute(select(User.id).where(User.email == email))).scalar_one()
    todos = await db_session.execute(select(func.count()).where(Todo.owner_id == user_id))
    assert todos.scalar_one() == 0  # the todo it created is gone


async def test_maintenance_refuses_the_public_and_passes_the_operator(
    database_url: str, tmp_path: Path
) -> None:
    switch = tmp_path / "m.json"
    write_file(switch, MaintenanceState(message="restoring", retry_after=60))
    app = create_app(
        base_settings(
            database_url, maintenance_file=switch, maintenance_operator_token=OPERATOR_TOKEN
        )
    )
    async with serving(app) as port:
        public = smoke.SmokeOptions(base_url=f"http://127.0.0.1:{port}")
        refused = await asyncio.to_thread(smoke.run_smoke, public)
        operator = smoke.SmokeOptions(
            base_url=f"http://127.0.0.1:{port}", operator_token=OPERATOR_TOKEN
        )
        served = await asyncio.to_thread(smoke.run_smoke, operator)
    assert not smoke.passed(refused, public)
    failure = refused[-1]
    assert failure.name == "account"
    assert not failure.ok
    assert "503" in failure.detail
    assert "maintenance: restoring" in failure.detail
    assert smoke.passed(served, operator), served
    ready = next(result for result in served if result.name == "ready")
    assert ready.detail == "ready apart from maintenance (on)"


async def test_edge_serving_metrics_fails_the_run(database_url: str, tmp_path: Path) -> None:
    # The app port itself serves /metrics: given as the "edge", it must fail the last step.
    app = create_app(base_settings(database_url, maintenance_file=tmp_path / "m.json"))
    async with serving(app) as port:
        url = f"http://127.0.0.1:{port}"
        options = smoke.SmokeOptions(base_url=url, edge_url=url)
        results = await asyncio.to_thread(smoke.run_smoke, options)
    assert not smoke.passed(results, options)
    assert results[-1].name == "cleanup: session" or results[-1].name == "metrics not public"
    metrics = next(result for result in results if result.name == "metrics not public")
    assert not metrics.ok
    assert "serves the metrics to anyone" in metrics.detail


async def test_with_verification_required_it_asks_for_a_verified_account(
    database_url: str, tmp_path: Path
) -> None:
    settings = base_settings(
        database_url, maintenance_file=tmp_path / "m.json", require_email_verification=True
    )
    verified = SuperuserRequest(
        email="smoke-verified@example.com", password=f"Smoke-{OPERATOR_TOKEN}"
    )
    await ensure_first_superuser(settings, verified, out=io.StringIO())
    app = create_app(settings)
    async with serving(app) as port:
        throwaway = smoke.SmokeOptions(base_url=f"http://127.0.0.1:{port}")
        refused = await asyncio.to_thread(smoke.run_smoke, throwaway)
        given = smoke.SmokeOptions(
            base_url=f"http://127.0.0.1:{port}", email=verified.email, password=verified.password
        )
        served = await asyncio.to_thread(smoke.run_smoke, given)
    account = next(result for result in refused if result.name == "account")
    assert not account.ok
    assert "set SMOKE_EMAIL/SMOKE_PASSWORD to a verified account" in account.detail
    assert not smoke.passed(refused, throwaway)
    assert smoke.passed(served, given), served
