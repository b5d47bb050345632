"""`python -m ops migrate`: the advisory lock really serialises concurrent migrations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from libkoiki.db.migrations import head_revisions
from ops.migrate import MIGRATION_LOCK_KEY
from tests.ops.support import ScratchDatabase, ops_env, run_ops, wait_until

pytestmark = pytest.mark.postgres_only


def _popen_migrate(env: dict[str, str], cwd: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ops", "migrate", *extra],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _start_logged(env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "ops", "migrate"],
            env=env,
            cwd=cwd,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


async def _versions(url: str) -> list[str] | None:
    connection = await asyncpg.connect(url)
    try:
        if await connection.fetchval("SELECT to_regclass('public.alembic_version')") is None:
            return None
        return [r["version_num"] for r in await connection.fetch("SELECT * FROM alembic_version")]
    finally:
        await connection.close()


async def test_migrate_waits_while_another_instance_holds_the_lock(
    scratch_db: ScratchDatabase, tmp_path: Path, workdir: Path
) -> None:
    holder = await asyncpg.connect(scratch_db.url)
    try:
        assert await holder.fetchval("SELECT pg_try_advisory_lock($1)", MIGRATION_LOCK_KEY)
        log = tmp_path / "migrate.log"
        process = _start_logged(ops_env(DATABASE_URL=scratch_db.url), workdir, log)
        assert wait_until(lambda: "another instance is migrating" in log.read_text(), timeout=60)
        assert process.poll() is None
        assert await _versions(scratch_db.url) is None, "migrated while the lock was held"
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        await holder.close()
    assert "migrate: applied" in log.read_text()
    assert set(await _versions(scratch_db.url) or []) == set(head_revisions())


async def test_migrate_gives_up_after_the_lock_timeout(
    scratch_db: ScratchDatabase, workdir: Path
) -> None:
    holder = await asyncpg.connect(scratch_db.url)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        completed = run_ops(
            "migrate", "--lock-timeout", "1", env=ops_env(DATABASE_URL=scratch_db.url), cwd=workdir
        )
    finally:
        await holder.close()
    assert completed.returncode == 1
    assert "migration lock still held after 1s" in completed.stderr
    assert await _versions(scratch_db.url) is None


async def test_concurrent_migrations_apply_once(scratch_db: ScratchDatabase, workdir: Path) -> None:
    env = ops_env(DATABASE_URL=scratch_db.url)
    processes = [_popen_migrate(env, workdir) for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    assert sum("migrate: applied" in o for o in outputs) == 1, outputs
    assert sum("migrate: already at head" in o for o in outputs) == 2, outputs
    assert sorted(await _versions(scratch_db.url) or []) == sorted(head_revisions())
