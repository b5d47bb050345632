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
column's type code (numerics, JSON, arrays...), and any statement while the engine echoes SQL or
has cursor listeners (tracing) that must see it. It also runs again any statement the driver
fails, after the failed connection is dropped, and reports the error (or the outage) the way
every other query does. `koiki_db_reader_statements_total{path}` counts which way each ran.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Boolean, Date, DateTime, Integer, String, Time, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import MultipleResultsFound
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.util.concurrency import greenlet_spawn

# Result types whose asyncpg processing does not depend on the column's type code: the processor
# found when planning is the one SQLAlchemy would use.
_PLAIN_AFFINITIES = (Integer, String, Boolean, DateTime, Date, Time)
Processor = Any  # a SQLAlchemy bind or result processor: value -> value

STATEMENTS = Counter(
    "koiki_db_reader_statements_total",
    "Reader statements by how they ran: on the driver, through SQLAlchemy, or through SQLAlchemy"
    " again after the driver failed (retried)",
    ["path"],
)
ON_DRIVER = STATEMENTS.labels("driver")
THROUGH_SQLALCHEMY = STATEMENTS.labels("sqlalchemy")
RETRIED = STATEMENTS.labels("retried")


@dataclass(frozen=True, slots=True)
class _DriverPlan:
    sql: str
    compiled: SQLCompiler
    columns: tuple[str, ...]
    binds: tuple[tuple[str, Processor | None], ...]
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
        plan = self._plan(statement) if self._direct else None
        counter = THROUGH_SQLALCHEMY
        if plan is not None:
            rows = await self._fetch_direct(plan, values)
            if rows is not None:
                ON_DRIVER.inc()
                return rows
            counter = RETRIED  # and below, SQLAlchemy reports what fails as usual
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
        row = await self.one_or_none(statement, values)
        return None if row is None else next(iter(row.values()))

    def _plan(self, statement: Select[Any]) -> _DriverPlan | None:
        engine = self._engine.sync_engine
        # Echo and cursor listeners (SQL logging, tracing) must see every statement.
        if (
            engine.echo
            or engine.dispatch.before_cursor_execute
            or engine.dispatch.after_cursor_execute
        ):
            return None
        plan = self._plans.get(statement)
        if plan is None:
            if statement in self._plans:  # its second use
                plan = _driver_plan(statement, engine.dialect) or _NOT_DIRECT
            self._plans[statement] = plan
        return plan if isinstance(plan, _DriverPlan) else None

    async def _fetch_direct(
        self, plan: _DriverPlan, values: Mapping[str, Any] | None
    ) -> list[dict[str, Any]] | None:
        """The rows, or None when the driver failed the statement (its connection is dropped).

        A missing value, a pool timeout or a failed connect raise here as they do through
        SQLAlchemy (the same calls raise them): running those again would only wait twice.
        """
        bound = plan.compiled.construct_params(values)
        arguments = [
            bound[name] if process is None else process(bound[name]) for name, process in plan.binds
        ]
        pooled = await self._engine.raw_connection()
        try:
            records = await pooled.driver_connection.fetch(plan.sql, *arguments)  # type: ignore[union-attr]
        except BaseException as error:
            # A failed or cancelled fetch leaves the connection in a state nobody should inherit.
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


def _plain(type_: TypeEngine[Any]) -> bool:
    if isinstance(type_, TypeDecorator):
        return _plain(type_.impl_instance)
    return isinstance(type_, _PLAIN_AFFINITIES)


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
    columns = tuple(name for name, _key, _objects, _type in compiled._result_columns)
    types = [type_ for _name, _key, _objects, type_ in compiled._result_columns]
    if not all(_plain(type_) for type_ in types):
        return None
    processors = [type_._cached_result_processor(dialect, None) for type_ in types]
    bind_processors = compiled._bind_processors
    return _DriverPlan(
        sql=compiled.string,
        compiled=compiled,
        columns=columns,
        binds=tuple((name, bind_processors.get(name)) for name in compiled.positiontup),
        results=tuple(
            (column, process)
            for column, process in zip(columns, processors, strict=True)
            if process is not None
        ),
    )
