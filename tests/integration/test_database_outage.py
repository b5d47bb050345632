"""PostgreSQL goes away and comes back: liveness stays up, readiness tells, nothing restarts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from alembic import command

from libkoiki.db.migrations import alembic_config
from tests.support.servers import ThrowawayPostgres

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def own_postgres() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres().init_and_start()
    yield server
    server.cleanup()


async def test_readiness_follows_the_database_without_a_restart(
    own_postgres: ThrowawayPostgres, make_client
) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(own_postgres.url), "head")
    async with make_client(database_url=own_postgres.url, rate_limit_enabled=False) as client:
        assert (await client.get("/health/ready")).status_code == 200

        await asyncio.to_thread(own_postgres.stop)
        started = time.monotonic()
        ready = await client.get("/health/ready")
        elapsed = time.monotonic() - started
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] != "ok"
        assert elapsed < 3.0, f"readiness took {elapsed:.1f}s with the database down"
        assert (await client.get("/health")).status_code == 200

        await asyncio.to_thread(own_postgres.start)
        ready = await client.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {
            "database": "ok",
            "redis": ready.json()["checks"]["redis"],
            "migrations": "ok",
        }
