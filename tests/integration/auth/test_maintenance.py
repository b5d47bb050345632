"""The purge removes only rows that can no longer matter; live sessions keep working."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.auth.maintenance import purge_expired_auth_state
from libkoiki.auth.models import AuthSession, LoginAttempt, RefreshToken, RevokedAccessToken
from libkoiki.config import Settings
from libkoiki.db import utcnow
from tests.fixtures.auth import AUTH, login, login_as, register_and_login


async def _count(db_session: AsyncSession, model: type) -> int:
    return int(await db_session.scalar(select(func.count()).select_from(model)) or 0)


async def test_purge_keeps_what_matters_now_and_removes_it_later(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await register_and_login(client)
    gone = await login_as(client, user)
    await client.post(f"{AUTH}/logout", headers=gone.headers)
    await login(client, user.email, "a-wrong-password-1")
    await client.post(f"{AUTH}/refresh", json={"refresh_token": user.refresh_token})

    today = await purge_expired_auth_state(db_session, settings)
    assert set(today.values()) == {0}
    me = await client.get(f"{AUTH}/me", headers=user.headers)
    assert me.status_code == 200

    eight_days_on = utcnow() + timedelta(days=8)
    removed = await purge_expired_auth_state(db_session, settings, now=eight_days_on)
    assert removed["auth_sessions"] == 2
    assert removed["auth_refresh_tokens"] == 3
    assert removed["auth_revoked_access_tokens"] == 1
    assert removed["auth_login_attempts"] == 1
    for model in (AuthSession, RefreshToken, RevokedAccessToken, LoginAttempt):
        assert await _count(db_session, model) == 0
