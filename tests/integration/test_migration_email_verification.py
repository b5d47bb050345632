"""0004_email_verification on data that existed before it: nobody is locked out, old look-alikes
do not stop the upgrade, addresses are re-normalised where that collides with nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from libkoiki.accounts.emails import email_skeleton_key
from libkoiki.db.migrations import alembic_config
from tests.conftest import POSTGRES_SERVER_URL
from tests.support.databases import scratch_database

BEFORE = "0003_todos"
REVISION = "0004_email_verification"
OLD_USERS = [
    "alice@example.com",
    "\u0430lice@example.com",  # a Cyrillic look-alike registered before the check existed
    "stra\u00dfe@example.com",  # lower() kept the ß; case folding makes it "ss"
    "strasse@example.com",  # ... which is taken: this one keeps its spelling
    "ｂob@example.com",  # full-width b, lower-cased but not NFKC-folded
]


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    name = f"koiki_mig4_{uuid.uuid4().hex[:10]}"
    async with scratch_database(POSTGRES_SERVER_URL, tmp_path, name) as url:
        yield url


async def _alembic(name: str, url: str, target: str) -> None:
    await asyncio.to_thread(getattr(command, name), alembic_config(url), target)


async def _sql(url: str, statement: str, **values: object) -> list[tuple[object, ...]]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), values)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


async def test_existing_accounts_are_verified_and_lookalikes_kept(database_url: str) -> None:
    await _alembic("upgrade", database_url, BEFORE)
    for email in OLD_USERS:
        await _sql(
            database_url,
            "INSERT INTO users (email, hashed_password, is_active, is_superuser) "
            "VALUES (:email, 'x', true, false)",
            email=email,
        )
    await _alembic("upgrade", database_url, REVISION)
    rows = await _sql(
        database_url,
        "SELECT email, email_skeleton, email_verified_at IS NOT NULL, "
        "email_verified_at = created_at FROM users ORDER BY id",
    )
    emails = [row[0] for row in rows]
    assert emails == [
        "alice@example.com",
        "\u0430lice@example.com",
        "stra\u00dfe@example.com",
        "strasse@example.com",
        "bob@example.com",
    ]
    skeletons = [row[1] for row in rows]
    assert skeletons[0] == email_skeleton_key("alice@example.com")
    assert skeletons[1] is None  # the younger look-alike: kept, without a skeleton
    assert skeletons[2] == email_skeleton_key("strasse@example.com")
    assert skeletons[3] is None  # same skeleton as the ß spelling
    assert skeletons[4] == email_skeleton_key("bob@example.com")
    assert all(row[2] and row[3] for row in rows)  # verified, as of their creation

    await _alembic("downgrade", database_url, BEFORE)
    assert [row[0] for row in await _sql(database_url, "SELECT email FROM users ORDER BY id")] == (
        emails
    )
