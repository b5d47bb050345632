"""docker-entrypoint.sh, run for real: waiting for PostgreSQL, migrations applied exactly once when
replicas start together, and a clear failure when the database never comes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from libkoiki.db.migrations import head_revisions
from tests.ops.support import (
    ENTRYPOINT,
    STRONG_JWT_SECRET,
    STRONG_SECRET,
    ScratchDatabase,
    ThrowawayPostgres,
    free_port,
    ops_env,
    run_entrypoint,
    wait_until,
)
from tests.support.servers import serves_health

pytestmark = pytest.mark.postgres_only

MARKER = "ENTRYPOINT-COMMAND-RAN"


def _start(env: dict[str, str], cwd: Path, log: Path, *command: str) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        ["bash", str(ENTRYPOINT), *command], env=env, cwd=cwd, stdout=handle, stderr=handle
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_entrypoint_waits_for_stopped_postgres_then_proceeds(
    throwaway_pg: ThrowawayPostgres, workdir: Path
) -> None:
    env = ops_env(
        DATABASE_URL=throwaway_pg.url,
        DB_WAIT_RETRIES="120",
        DB_WAIT_INTERVAL_SECONDS="0.25",
        KOIKI_STARTUP_TASKS="always",
    )
    log = workdir / "entrypoint.log"
    process = _start(env, workdir, log, sys.executable, "-c", f"print('{MARKER}')")
    try:
        # PostgreSQL is stopped: the entrypoint keeps trying and does not run the command.
        assert wait_until(lambda: log.read_text().count("not ready") >= 3, timeout=30)
        assert process.poll() is None, log.read_text()
        assert MARKER not in log.read_text()

        throwaway_pg.start()
        process.wait(timeout=90)
    finally:
        _stop(process)

    output = log.read_text()
    assert process.returncode == 0, output
    assert output.index("not ready") < output.index("is up") < output.index("migrate: applied")
    assert output.rstrip().endswith(MARKER)


def test_entrypoint_gives_up_with_a_clear_error(
    throwaway_pg: ThrowawayPostgres, workdir: Path
) -> None:
    env = ops_env(
        DATABASE_URL=throwaway_pg.url,
        DB_WAIT_RETRIES="3",
        DB_WAIT_INTERVAL_SECONDS="0.2",
        KOIKI_STARTUP_TASKS="always",
    )
    started = time.monotonic()
    completed = run_entrypoint(
        sys.executable, "-c", f"print('{MARKER}')", env=env, cwd=workdir, timeout=60
    )
    assert completed.returncode != 0
    assert time.monotonic() - started < 30
    assert "still unreachable after 3 attempts" in completed.stderr
    assert "DATABASE_URL" in completed.stderr
    assert MARKER not in completed.stdout


def test_one_off_commands_skip_startup_tasks(workdir: Path) -> None:
    # `docker compose run app python -m ops backup` must not migrate before the backup.
    env = ops_env(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", DB_WAIT_RETRIES="1")
    completed = run_entrypoint(sys.executable, "-c", f"print('{MARKER}')", env=env, cwd=workdir)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == MARKER
    assert "wait-for-db" not in completed.stderr


def test_only_the_server_runs_without_docstrings_unless_told_otherwise(workdir: Path) -> None:
    # A stand-in named like the server that reports its interpreter's optimisation level.
    server = workdir / "uvicorn"
    server.write_text(
        f"#!/bin/sh\nexec {sys.executable} -c 'import sys; print(sys.flags.optimize)'\n"
    )
    server.chmod(0o755)

    def optimisation(*command: str, **env: str) -> str:
        completed = run_entrypoint(
            *command, env=ops_env(KOIKI_STARTUP_TASKS="never", **env), cwd=workdir
        )
        assert completed.returncode == 0, completed.stderr
        return completed.stdout.strip()

    assert optimisation(str(server)) == "2"
    assert optimisation(str(server), PYTHONOPTIMIZE="0") == "0"
    assert optimisation(sys.executable, "-c", "import sys; print(sys.flags.optimize)") == "0"


async def test_three_replicas_starting_together_migrate_once(
    scratch_db: ScratchDatabase, tmp_path: Path
) -> None:
    ports = [free_port() for _ in range(3)]
    env = ops_env(
        DATABASE_URL=scratch_db.url,
        SECRET_KEY=STRONG_SECRET,
        JWT_SECRET=STRONG_JWT_SECRET,
        DB_POOL_SIZE="2",
        DB_MAX_OVERFLOW="0",
    )
    logs = [tmp_path / f"replica-{i}.log" for i in range(3)]
    processes = [
        _start(
            env,
            tmp_path,
            log,
            "uvicorn",
            "main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--app-dir",
            str(ENTRYPOINT.parent),
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    try:

        def all_healthy() -> bool:
            if any(process.poll() is not None for process in processes):
                return True  # reported below with the log
            return all(serves_health(port) for port in ports)

        # Generous: three interpreters start at once on a 2-core machine. The probe is cheap (no
        # TLS context per call), so polling often takes no CPU from the starting replicas.
        assert wait_until(all_healthy, timeout=180, interval=0.1)
        outputs = [log.read_text() for log in logs]
        for process, output in zip(processes, outputs, strict=True):
            assert process.poll() is None, output
    finally:
        for process in processes:  # all at once, then wait for each
            if process.poll() is None:
                process.terminate()
        for process in processes:
            _stop(process)

    applied = [o for o in outputs if "migrate: applied" in o]
    at_head = [o for o in outputs if "migrate: already at head" in o]
    assert len(applied) == 1, outputs
    assert len(at_head) == 2, outputs
    connection = await asyncpg.connect(scratch_db.url)
    try:
        versions = [
            r["version_num"] for r in await connection.fetch("SELECT * FROM alembic_version")
        ]
    finally:
        await connection.close()
    assert set(versions) == set(head_revisions())
    assert len(versions) == len(head_revisions())
