"""Stored hashes follow the configured argon2 cost: a login re-hashes with the current one."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import User
from tests.conftest import ClientFactory
from tests.fixtures.auth import login, register_and_login


async def _stored_hash(db_session: AsyncSession, user_id: int) -> str:
    db_session.expire_all()
    value = await db_session.scalar(select(User.hashed_password).where(User.id == user_id))
    assert value is not None
    return value


async def test_login_upgrades_the_hash_when_the_cost_is_raised(
    client: httpx.AsyncClient, make_client: ClientFactory, db_session: AsyncSession
) -> None:
    user = await register_and_login(client)
    original = await _stored_hash(db_session, user.id)
    assert "$m=19456,t=2,p=1$" in original

    async with make_client(password_hash_time_cost=3, password_hash_memory_kib=20480) as raised:
        assert (await login(raised, user.email, user.password)).status_code == 200
        upgraded = await _stored_hash(db_session, user.id)
        assert "$m=20480,t=3,p=1$" in upgraded
        # Once upgraded, it stays: a second login does not re-hash again.
        assert (await login(raised, user.email, user.password)).status_code == 200
        assert await _stored_hash(db_session, user.id) == upgraded
        # A wrong password never rewrites the hash.
        assert (await login(raised, user.email, "a-wrong-password-1")).status_code == 401
        assert await _stored_hash(db_session, user.id) == upgraded

    # The old parameters still verify the new hash (the parameters live in the hash itself).
    assert (await login(client, user.email, user.password)).status_code == 200
