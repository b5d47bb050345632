"""`python -m ops purge-auth-state`: the scheduled clean-up, run the way cron would run it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.auth.models import LoginAttempt
from libkoiki.config import Settings
from libkoiki.db import utcnow
from libkoiki.sso.models import SSOLoginState, SSOPendingLink
from tests.conftest import ClientFactory
from tests.fixtures.auth import login, register_and_login, unique_email
from tests.ops.support import ops_env, run_ops
from tests.support.oidc import ForgingOP
from tests.support.population import offer_to_link


def purge(settings: Settings, cwd: Path) -> str:
    """`python -m ops purge-auth-state` against the test database; what it printed."""
    result = run_ops("purge-auth-state", env=ops_env(DATABASE_URL=settings.database_url), cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_purge_removes_expired_attempts_and_keeps_recent_ones(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    await login(client, "old@example.com", "a-wrong-password-1")
    await login(client, "recent@example.com", "a-wrong-password-1")
    outside_window = utcnow() - timedelta(minutes=settings.login_failure_window_minutes + 1)
    await db_session.execute(
        update(LoginAttempt)
        .where(LoginAttempt.email == "old@example.com")
        .values(attempted_at=outside_window)
    )
    await db_session.commit()

    assert "auth_login_attempts: 1 expired row(s) removed" in purge(settings, tmp_path)
    remaining = (await db_session.scalars(select(LoginAttempt.email))).all()
    assert remaining == ["recent@example.com"]


async def test_purge_removes_sign_ins_abandoned_at_the_identity_provider(
    make_client: ClientFactory,
    forging_op: ForgingOP,
    db_session: AsyncSession,
    settings: Settings,
    tmp_path: Path,
) -> None:
    async with make_client(oidc_providers=[forging_op.provider_entry()]) as client:
        for _ in range(2):
            assert (await client.get("/api/v1/auth/sso/forge/authorize")).status_code == 302
    abandoned = (await db_session.scalars(select(SSOLoginState.state_hash))).first()
    await db_session.execute(
        update(SSOLoginState)
        .where(SSOLoginState.state_hash == abandoned)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db_session.commit()

    assert "sso_login_states: 1 expired row(s) removed" in purge(settings, tmp_path)
    db_session.expire_all()
    assert len((await db_session.scalars(select(SSOLoginState))).all()) == 1


async def test_purge_removes_offers_to_link_that_were_never_taken_up(
    make_client: ClientFactory,
    forging_op: ForgingOP,
    db_session: AsyncSession,
    settings: Settings,
    tmp_path: Path,
) -> None:
    async with make_client(
        oidc_providers=[forging_op.provider_entry()], rate_limit_enabled=False
    ) as client:
        stale = await register_and_login(client, unique_email("purge-stale-offer"))
        fresh = await register_and_login(client, unique_email("purge-fresh-offer"))
        await offer_to_link(client, forging_op, stale.email)
        await offer_to_link(client, forging_op, fresh.email)
    await db_session.execute(
        update(SSOPendingLink)
        .where(SSOPendingLink.user_id == stale.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db_session.commit()

    assert "sso_pending_links: 1 expired row(s) removed" in purge(settings, tmp_path)
    db_session.expire_all()
    assert (await db_session.scalars(select(SSOPendingLink.user_id))).all() == [fresh.id]
