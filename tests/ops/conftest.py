from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.ops.support import ScratchDatabase, ThrowawayPostgres


@pytest.fixture
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
