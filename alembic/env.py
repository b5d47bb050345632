"""Alembic environment: async engine, URL from the settings, batch mode on SQLite."""

from __future__ import annotations

import asyncio
import logging

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import app.models  # noqa: F401  (registers every table on Base.metadata)
from libkoiki.config import Settings, async_database_url
from libkoiki.db import Base
from libkoiki.db.connect_errors import describe_connect_failure
from libkoiki.db.engine import ensure_sqlite_directory

config = context.config
target_metadata = Base.metadata

if not logging.getLogger().handlers:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s [%(name)s] %(message)s")


def database_url() -> str:
    # An explicit URL (tests, ops tooling) wins over the environment.
    explicit = config.get_main_option("sqlalchemy.url")
    return async_database_url(explicit) if explicit else Settings().database_url


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    is_sqlite = (connection.dialect.name if connection else (url or "")).startswith("sqlite")
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        render_as_batch=is_sqlite,
        compare_type=True,
        compare_server_default=True,
        literal_binds=connection is None,
        dialect_opts={"paramstyle": "named"} if connection is None else {},
    )


def run_migrations_offline() -> None:
    _configure(url=database_url())
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    url = database_url()
    ensure_sqlite_directory(url)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as async_connection:
            await async_connection.run_sync(_run_sync)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
elif (lent_connection := config.attributes.get("connection")) is not None:
    # A caller that holds a connection (for example under an advisory lock) lends it to us.
    _run_sync(lent_connection)
else:
    try:
        asyncio.run(run_migrations_online())
    except Exception as exc:
        failure = describe_connect_failure(exc, database_url())
        if failure is None:
            raise
        # `make migrate` is often a newcomer's first contact with the database: one line, exit 1.
        raise SystemExit(f"migrate: {failure.message}") from None
