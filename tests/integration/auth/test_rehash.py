"""Stored hashes follow the configured argon2 cost: a login re-hashes with the current one."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import User
from libkoiki.auth.passwords import get_password_hasher
from tests.conftest import ClientFactory, base_settings
from tests.fixtures.auth import AUTH, audit_refuses_logins, login, register_and_login

NEW_PASSWORD = "quartz-meadow-lantern-57"


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


async def test_a_rehash_is_kept_only_with_the_login_it_belongs_to(
    client: httpx.AsyncClient, make_client: ClientFactory, db_session: AsyncSession
) -> None:
    user = await register_and_login(client)
    original = await _stored_hash(db_session, user.id)
    async with make_client(password_hash_time_cost=3, password_hash_memory_kib=20480) as raised:
        async with audit_refuses_logins(db_session):
            refused = await login(raised, user.email, user.password)
        assert refused.status_code == 500
        assert await _stored_hash(db_session, user.id) == original

        assert (await login(raised, user.email, user.password)).status_code == 200
        assert "$m=20480,t=3,p=1$" in await _stored_hash(db_session, user.id)


async def test_a_rehash_never_overwrites_a_password_changed_while_the_login_was_checked(
    client: httpx.AsyncClient,
    make_client: ClientFactory,
    database_url: str,
    db_session: AsyncSession,
) -> None:
    # The login reads the old hash, then waits for its (busy) hashing thread; meanwhile the
    # owner changes the password on another replica. The old password still matched what the
    # login read, but its rehash must not bring the old password back.
    user = await register_and_login(client)
    raised_cost = {
        "password_hash_time_cost": 3,
        "password_hash_memory_kib": 20480,
        "password_hash_concurrency": 1,
    }
    async with make_client(**raised_cost) as raised:
        hasher = get_password_hasher(base_settings(database_url, **raised_cost))  # the app's own
        release = threading.Event()
        busy = asyncio.create_task(hasher.run(release.wait))
        try:
            signing_in = asyncio.create_task(login(raised, user.email, user.password))
            deadline = time.monotonic() + 10
            while REGISTRY.get_sample_value("koiki_password_hashes_pending") != 2:
                assert time.monotonic() < deadline, "the login did not reach the hasher"
                await asyncio.sleep(0.01)
            changed = await client.post(
                f"{AUTH}/password-change",
                json={"current_password": user.password, "new_password": NEW_PASSWORD},
                headers=user.headers,
            )
            assert changed.status_code == 204, changed.text
            after_change = await _stored_hash(db_session, user.id)
        finally:
            release.set()
            await busy
        await signing_in

    assert await _stored_hash(db_session, user.id) == after_change
    assert (await login(client, user.email, user.password)).status_code == 401
    assert (await login(client, user.email, NEW_PASSWORD)).status_code == 200
