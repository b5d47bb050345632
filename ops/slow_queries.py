"""`python -m ops slow-queries`: the statements that cost the database the most time.

Read from `pg_stat_statements` (the deployment guide's troubleshooting step): the top statements
by total execution time, with calls, mean and max. The view holds normalised statements (`$1`
for every constant), so no value a user sent is shown. When the extension is not loaded, the
command says how to load it instead of failing with PostgreSQL's error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

import asyncpg

from ops.database import PgTarget

ENABLE_HINT = (
    "pg_stat_statements is not enabled. Load it at server start "
    "(postgres -c shared_preload_libraries=pg_stat_statements; the compose files do), restart "
    "PostgreSQL, then run once in this database: CREATE EXTENSION pg_stat_statements;"
)
_TOP = """
SELECT query, calls, total_exec_time, mean_exec_time, max_exec_time, rows
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY total_exec_time DESC
LIMIT $1
"""


class NotEnabled(RuntimeError):
    pass


@dataclass(frozen=True)
class Statement:
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    max_ms: float
    rows: int


async def top_statements(target: PgTarget, limit: int) -> list[Statement]:
    connection = await asyncpg.connect(**target.connect_kwargs(), timeout=10)
    try:
        installed = await connection.fetchval(
            "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
        )
        if not installed:
            raise NotEnabled(ENABLE_HINT)
        try:
            records = await connection.fetch(_TOP, limit)
        except asyncpg.ObjectNotInPrerequisiteStateError as exc:  # installed, not preloaded
            raise NotEnabled(ENABLE_HINT) from exc
    finally:
        await connection.close()
    return [
        Statement(
            query=" ".join(record["query"].split()),
            calls=record["calls"],
            total_ms=record["total_exec_time"],
            mean_ms=record["mean_exec_time"],
            max_ms=record["max_exec_time"],
            rows=record["rows"],
        )
        for record in records
    ]


def render(statements: list[Statement], out: TextIO, width: int = 120) -> None:
    out.write(f"{'total ms':>12} {'calls':>9} {'mean ms':>10} {'max ms':>10}  statement\n")
    for statement in statements:
        query = statement.query if len(statement.query) <= width else statement.query[:width] + "…"
        out.write(
            f"{statement.total_ms:12.1f} {statement.calls:9d} {statement.mean_ms:10.2f}"
            f" {statement.max_ms:10.2f}  {query}\n"
        )
    if not statements:
        out.write("(no statements recorded yet)\n")
