"""`python -m ops slow-queries` on a PostgreSQL that preloads pg_stat_statements: the costliest
statements first, normalised (no value shown); without the extension, how to enable it."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import pytest

from tests.ops.support import REPO_ROOT, ops_env, run_ops
from tests.support.servers import ThrowawayPostgres

pytestmark = pytest.mark.postgres_only


@pytest.fixture(scope="module")
def postgres() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres()
    try:
        server.init()
        with (server.data / "postgresql.conf").open("a") as conf:
            conf.write("shared_preload_libraries = 'pg_stat_statements'\n")
        server.start()
        yield server
    finally:
        server.cleanup()


async def _run(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def test_lists_top_statements_or_says_how_to_enable(postgres: ThrowawayPostgres) -> None:
    env = ops_env(DATABASE_URL=postgres.url)
    missing = run_ops("slow-queries", env=env, cwd=REPO_ROOT)
    assert missing.returncode != 0
    assert "CREATE EXTENSION pg_stat_statements" in missing.stderr + missing.stdout
    assert "Traceback" not in missing.stderr

    secret = "a-secret-value-in-a-literal"
    await _run(
        postgres.url,
        "CREATE EXTENSION pg_stat_statements",
        "CREATE TABLE slow_probe (id int, note text)",
        f"INSERT INTO slow_probe SELECT g, '{secret}' FROM generate_series(1, 20000) g",
        "SELECT pg_sleep(0.3)",
    )
    listed = run_ops("slow-queries", "--limit", "5", env=env, cwd=REPO_ROOT)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:2] == ["total", "ms"]
    assert len(lines) <= 6
    assert any("pg_sleep($1)" in line for line in lines[1:]), listed.stdout
    assert secret not in listed.stdout  # constants are normalised to $n
    totals = [float(line.split()[0]) for line in lines[1:]]
    assert totals == sorted(totals, reverse=True)
