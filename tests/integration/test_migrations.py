"""The migrations, every revision of them, against a fresh database of the current backend.

Generic on purpose: it walks whatever revisions exist, so each new revision is covered the
moment it is added.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import app.models  # noqa: F401  (registers every table)
from libkoiki.db import Base, UTCDateTime
from libkoiki.db.migrations import alembic_config
from tests.conftest import POSTGRES_SERVER_URL, ClientFactory
from tests.support.databases import scratch_database
from tests.support.oidc import ForgingOP
from tests.support.population import (
    assert_every_table_has_rows,
    populate_every_table,
    population_settings,
    table_columns,
    table_fingerprints,
)


@pytest.fixture
async def fresh_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own: the suite's shared one is already migrated and full of fixtures."""
    name = f"koiki_migrations_{uuid.uuid4().hex[:10]}"
    async with scratch_database(POSTGRES_SERVER_URL, tmp_path, name) as url:
        yield url


def _revisions_in_order() -> list[tuple[str, str | None]]:
    script = ScriptDirectory.from_config(alembic_config())
    ordered = list(reversed(list(script.walk_revisions("base", "heads"))))
    pairs: list[tuple[str, str | None]] = []
    for revision in ordered:
        down = revision.down_revision
        assert not isinstance(down, tuple | list), (
            f"{revision.revision}: merge revisions unsupported"
        )
        pairs.append((revision.revision, down))
    return pairs


async def _alembic(name: str, url: str, target: str) -> None:
    # env.py runs its own event loop, so Alembic gets a thread of its own.
    await asyncio.to_thread(getattr(command, name), alembic_config(url), target)


def _state(connection: Connection) -> dict[str, Any]:
    """Tables with their columns and indexes, and the recorded version: enough to see a
    downgrade that forgot a column or an index."""
    inspector = inspect(connection)
    tables = {
        name: {
            "columns": sorted(column["name"] for column in inspector.get_columns(name)),
            "indexes": sorted(str(index["name"]) for index in inspector.get_indexes(name)),
        }
        for name in sorted(set(inspector.get_table_names()) - {"alembic_version"})
    }
    version: list[str] = []
    if inspector.has_table("alembic_version"):
        rows = connection.execute(text("SELECT version_num FROM alembic_version"))
        version = sorted(rows.scalars())
    return {"tables": tables, "version": version}


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "render_as_batch": connection.dialect.name == "sqlite",
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def _inspect(url: str, what: Any) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(what)
    finally:
        await engine.dispose()


async def _built_in_roles(url: str) -> list[str]:
    def read(connection: Connection) -> list[str]:
        rows = connection.execute(text("SELECT name FROM roles WHERE is_builtin ORDER BY name"))
        return list(rows.scalars())

    return await _inspect(url, read)  # type: ignore[no-any-return]


async def test_models_and_migrations_agree(fresh_database_url: str) -> None:
    await _alembic("upgrade", fresh_database_url, "head")
    differences = await _inspect(fresh_database_url, _differences)
    assert differences == [], "models and migrations disagree:\n" + "\n".join(map(str, differences))


@pytest.mark.postgres_only
async def test_every_utc_timestamp_is_stored_with_its_time_zone(fresh_database_url: str) -> None:
    # UTCDateTime takes asyncpg's values as they come (aware, in UTC): true of `timestamptz`
    # only. A column made `timestamp without time zone` would be read back naive.
    await _alembic("upgrade", fresh_database_url, "head")

    def stored_types(connection: Connection) -> dict[tuple[str, str], str]:
        rows = connection.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
            )
        )
        return {(table, column): data_type for table, column, data_type in rows}

    stored = await _inspect(fresh_database_url, stored_types)
    utc_columns = [
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, UTCDateTime)
    ]
    assert len(utc_columns) > 10
    assert {column: stored[column] for column in utc_columns} == dict.fromkeys(
        utc_columns, "timestamp with time zone"
    )


async def test_upgrade_downgrade_upgrade_round_trip(fresh_database_url: str) -> None:
    await _alembic("upgrade", fresh_database_url, "head")
    at_head = await _inspect(fresh_database_url, _state)
    assert set(Base.metadata.tables) <= set(at_head["tables"])
    assert at_head["version"] == sorted(ScriptDirectory.from_config(alembic_config()).get_heads())
    assert await _built_in_roles(fresh_database_url) == ["admin", "user"]

    await _alembic("downgrade", fresh_database_url, "base")
    assert await _inspect(fresh_database_url, _state) == {"tables": {}, "version": []}

    await _alembic("upgrade", fresh_database_url, "head")
    assert await _inspect(fresh_database_url, _state) == at_head
    # Seed data comes back exactly once, not doubled.
    assert await _built_in_roles(fresh_database_url) == ["admin", "user"]


async def test_every_revision_downgrades_cleanly(fresh_database_url: str) -> None:
    """Stairway: each revision goes up, down to its parent, and up again on top of the others."""
    revisions = _revisions_in_order()
    assert revisions, "no migrations found"
    assert revisions[0][1] is None
    for revision, parent in revisions:
        before = await _inspect(fresh_database_url, _state)
        await _alembic("upgrade", fresh_database_url, revision)
        after = await _inspect(fresh_database_url, _state)
        assert after["version"] == [revision]
        await _alembic("downgrade", fresh_database_url, parent or "base")
        assert await _inspect(fresh_database_url, _state) == before, (
            f"downgrade of {revision} left the schema different from {parent or 'base'}"
        )
        await _alembic("upgrade", fresh_database_url, revision)
        assert await _inspect(fresh_database_url, _state) == after


@pytest.mark.postgres_only
async def test_downgrades_and_upgrades_keep_every_row_they_do_not_drop(
    fresh_database_url: str, make_client: ClientFactory, forging_op: ForgingOP
) -> None:
    """With rows in every table, step down one revision at a time, then upgrade again over the
    remaining rows. No step may lose a row of a table it keeps, nor change a row whose columns it
    keeps; the tables (or columns) a downgrade drops are the only data lost, by design."""
    await _alembic("upgrade", fresh_database_url, "head")
    settings = population_settings(forging_op)
    async with make_client(database_url=fresh_database_url, **settings) as client:
        await populate_every_table(client, forging_op)
    at_head = await _snapshot(fresh_database_url)
    assert_every_table_has_rows({table: rows for table, (_, rows) in at_head.items()})

    kept = at_head
    for revision, parent in reversed(_revisions_in_order()[1:]):
        await _alembic("downgrade", fresh_database_url, parent or "base")
        now = await _snapshot(fresh_database_url)
        _assert_rows_kept(kept, now, f"downgrade of {revision}")
        kept = now

    await _alembic("upgrade", fresh_database_url, "head")
    again = await _snapshot(fresh_database_url)
    _assert_rows_kept(kept, again, "upgrade back to head")
    assert set(again) == set(at_head)


Snapshot = dict[str, tuple[list[str], tuple[int, str]]]


async def _snapshot(url: str) -> Snapshot:
    """Per table (the version table aside): its columns, row count and rows' digest."""
    columns = await table_columns(url)
    rows = await table_fingerprints(url)
    return {table: (columns[table], rows[table]) for table in rows if table != "alembic_version"}


def _assert_rows_kept(before: Snapshot, after: Snapshot, step: str) -> None:
    for table in set(before) & set(after):
        (old_columns, (old_count, old_digest)), (new_columns, (new_count, new_digest)) = (
            before[table],
            after[table],
        )
        assert new_count == old_count, f"{step}: {table} has {new_count} rows, had {old_count}"
        if new_columns == old_columns:
            assert new_digest == old_digest, f"{step}: rows of {table} changed"
