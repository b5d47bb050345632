"""Login lockout per account and per client IP, stored in the database.

The window is 15 minutes; instead of waiting, the tests age the stored attempts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.audit.models import AuditEvent
from libkoiki.auth.models import AuthSession, LoginAttempt
from tests.conftest import ClientFactory
from tests.fixtures.auth import (
    AuthedUser,
    audit_refuses_logins,
    login,
    register_and_login,
    unique_email,
)

WRONG = "definitely-wrong-password"


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    # The per-IP request rate limit (10 logins a minute) would answer before the lockout does.
    async with make_client(rate_limit_enabled=False) as unlimited:
        yield unlimited


def _from(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def _age_attempts(db_session: AsyncSession, by: timedelta) -> None:
    """Move every stored failure `by` into the past, as if that much time had gone by."""
    for attempt in (await db_session.scalars(select(LoginAttempt))).all():
        attempt.attempted_at -= by
    await db_session.commit()


async def _fail(
    client: httpx.AsyncClient, email: str, times: int, ip: str = "198.51.100.1"
) -> None:
    for _ in range(times):
        response = await login(client, email, WRONG, headers=_from(ip))
        assert response.status_code == 401, response.text


async def test_five_failures_lock_the_account_until_the_window_passes(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await register_and_login(client)
    await _fail(client, user.email, 5)

    locked = await login(client, user.email, user.password, headers=_from("198.51.100.1"))
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_locked"
    retry_after = int(locked.headers["retry-after"])
    assert 15 * 60 - 10 <= retry_after <= 15 * 60
    # The account is locked, not the address: another IP gets the same answer.
    elsewhere = await login(client, user.email, user.password, headers=_from("192.0.2.77"))
    assert elsewhere.status_code == 429

    # Refused attempts are not counted, so the lock does not extend itself.
    assert await db_session.scalar(select(func.count()).select_from(LoginAttempt)) == 5
    await _age_attempts(db_session, timedelta(minutes=10))
    later = await login(client, user.email, user.password)
    assert later.status_code == 429
    assert 290 <= int(later.headers["retry-after"]) <= 300

    await _age_attempts(db_session, timedelta(minutes=5, seconds=1))
    assert (await login(client, user.email, user.password)).status_code == 200

    locks = (
        await db_session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login_locked"))
    ).all()
    assert len(locks) == 1
    assert locks[0].actor_id == user.id


async def test_the_lock_is_shared_by_every_replica(
    client: httpx.AsyncClient, make_client: ClientFactory
) -> None:
    user = await register_and_login(client)
    await _fail(client, user.email, 5)
    async with make_client(rate_limit_enabled=False) as replica:
        response = await login(replica, user.email, user.password)
    assert response.status_code == 429
    assert response.json()["code"] == "login_locked"


async def test_a_successful_login_clears_the_account_counter(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await register_and_login(client)
    await _fail(client, user.email, 4)
    assert (await login(client, user.email, user.password)).status_code == 200
    await _fail(client, user.email, 4)
    assert (await login(client, user.email, user.password)).status_code == 200


async def test_a_login_whose_audit_event_cannot_be_written_leaves_no_session_behind(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    # A successful login clears the failures, opens the session and records the event together:
    # when the event cannot be written, nothing else of the login may remain.
    user = await register_and_login(client)
    sessions_before = await db_session.scalar(
        select(func.count()).select_from(AuthSession).where(AuthSession.user_id == user.id)
    )
    await _fail(client, user.email, 3)

    async with audit_refuses_logins(db_session):
        refused = await login(client, user.email, user.password)
    assert refused.status_code == 500
    assert refused.json()["code"] == "internal_error"
    assert refused.json()["request_id"]

    sessions = await db_session.scalar(
        select(func.count()).select_from(AuthSession).where(AuthSession.user_id == user.id)
    )
    assert sessions == sessions_before
    # The three failures and the refused login's own attempt still count.
    attempts = await db_session.scalar(
        select(func.count()).select_from(LoginAttempt).where(LoginAttempt.email == user.email)
    )
    assert attempts == 4
    assert (await login(client, user.email, user.password)).status_code == 200
    assert (
        await db_session.scalar(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.email == user.email)
        )
        == 0
    )


async def test_twenty_failures_from_one_ip_lock_that_ip_only(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    for _ in range(20):
        # Different unknown accounts each time: only the address ties them together.
        await _fail(client, unique_email("spray"), 1, ip="203.0.113.50")
    from_attacker = await login(client, user.email, user.password, headers=_from("203.0.113.50"))
    assert from_attacker.status_code == 429
    assert from_attacker.json()["code"] == "login_locked"
    assert int(from_attacker.headers["retry-after"]) > 0
    from_elsewhere = await login(client, user.email, user.password, headers=_from("203.0.113.51"))
    assert from_elsewhere.status_code == 200


async def test_limits_come_from_the_settings(make_client: ClientFactory) -> None:
    async with make_client(rate_limit_enabled=False, login_max_failures_per_account=2) as client:
        user: AuthedUser = await register_and_login(client)
        await _fail(client, user.email, 2)
        response = await login(client, user.email, user.password)
    assert response.status_code == 429


async def test_parallel_guesses_cannot_exceed_the_account_budget(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    # Twelve guesses at once from twelve addresses: each is counted before its password is
    # checked, so no more than five can be checked at all.
    user = await register_and_login(client)
    responses = await asyncio.gather(
        *(login(client, user.email, WRONG, headers=_from(f"203.0.113.{n}")) for n in range(12))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(401) == 5, statuses
    assert statuses.count(429) == 7, statuses
    assert all(r.json()["code"] == "login_locked" for r in responses if r.status_code == 429)
    right_password = await login(client, user.email, user.password, headers=_from("203.0.113.99"))
    assert right_password.status_code == 429
    stored = await db_session.scalar(
        select(func.count()).select_from(LoginAttempt).where(LoginAttempt.email == user.email)
    )
    assert stored == 5  # refused attempts are withdrawn and do not prolong the lock
