from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from alembic import command

from libkoiki.db.migrations import alembic_config
from tests.ops.support import ScratchDatabase, ThrowawayPostgres


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    url = os.environ.get("KOIKI_TEST_DATABASE_URL")
    if not url:
        pytest.fail("KOIKI_TEST_DATABASE_URL is not set (postgres_only tests need PostgreSQL)")
    return url


@pytest.fixture
async def scratch_db(pg_base_url: str) -> AsyncIterator[ScratchDatabase]:
    database = ScratchDatabase(pg_base_url, "db")
    await database.create()
    yield database
    await database.drop()


@pytest.fixture(scope="session")
async def migrated_template(pg_base_url: str) -> AsyncIterator[ScratchDatabase]:
    """A database migrated once, then only ever copied (test_migrate.py runs `ops migrate`)."""
    database = ScratchDatabase(pg_base_url, "template")
    await database.create()
    try:
        # Alembic in this process: no interpreter to start. env.py runs a loop of its own.
        await asyncio.to_thread(command.upgrade, alembic_config(database.url), "head")
        yield database
    finally:
        await database.drop()


@pytest.fixture
async def migrated_db(
    pg_base_url: str, migrated_template: ScratchDatabase
) -> AsyncIterator[ScratchDatabase]:
    """A database of the test's own at head: a copy of `migrated_template` (0.1 s, not 1-2 s)."""
    database = ScratchDatabase(pg_base_url, "db")
    await database.create(template=migrated_template)
    yield database
    await database.drop()


@pytest.fixture
def throwaway_pg() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres()
    server.init()
    yield server
    server.cleanup()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working directory without a .env, so the developer's settings cannot leak in."""
    path = tmp_path / "work"
    path.mkdir()
    return path
