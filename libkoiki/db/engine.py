"""Async engine and session factory built from the settings (no I/O until first use)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from libkoiki.config import Settings
from libkoiki.db.failover import connect_to_each_host_in_turn, discard_read_only_connections
from libkoiki.db.session import KoikiSession
from libkoiki.observability.framework import MeasuredPool
from libkoiki.observability.slow_queries import install_slow_query_log

SQLITE_BUSY_TIMEOUT_MS = 30_000


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of a SQLite file URL: a fresh clone has no `./var/` yet."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return
    if not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if settings.is_sqlite:
        ensure_sqlite_directory(url)
        engine = create_async_engine(url, echo=settings.db_echo, pool_pre_ping=True)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        install_slow_query_log(engine, settings.db_slow_query_ms)
        return engine
    return postgres_engine(url, settings)


def postgres_engine(url: str, settings: Settings) -> AsyncEngine:
    """A pooled engine for one PostgreSQL URL (the primary's, or a read replica's)."""
    engine = create_async_engine(
        url,
        echo=settings.db_echo,
        pool_pre_ping=settings.db_pool_pre_ping,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle_seconds,
        # A dead server must fail the connect quickly so readiness and requests answer 503 fast.
        connect_args={"timeout": settings.health_check_timeout_seconds * 2},
        poolclass=MeasuredPool,
    )
    install_slow_query_log(engine, settings.db_slow_query_ms)
    discard_read_only_connections(engine)
    connect_to_each_host_in_turn(engine)
    return engine


def create_sessionmaker(
    engine: AsyncEngine, *, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions of `engine`; `info` is copied into every session's `info` (see `after_commit`)."""
    return async_sessionmaker(
        engine, class_=KoikiSession, expire_on_commit=False, autoflush=False, info=info
    )
