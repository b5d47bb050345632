"""The slow-query log: statements slower than `DB_SLOW_QUERY_MS`, with their duration.

A line names the statement's SQL (its placeholders, never the bound values: they may be
passwords or tokens), the duration and, through the log context, the request id; the counter
`koiki_db_slow_queries_total` lets an alert or a dashboard see them without the logs.

Statements reach the database two ways, and both are timed:
- through SQLAlchemy: its cursor events (`before/after_cursor_execute`);
- on asyncpg directly (libkoiki.db.reader's driver path): asyncpg's own query logger, added to
  each connection as it is opened. The reader keeps its driver path with these listeners on
  (`is_slow_query_listener`): they are the only ones that need not see its statements.
Off (the default), nothing is registered and nothing is timed.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

logger = structlog.get_logger("koiki.db.slow")
_STARTED = "koiki_slow_query_started"
_MAX_SQL_CHARS = 2000

SLOW_QUERIES = Counter(
    "koiki_db_slow_queries_total",
    "Statements slower than DB_SLOW_QUERY_MS",
)


class SlowQueryLog:
    def __init__(self, threshold_ms: float) -> None:
        self.threshold = threshold_ms / 1000

    def report(self, sql: str, seconds: float, *, path: str) -> None:
        if seconds < self.threshold:
            return
        SLOW_QUERIES.inc()
        logger.warning(
            "slow_query",
            duration_ms=round(seconds * 1000, 2),
            threshold_ms=round(self.threshold * 1000, 2),
            path=path,
            statement=" ".join(sql.split())[:_MAX_SQL_CHARS],
        )

    # --- SQLAlchemy's cursor events ---
    def before_cursor_execute(
        self, conn: Any, _cursor: Any, sql: str, parameters: Any, *_args: Any
    ) -> tuple[str, Any]:
        # retval=True (the statement goes on unchanged): without it SQLAlchemy wraps the
        # listener, and the reader could not tell it from a tracer's.
        conn.info[_STARTED] = time.perf_counter()
        return sql, parameters

    def after_cursor_execute(self, conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        started = conn.info.pop(_STARTED, None)
        if started is not None:
            self.report(sql, time.perf_counter() - started, path="sqlalchemy")

    # --- asyncpg's query logger (the reader's driver path) ---
    def on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and hasattr(driver, "add_query_logger"):
            driver.add_query_logger(self.driver_query)

    def driver_query(self, record: Any) -> None:
        # Called by the loop soon after the statement, in the caller's context (request id).
        self.report(record.query, record.elapsed, path="driver")


def install_slow_query_log(engine: AsyncEngine, threshold_ms: float) -> None:
    if threshold_ms <= 0:
        return
    log = SlowQueryLog(threshold_ms)
    sync_engine = engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", log.before_cursor_execute, retval=True)
    event.listen(sync_engine, "after_cursor_execute", log.after_cursor_execute)
    if engine.dialect.driver == "asyncpg":
        event.listen(sync_engine, "connect", log.on_connect)  # the pool's event


def is_slow_query_listener(listener: Any) -> bool:
    return isinstance(getattr(listener, "__self__", None), SlowQueryLog)
