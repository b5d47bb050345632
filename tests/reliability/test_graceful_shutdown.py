"""SIGTERM to uvicorn while slow requests are in flight: they finish, and the rows match.

Logins are the slow requests: each waits its turn for the password hasher (one at a time here).
Every login records its attempt (and commits) before it hashes, and a successful one deletes it
with the session it creates. So once each login has either answered or left its attempt row, the
server holds every unanswered login: that is when SIGTERM is sent, not after a guessed delay.
"""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.todos.models import Todo
from libkoiki.auth.models import AuthSession, LoginAttempt
from tests.fixtures.auth import DEFAULT_PASSWORD, login, register_and_login, unique_email
from tests.reliability.conftest import AppServerFactory

LOGINS = 12  # under the 20 attempts per address that the lockout allows
CREATES = 30
DEADLINE_SECONDS = 60


async def _count(engine: AsyncEngine, statement: Select[tuple[int]]) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(statement)).scalar_one())


async def _all_reached_the_server(
    engine: AsyncEngine, emails: list[str], logins: list[asyncio.Task[object]]
) -> bool:
    async with engine.connect() as connection:
        recorded = set(
            (
                await connection.execute(
                    select(LoginAttempt.email).where(LoginAttempt.email.in_(emails))
                )
            ).scalars()
        )
    return all(task.done() or email in recorded for email, task in zip(emails, logins, strict=True))


async def test_sigterm_lets_in_flight_requests_finish_and_writes_nothing_half(
    database_url: str, migrated_engine: AsyncEngine, app_server: AppServerFactory
) -> None:
    server = app_server(
        DATABASE_URL=database_url,
        RATE_LIMIT_ENABLED="false",
        # One hash at a time, each slower than the default: the logins queue up in the server.
        PASSWORD_HASH_CONCURRENCY="1",
        PASSWORD_HASH_TIME_COST="6",
    )
    limits = httpx.Limits(max_connections=LOGINS + CREATES + 1)
    async with httpx.AsyncClient(
        base_url=server.url, timeout=DEADLINE_SECONDS, limits=limits
    ) as client:
        owner = await register_and_login(client)
        emails = [unique_email(f"shutdown{i}") for i in range(LOGINS)]
        for email in emails:
            registered = await client.post(
                "/api/v1/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
            )
            assert registered.status_code == 201, registered.text

        async def timed(request: object) -> tuple[httpx.Response | Exception, float]:
            try:
                response = await request  # type: ignore[misc]
            except httpx.HTTPError as exc:
                return exc, time.monotonic()
            return response, time.monotonic()

        logins = [
            asyncio.create_task(timed(login(client, email, DEFAULT_PASSWORD))) for email in emails
        ]
        creates = [
            asyncio.create_task(
                timed(client.post("/api/v1/todos", json={"title": f"t{i}"}, headers=owner.headers))
            )
            for i in range(CREATES)
        ]
        owned_todos = select(func.count()).select_from(Todo).where(Todo.owner_id == owner.id)
        deadline = time.monotonic() + DEADLINE_SECONDS
        # A request still in the socket buffer is not in flight: the server has not read it, and
        # closes its connection on SIGTERM (seen in CI as a few creates cut). So the signal waits
        # until every create is stored (its answer may still be on its way) and every login is
        # held by the server.
        while not (
            await _all_reached_the_server(migrated_engine, emails, logins)
            and await _count(migrated_engine, owned_todos) == CREATES
        ):
            assert time.monotonic() < deadline, "the logins never reached the server"
            await asyncio.sleep(0.01)
        server.process.send_signal(signal.SIGTERM)
        terminated_at = time.monotonic()
        login_results = await asyncio.gather(*logins)
        create_results = await asyncio.gather(*creates)

    # uvicorn re-raises the signal it handled once shutdown is complete: death by SIGTERM, cleanly.
    exit_status = await asyncio.to_thread(server.process.wait, DEADLINE_SECONDS)
    assert exit_status == -signal.SIGTERM, server.log_tail()
    assert "Application shutdown complete" in server.log_tail()
    statuses = [
        getattr(result, "status_code", repr(result)) for result, _ in login_results + create_results
    ]
    assert statuses == [200] * LOGINS + [201] * CREATES, server.log_tail()
    finished_after = sum(1 for _, done in login_results if done > terminated_at)
    print(f"\nlogins still in flight at SIGTERM and completed after it: {finished_after}/{LOGINS}")
    assert finished_after >= 1, "SIGTERM came after every login had finished: nothing was tested"

    # Exactly one session per answered login, one todo per 201: nothing half-written or lost.
    sessions = await _count(
        migrated_engine,
        select(func.count()).select_from(AuthSession).where(AuthSession.user_id != owner.id),
    )
    todos = await _count(migrated_engine, owned_todos)
    assert (sessions, todos) == (LOGINS, CREATES)
