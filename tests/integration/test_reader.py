"""`Reader`: the rows SQLAlchemy returns, whichever way a statement runs.

On PostgreSQL a statement a reader has seen before runs on the asyncpg connection directly; these
tests hold that path to SQLAlchemy's answers (types, time zones, bind processing, repeated
parameters) and show its edges: statements that differ only in literal values never share a
plan, tracing listeners still see every statement, and a read survives its connection being
killed or being cancelled. On SQLite every statement runs through SQLAlchemy and the same answers
are expected.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Integer, Select, bindparam, event, func, insert, select, text
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from app.todos.models import Todo
from libkoiki.accounts.models import User
from libkoiki.db import Reader
from libkoiki.db.failover import discard_read_only_connections
from libkoiki.db.query import contains_pattern, contains_text
from libkoiki.errors import is_database_unavailable, is_unstorable_value
from libkoiki.pagination import PageParams, paginate

NOON = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
todos = Todo.__table__.c


def count(path: str) -> float:
    return REGISTRY.get_sample_value("koiki_db_reader_statements_total", {"path": path}) or 0.0


@pytest.fixture
async def owner_id(migrated_engine: AsyncEngine) -> int:
    """A user with todos of every shape: done or not, with and without due dates and texts."""
    async with migrated_engine.begin() as connection:
        user = await connection.execute(
            insert(User).values(email="reader@example.com", hashed_password="x").returning(User.id)
        )
        owner = user.scalar_one()
        await connection.execute(
            insert(Todo),
            [
                {
                    "title": f"todo {n} {'50% off' if n % 3 == 0 else 'plain_text'}",
                    "description": None if n % 2 else f"about {n}",
                    "is_completed": n % 4 == 0,
                    "due_date": None if n % 5 == 0 else NOON + timedelta(days=n),
                    "owner_id": owner,
                    "created_at": NOON - timedelta(minutes=n),
                    "updated_at": NOON,
                }
                for n in range(30)
            ],
        )
    return owner


@pytest.fixture
async def small_pool(database_url: str) -> AsyncIterator[AsyncEngine]:
    """One pooled connection: what happens to it happens to the next read."""
    engine = create_async_engine(database_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


async def reference(engine: AsyncEngine, statement: Select[Any], values: dict[str, Any]) -> Any:
    async with engine.connect() as connection:
        return [dict(row) for row in (await connection.execute(statement, values)).mappings()]


def list_statement(**filters: bool) -> Select[Any]:
    statement = select(Todo.__table__).where(todos.owner_id == bindparam("owner_id"))
    if filters.get("completed"):
        statement = statement.where(todos.is_completed == bindparam("is_completed"))
    if filters.get("search"):  # `q` is bound twice: in the title and in the description
        statement = statement.where(contains_text(bindparam("q"), todos.title, todos.description))
    if filters.get("due"):  # timestamp binds go through the column type's processing
        statement = statement.where(
            todos.due_date < bindparam("due_before"), todos.due_date > bindparam("due_after")
        )
    return statement.order_by(todos.due_date.is_(None), todos.due_date.desc(), todos.id)


async def test_each_use_returns_what_sqlalchemy_returns(
    migrated_engine: AsyncEngine, db_session: AsyncSession, owner_id: int
) -> None:
    reader = Reader(migrated_engine)
    page = PageParams(skip=2, limit=10)
    shapes = [
        ({}, {}),
        ({"completed": True}, {"is_completed": False}),
        ({"search": True}, {"q": contains_pattern("50% off")}),
        ({"search": True}, {"q": contains_pattern("plain_text")}),
        ({"due": True}, {
            "due_before": NOON + timedelta(days=20),
            "due_after": (NOON + timedelta(days=3)).astimezone(timezone(timedelta(hours=9))),
        }),
    ]  # fmt: skip
    on_driver = count("driver")
    for flags, filters in shapes:
        statement = list_statement(**flags)
        values = {"owner_id": owner_id, **filters}
        expected = await paginate(db_session, statement, page, values)
        assert expected[0], flags
        for _ in range(3):  # the first use, the one that plans it, and a planned one
            assert await paginate(reader, statement, page, values) == expected
    by_id = select(Todo.__table__).where(todos.id == bindparam("id"))
    for _ in range(3):
        row = await reader.one_or_none(by_id, {"id": expected[0][0]["id"]})
        assert row == expected[0][0]
        # Equal aware datetimes may differ in zone; the API writes them as UTC ("Z").
        assert row["created_at"].tzinfo is UTC
    driver = migrated_engine.dialect.driver == "asyncpg"
    assert count("driver") - on_driver == (2 * len(shapes) + 2 if driver else 0)


@pytest.mark.postgres_only
async def test_repeated_statements_run_on_the_driver(
    migrated_engine: AsyncEngine, owner_id: int
) -> None:
    reader = Reader(migrated_engine)
    statement = list_statement()
    before = count("driver"), count("sqlalchemy")
    for _ in range(5):
        await reader.all(statement, {"owner_id": owner_id})
    assert (count("driver") - before[0], count("sqlalchemy") - before[1]) == (4, 1)


async def test_literal_values_are_never_shared_between_statements(
    migrated_engine: AsyncEngine, owner_id: int
) -> None:
    # Same shape, different literals: one cached form would answer both with the first value.
    reader = Reader(migrated_engine)
    by_title = {
        n: select(todos.id).where(todos.owner_id == owner_id, todos.title.like(f"todo {n} %"))
        for n in (1, 2)
    }
    for _ in range(3):
        for statement in by_title.values():
            rows = await reader.all(statement)
            assert len(rows) == 1
            assert rows == await reference(migrated_engine, statement, {})


async def test_tracing_listeners_see_every_statement(
    small_pool: AsyncEngine, owner_id: int
) -> None:
    seen: list[str] = []

    def trace(*args: Any) -> None:
        seen.append(args[2])

    event.listen(small_pool.sync_engine, "before_cursor_execute", trace)
    reader = Reader(small_pool)
    statement = select(todos.id).where(todos.owner_id == bindparam("owner_id"))
    for _ in range(3):
        await reader.all(statement, {"owner_id": owner_id})
    assert len([sql for sql in seen if "FROM todos" in sql]) == 3


@pytest.mark.postgres_only
async def test_a_read_survives_its_connection_being_killed(
    small_pool: AsyncEngine, owner_id: int
) -> None:
    reader = Reader(small_pool)
    statement = select(func.count()).where(todos.owner_id == bindparam("owner_id"))
    values = {"owner_id": owner_id}
    backend_pid = select(func.pg_backend_pid())
    for _ in range(2):
        assert await reader.scalar(statement, values) == 30
    pooled_pid = await reader.scalar(backend_pid)
    async with create_async_engine(str(small_pool.url)).connect() as admin:
        await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pooled_pid})
        await admin.commit()

    retried = count("retried")
    assert await reader.scalar(statement, values) == 30
    assert count("retried") == retried + 1
    assert await reader.scalar(backend_pid) != pooled_pid


@pytest.mark.postgres_only
async def test_a_cancelled_read_leaves_the_pool_usable(
    small_pool: AsyncEngine, owner_id: int
) -> None:
    reader = Reader(small_pool)
    slow = select(func.count()).where(
        todos.owner_id == bindparam("owner_id"),
        func.pg_sleep(bindparam("seconds")).is_not(None),
    )
    for _ in range(2):
        await reader.all(slow, {"owner_id": owner_id, "seconds": 0})
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.all(slow, {"owner_id": owner_id, "seconds": 30}), 0.2)
    # The cancelled connection was dropped, not handed on half-way through its statement.
    retried = count("retried")
    assert await reader.scalar(slow, {"owner_id": owner_id, "seconds": 0}) == 30
    assert count("retried") == retried


@pytest.mark.postgres_only
async def test_a_refused_statement_raises_as_through_sqlalchemy(
    small_pool: AsyncEngine, owner_id: int
) -> None:
    reader = Reader(small_pool)
    ratio = select(func.count()).where(
        todos.owner_id == bindparam("owner_id"), todos.id / bindparam("divisor") > 0
    )
    backend_pid = select(func.pg_backend_pid())
    pids, raised = set(), set()
    retried = count("retried")
    for _ in range(3):  # through SQLAlchemy, then on the driver
        assert await reader.scalar(ratio, {"owner_id": owner_id, "divisor": 1}) == 30
        with pytest.raises(DBAPIError) as refused:
            await reader.all(ratio, {"owner_id": owner_id, "divisor": 0})
        raised.add(type(refused.value))
        assert refused.value.orig.sqlstate == "22012"  # type: ignore[union-attr]
        assert is_unstorable_value(refused.value)  # what the API answers 422 for
        pids.add(await reader.scalar(backend_pid))
    assert len(raised) == 1  # the same exception class either way
    # The connection stays: an error the server reports does not break it.
    assert len(pids) == 1
    assert count("retried") == retried


@pytest.mark.postgres_only
async def test_a_connection_on_a_server_turned_read_only_is_never_reused(
    small_pool: AsyncEngine,
) -> None:
    """A pooled connection whose server refuses writes (SQLSTATE 25006: after a failover, the old
    primary) is discarded, through SQLAlchemy (a 503 for its request) or on the driver (the
    statement runs again, on a new connection)."""
    discard_read_only_connections(small_pool)  # as libkoiki's engines have it
    reader = Reader(small_pool)
    sequence = f"koiki_reader_seq_{os.getpid()}"
    following = select(func.nextval(bindparam("sequence"), type_=Integer))
    backend_pid = select(func.pg_backend_pid())

    async def fence() -> int:
        """Make the pooled connection's session read-only, as a fenced server's would be."""
        async with small_pool.connect() as connection:
            await connection.execute(text("SET SESSION default_transaction_read_only = on"))
            await connection.commit()
            return int(await connection.scalar(backend_pid))

    async with small_pool.begin() as connection:
        await connection.execute(text(f'CREATE SEQUENCE "{sequence}"'))
    try:
        fenced = await fence()
        with pytest.raises(DBAPIError) as refused:  # first use: through SQLAlchemy
            await reader.all(following, {"sequence": sequence})
        assert refused.value.orig.sqlstate == "25006"  # type: ignore[union-attr]
        assert refused.value.connection_invalidated
        assert is_database_unavailable(refused.value)  # what the API answers 503 for
        assert await reader.scalar(backend_pid) != fenced

        fenced = await fence()
        retried = count("retried")
        assert await reader.scalar(following, {"sequence": sequence}) == 1  # on the driver
        assert count("retried") == retried + 1
        assert await reader.scalar(backend_pid) != fenced
    finally:
        async with small_pool.begin() as connection:
            await connection.execute(text(f'DROP SEQUENCE IF EXISTS "{sequence}"'))


@pytest.mark.postgres_only
async def test_a_connect_the_server_refuses_raises_as_through_sqlalchemy(
    small_pool: AsyncEngine,
) -> None:
    scratch = f"koiki_reader_gone_{os.getpid()}"
    admin = small_pool.execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{scratch}"'))
    engine = create_async_engine(small_pool.url.set(database=scratch), pool_size=1)
    try:
        reader = Reader(engine)
        doubled = select(func.abs(bindparam("n", type_=Integer)) * 2)
        for _ in range(2):  # through SQLAlchemy, then planned
            assert await reader.scalar(doubled, {"n": -21}) == 42
        await engine.dispose()  # the next read connects again, to a database that is gone
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{scratch}" WITH (FORCE)'))
        # SQLAlchemy's exception with the server's sqlstate, which the API's error handlers
        # classify (57P03 "starting up", 53300 "too many connections" are 503s).
        with pytest.raises(DBAPIError) as refused:
            await reader.all(doubled, {"n": 1})
        assert refused.value.orig.sqlstate == "3D000"  # type: ignore[union-attr]
    finally:
        await engine.dispose()
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))


async def test_bind_names_sqlalchemy_escapes(migrated_engine: AsyncEngine, owner_id: int) -> None:
    reader = Reader(migrated_engine)
    statement = select(todos.id).where(todos.owner_id == bindparam("owner.id"))
    for _ in range(3):
        assert len(await reader.all(statement, {"owner.id": owner_id})) == 30


async def test_a_full_pool_or_a_missing_value_fails_once(database_url: str, owner_id: int) -> None:
    # Neither is the driver's failure: running the statement again would only wait twice.
    engine = create_async_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    reader = Reader(engine)
    statement = list_statement()
    try:
        for _ in range(2):
            await reader.all(statement, {"owner_id": owner_id})
        retried = count("retried")
        with pytest.raises(StatementError, match="owner_id"):
            await reader.all(statement, {})
        async with engine.connect() as holder:
            await holder.execute(select(1))
            with pytest.raises(PoolTimeoutError):
                await reader.all(statement, {"owner_id": owner_id})
        assert count("retried") == retried
    finally:
        await engine.dispose()
