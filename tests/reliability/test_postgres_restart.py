"""PostgreSQL restarts while a bounded loop creates todos through a real uvicorn.

The cluster is a throwaway one of the test's own (the shared one serves everybody's tests), stopped
with `pg_ctl -m immediate` (a crash, harsher than `pg_ctlcluster restart`'s fast shutdown) and
started again on the same port. The app is never restarted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from alembic import command

from libkoiki.db.migrations import alembic_config
from tests.fixtures.auth import register_and_login
from tests.reliability.conftest import AppServerFactory
from tests.support.servers import ThrowawayPostgres

pytestmark = pytest.mark.postgres_only

WORKERS = 4
CREATES_BEFORE_STOP = 40
DOWN_FOR_SECONDS = 2.0
CREATES_AFTER_RETURN = 40
LOOP_DEADLINE_SECONDS = 120
# The bound: requests succeed again within 5 s of PostgreSQL's return. Measured: the
# first create after `pg_ctl start` returns succeeds within a few hundred ms on a loaded machine
# (each pooled connection is pinged on checkout, so a dead one is replaced in the same request).
RECOVERY_BOUND_SECONDS = 5.0
TODOS = "/api/v1/todos"


@dataclass(frozen=True)
class Outcome:
    sent_at: float
    done_at: float
    status: int
    code: str | None
    todo_id: int | None


@pytest.fixture
def own_postgres() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres().init_and_start()
    yield server
    server.cleanup()


async def test_a_postgres_restart_under_load_loses_no_created_todo(
    own_postgres: ThrowawayPostgres, app_server: AppServerFactory
) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(own_postgres.url), "head")
    # Rate limiting is not under test: the load comes from one address on purpose.
    server = app_server(
        DATABASE_URL=own_postgres.url, RATE_LIMIT_ENABLED="false", LOG_FORMAT="json"
    )
    outcomes: list[Outcome] = []
    transport_errors: list[str] = []
    stop = asyncio.Event()
    deadline = time.monotonic() + LOOP_DEADLINE_SECONDS

    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        user = await register_and_login(client)

        async def creator(worker: int) -> None:
            number = 0
            while not stop.is_set() and time.monotonic() < deadline:
                number += 1
                sent = time.monotonic()
                try:
                    response = await client.post(
                        TODOS, json={"title": f"w{worker}-{number}"}, headers=user.headers
                    )
                except httpx.TransportError as exc:
                    transport_errors.append(f"w{worker}-{number}: {exc!r}")
                    continue
                json_body = response.headers.get("content-type") == "application/json"
                body = response.json() if json_body else {}
                outcomes.append(
                    Outcome(
                        sent,
                        time.monotonic(),
                        response.status_code,
                        body.get("code"),
                        body.get("id") if response.status_code == 201 else None,
                    )
                )
                if response.status_code == 503:
                    await asyncio.sleep(0.05)  # a client backing off, not a hot loop

        async def until(predicate: Callable[[], bool], what: str) -> None:
            while not predicate():
                assert time.monotonic() < deadline, f"gave up waiting for {what}"
                await asyncio.sleep(0.02)

        def created_since(moment: float) -> int:
            return sum(1 for o in outcomes if o.status == 201 and o.sent_at > moment)

        workers = [asyncio.create_task(creator(w)) for w in range(WORKERS)]
        try:
            await until(lambda: created_since(0) >= CREATES_BEFORE_STOP, "creates before the stop")
            # Twice: from its second use the list's statement runs on the driver (ReaderDep).
            listed = [await client.get(TODOS, headers=user.headers) for _ in range(2)]
            await asyncio.to_thread(own_postgres.stop)
            stopped_at = time.monotonic()
            await until(
                lambda: sum(1 for o in outcomes if o.sent_at > stopped_at) >= WORKERS,
                "answers while PostgreSQL is down",
            )
            ready = await client.get("/health/ready")
            alive = await client.get("/health")
            listed_down = await client.get(TODOS, headers=user.headers)
            await asyncio.sleep(max(0.0, DOWN_FOR_SECONDS - (time.monotonic() - stopped_at)))
            restarting_at = time.monotonic()
            await asyncio.to_thread(own_postgres.start)  # returns once it accepts connections
            returned_at = time.monotonic()
            await until(
                lambda: created_since(returned_at) >= CREATES_AFTER_RETURN, "creates after return"
            )
        finally:
            stop.set()
            await asyncio.gather(*workers)
        ready_again = await client.get("/health/ready")
        listed_again = await client.get(TODOS, headers=user.headers)

    # Readiness named the database while it was down; liveness never wavered.
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] != "ok"
    assert alive.status_code == 200
    assert ready_again.status_code == 200, ready_again.text
    # Reads outside a transaction say the same: 503 while it is down, rows once it is back.
    assert [response.status_code for response in listed] == [200, 200]
    assert (listed_down.status_code, listed_down.json()["code"]) == (503, _UNAVAILABLE)
    assert listed_again.status_code == 200, listed_again.text

    # Every answer was a 201 or a 503 database_unavailable: no 500, no dropped connection.
    print(_tally(outcomes), transport_errors[:3])
    print(server.log_tail())
    assert transport_errors == []
    unexpected = [
        o for o in outcomes if (o.status, o.code) not in {(201, None), (503, _UNAVAILABLE)}
    ]
    assert unexpected == [], f"{unexpected[:5]}\n{server.log_tail()}"
    during = [o for o in outcomes if stopped_at < o.sent_at and o.done_at < restarting_at]
    assert during
    assert all(o.status == 503 for o in during)

    first_success = min(o.done_at for o in outcomes if o.status == 201 and o.done_at > returned_at)
    recovery = first_success - returned_at
    print(f"\nrecovery after PostgreSQL's return: {recovery * 1000:.0f} ms; {_tally(outcomes)}")
    assert recovery < RECOVERY_BOUND_SECONDS
    late_failures = [
        o for o in outcomes if o.sent_at > returned_at + RECOVERY_BOUND_SECONDS and o.status != 201
    ]
    assert late_failures == []

    # Every todo whose create answered 201 is in the database.
    created = {o.todo_id for o in outcomes if o.status == 201}
    connection = await asyncpg.connect(own_postgres.url)
    try:
        stored = {
            row["id"]
            for row in await connection.fetch("SELECT id FROM todos WHERE owner_id = $1", user.id)
        }
    finally:
        await connection.close()
    assert created <= stored, f"lost: {sorted(created - stored)[:10]}"
    assert listed_again.json()["total"] == len(stored)  # and the list (the driver path) says so
    # A create whose commit reached PostgreSQL just before the crash may have answered 503:
    # stored, but not promised. Anything beyond those would be a phantom write.
    assert len(stored - created) <= sum(1 for o in outcomes if o.status == 503)


_UNAVAILABLE = "database_unavailable"


def _tally(outcomes: list[Outcome]) -> dict[str, int]:
    tally: dict[str, int] = {}
    for outcome in outcomes:
        key = f"{outcome.status} {outcome.code or ''}".strip()
        tally[key] = tally.get(key, 0) + 1
    return tally
