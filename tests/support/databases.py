"""A database of a test's own on the current backend, removed afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from libkoiki.config import async_database_url


def on_server(server_url: str, database: str) -> str:
    """`server_url` (any PostgreSQL URL spelling) pointed at `database`, with the async driver."""
    url = make_url(async_database_url(server_url)).set(database=database)
    return url.render_as_string(hide_password=False)


@asynccontextmanager
async def scratch_database(
    postgres_server_url: str | None, folder: Path, name: str
) -> AsyncIterator[str]:
    """A SQLite file in `folder`, or database `name` created on the PostgreSQL server."""
    if not postgres_server_url:
        yield f"sqlite+aiosqlite:///{folder / (name + '.db')}"
        return
    admin = create_async_engine(
        on_server(postgres_server_url, "postgres"), isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as connection:
        await connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield on_server(postgres_server_url, name)
    finally:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()
