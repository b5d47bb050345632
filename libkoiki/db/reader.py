"""`Reader`: read-only statements outside any transaction, for routes that only read.

Each statement runs on a pooled connection in autocommit and comes back as a list of dicts (what
Pydantic validates fastest); the connection is back in the pool when the call returns.

On PostgreSQL a statement the reader has seen before runs on the pooled asyncpg connection
directly: the SQL SQLAlchemy compiled for it, SQLAlchemy's pool (checkout, pre-ping, recycle,
return) and its bind and result processing, without the Connection, execution context and result
layers around them, which cost more CPU than a small query itself (about 0.3 ms a statement).
Build statements once, with `bindparam()` for the values of each call (a module constant, or one
cached per shape of filters, as `app.todos` does): a statement object is planned on its second
use, so one built per request always runs through SQLAlchemy and its compiled cache.

SQLAlchemy runs everything else: columns of a type whose asyncpg processing depends on the
column's type code (numerics, JSON, arrays...), expanding (IN) parameters, a call missing a value
(SQLAlchemy names it), and every statement while the engine logs SQL, has execute or cursor
listeners (tracing) or a schema translate map. Errors read as SQLAlchemy's: an error the server
reports is raised as the same DBAPIError subclass; a connection that breaks mid-statement is
dropped and the statement runs again through SQLAlchemy, which reports the outage as usual; so is
one whose server refuses it as read-only (SQLSTATE 25006: no longer the primary).
`koiki_db_reader_statements_total{path}` counts which way each statement ran.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from asyncpg import PostgresError
from prometheus_client import Counter
from sqlalchemy import Boolean, Date, DateTime, Integer, String, Time, TypeDecorator
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, MultipleResultsFound
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.util.concurrency import greenlet_spawn

from libkoiki.db.failover import is_read_only_server
from libkoiki.observability.slow_queries import is_slow_query_listener

# Result types whose asyncpg processing does not depend on the column's type code: the processor
# found when planning is the one SQLAlchemy would use.
_PLAIN_AFFINITIES = (Integer, String, Boolean, DateTime, Date, Time)
# SQLAlchemy logs statements here at INFO (echo=True, or logging configured to show them).
_SQL_LOG = logging.getLogger("sqlalchemy.engine.Engine")
Processor = Any  # a SQLAlchemy bind or result processor: value -> value

STATEMENTS = Counter(
    "koiki_db_reader_statements_total",
    "Reader statements by how they ran: on the driver, through SQLAlchemy, or through SQLAlchemy"
    " again after the driver's connection broke (retried)",
    ["path"],
)
ON_DRIVER = STATEMENTS.labels("driver")
THROUGH_SQLALCHEMY = STATEMENTS.labels("sqlalchemy")
RETRIED = STATEMENTS.labels("retried")


@dataclass(frozen=True, slots=True)
class _DriverPlan:
    # Nothing here refers to the statement: a plan must not keep its (weak) key alive.
    sql: str
    required: frozenset[str]  # the values each call must give
    binds: tuple[tuple[str, Any, Processor | None], ...]  # in $n order: key, default, processor
    columns: tuple[str, ...]
    results: tuple[tuple[str, Processor], ...]  # the columns SQLAlchemy converts, and how


_NOT_DIRECT = object()  # planned, and SQLAlchemy runs it


class Reader:
    """Read-only statements on `engine`'s pool, outside any transaction; rows as dicts."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._direct = engine.dialect.driver == "asyncpg"
        # Weak keys: a statement built per request is forgotten with it; one built once (a module
        # constant, or cached per shape of filters) is planned on its second use and kept.
        self._plans: weakref.WeakKeyDictionary[Select[Any], Any] = weakref.WeakKeyDictionary()

    async def all(
        self, statement: Select[Any], values: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        values = values or {}
        plan = self._plan(statement) if self._direct else None
        counter = THROUGH_SQLALCHEMY
        if plan is not None and plan.required <= values.keys():
            rows = await self._fetch_direct(plan, values)
            if rows is not None:
                ON_DRIVER.inc()
                return rows
            counter = RETRIED  # the connection broke: SQLAlchemy runs it again, reports failures
        counter.inc()
        async with self._autocommit.connect() as connection:
            result = await connection.execute(statement, values)
            columns = tuple(result.keys())
            return [dict(zip(columns, row, strict=True)) for row in result.all()]

    async def one_or_none(
        self, statement: Select[Any], values: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        rows = await self.all(statement, values)
        if len(rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return rows[0] if rows else None

    async def scalar(self, statement: Select[Any], values: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None without a row."""
        rows = await self.all(statement, values)
        return next(iter(rows[0].values())) if rows else None

    def _plan(self, statement: Select[Any]) -> _DriverPlan | None:
        engine = self._engine.sync_engine
        dispatch = engine.dispatch
        # SQL logging, execute and cursor listeners (tracing) must see every statement, and a
        # schema translate map must rewrite it. The slow-query log sees the driver's own.
        if (
            engine.echo
            or _SQL_LOG.isEnabledFor(logging.INFO)
            or dispatch.before_execute
            or (dispatch.before_cursor_execute and _foreign(dispatch.before_cursor_execute))
            or (dispatch.after_cursor_execute and _foreign(dispatch.after_cursor_execute))
            or "schema_translate_map" in engine.get_execution_options()
        ):
            return None
        plan = self._plans.get(statement)
        if plan is None:
            if statement in self._plans:  # its second use
                try:
                    plan = _driver_plan(statement, engine.dialect) or _NOT_DIRECT
                except Exception:  # whatever it is, SQLAlchemy will say it
                    plan = _NOT_DIRECT
            self._plans[statement] = plan
        return plan if isinstance(plan, _DriverPlan) else None

    async def _fetch_direct(
        self, plan: _DriverPlan, values: Mapping[str, Any]
    ) -> list[dict[str, Any]] | None:
        """The rows; None when the connection broke (it is dropped). A pool timeout, a failed
        connect and an error the server reports raise as they would through SQLAlchemy."""
        arguments = [
            values.get(key, default) if process is None else process(values.get(key, default))
            for key, default, process in plan.binds
        ]
        dialect = self._engine.dialect
        try:
            pooled = await self._engine.raw_connection()  # a pool timeout raises as it is
        except dialect.loaded_dbapi.Error as error:  # connect refused by the server
            raise _wrapped(error, None, None, dialect) from error
        driver = pooled.driver_connection
        try:
            records = await driver.fetch(plan.sql, *arguments)  # type: ignore[union-attr]
        except BaseException as error:
            if (
                isinstance(error, PostgresError)
                and not driver.is_closed()  # type: ignore[union-attr]
                and not is_read_only_server(error)
            ):
                # The server refused the statement; the connection is fine and goes back.
                await greenlet_spawn(pooled.close)
                raise _wrapped(_translated(error, dialect), plan.sql, arguments, dialect) from error
            # A broken (or server-ended) or cancelled fetch leaves the connection in a state
            # nobody should inherit; one on a server that is no longer the primary (25006) must
            # not be reused either: SQLAlchemy runs the statement again and, should it meet the
            # same server, reports it as a disconnect (libkoiki.db.failover).
            pooled.invalidate()
            await asyncio.shield(greenlet_spawn(pooled.close))
            if isinstance(error, Exception):
                return None
            raise
        await greenlet_spawn(pooled.close)
        rows = [dict(zip(plan.columns, record, strict=True)) for record in records]
        for column, process in plan.results:
            for row in rows:
                row[column] = process(row[column])
        return rows


def _foreign(listeners: Any) -> bool:
    """Listeners other than the slow-query log's, which times the driver path on its own."""
    return not all(is_slow_query_listener(listener) for listener in listeners)


def _translated(error: PostgresError, dialect: Dialect) -> Exception:
    """`error` as SQLAlchemy's asyncpg adapter raises it (its DBAPI-style exception classes)."""
    try:
        AsyncAdapt_asyncpg_connection._handle_exception_no_connection(dialect.loaded_dbapi, error)
    except Exception as translated:  # it always raises: this is its answer
        return translated
    return error  # pragma: no cover - the adapter raises for every error


def _wrapped(
    error: Exception, sql: str | None, arguments: Sequence[Any] | None, dialect: Dialect
) -> BaseException:
    """The SQLAlchemy exception (OperationalError, DataError...) its execution path raises."""
    return DBAPIError.instance(
        sql,
        arguments,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=dialect.is_disconnect(error, None, None),  # type: ignore[arg-type]
        dialect=dialect,
    )


def _plain(type_: TypeEngine[Any], dialect: Dialect) -> bool:
    implementation = type_.dialect_impl(dialect)  # variants and load_dialect_impl resolved
    if isinstance(implementation, TypeDecorator):
        return _plain(implementation.impl_instance, dialect)
    return isinstance(implementation, _PLAIN_AFFINITIES)


def _driver_plan(statement: Select[Any], dialect: Dialect) -> _DriverPlan | None:
    # Compiled for this very statement object, literal values included: plans are never shared.
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)  # a SELECT compiles to one
    if (
        compiled.literal_execute_params
        or compiled.post_compile_params
        or compiled.positiontup is None
    ):
        return None
    types = [type_ for _name, _key, _objects, type_ in compiled._result_columns]
    if not all(_plain(type_, dialect) for type_ in types):
        return None
    columns = tuple(name for name, _key, _objects, _type in compiled._result_columns)
    processors = [type_._cached_result_processor(dialect, None) for type_ in types]
    bind_processors = compiled._bind_processors
    binds = []
    for name in compiled.positiontup:
        bind = compiled.binds[name]
        if bind.callable is not None:
            return None  # a value computed per execution
        binds.append((bind.key, None if bind.required else bind.value, bind_processors.get(name)))
    return _DriverPlan(
        sql=compiled.string,
        required=frozenset(bind.key for bind in compiled.binds.values() if bind.required),
        binds=tuple(binds),
        columns=columns,
        results=tuple(
            (column, process)
            for column, process in zip(columns, processors, strict=True)
            if process is not None
        ),
    )
