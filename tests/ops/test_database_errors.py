"""The database errors a newcomer meets first, as one clear line: `make migrate`, an `ops`
command and the app's start-up, against a real PostgreSQL that checks passwords.

Each failure names what is wrong and what to check, prints no traceback and exits non-zero; the
app refuses to start on what only a configuration change fixes, and starts (answering 503) when
the server is merely down, since it may come back.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.ops.support import REPO_ROOT, ThrowawayPostgres, free_port, ops_env

pytestmark = pytest.mark.postgres_only

PASSWORD = "right-password"


@pytest.fixture(scope="module")
def guarded_pg() -> Iterator[ThrowawayPostgres]:
    """A cluster that checks the password of `postgres` over TCP and trusts any other role, so a
    role that does not exist is reported as such (password auth would not tell)."""
    server = ThrowawayPostgres()
    server.init()
    (server.data / "pg_hba.conf").write_text(
        "local all all trust\n"
        "host all postgres 127.0.0.1/32 scram-sha-256\n"
        "host all all 127.0.0.1/32 trust\n"
    )
    server.start()

    async def set_password() -> None:
        connection = await asyncpg.connect(host=str(server.dir), port=server.port, user="postgres")
        await connection.execute(f"ALTER ROLE postgres PASSWORD '{PASSWORD}'")
        await connection.close()

    try:
        asyncio.run(set_password())
        yield server
    finally:
        server.cleanup()


def _cases(pg: ThrowawayPostgres) -> dict[str, tuple[str, str, bool]]:
    """name -> (DATABASE_URL, what the line must say, whether waiting cannot fix it)."""
    where = f"127.0.0.1:{pg.port}"
    closed = free_port()
    return {
        "wrong password": (
            f"postgresql://postgres:wrong@{where}/postgres",
            f"the database at {where} refused the password of role 'postgres': check the "
            "password in DATABASE_URL",
            True,
        ),
        "missing role": (
            f"postgresql://koiki:secret@{where}/koiki",
            f"the database server at {where} has no role 'koiki': create it",
            True,
        ),
        "missing database": (
            f"postgresql://postgres:{PASSWORD}@{where}/koiki",
            f"the database server at {where} has no database 'koiki': create it",
            True,
        ),
        "closed port": (
            f"postgresql://postgres:{PASSWORD}@127.0.0.1:{closed}/postgres",
            f"nothing accepts connections at 127.0.0.1:{closed} (connection refused): is "
            "PostgreSQL running",
            False,
        ),
    }


CASE_NAMES = ["wrong password", "missing role", "missing database", "closed port"]


def _assert_one_clear_line(
    completed: subprocess.CompletedProcess[str], prefix: str, said: str
) -> None:
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output
    assert "Traceback" not in output, output
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith(prefix + said), output


def _outside_make(env: dict[str, str]) -> dict[str, str]:
    """As from a terminal, even when the test suite itself runs under `make test`."""
    return {
        name: value
        for name, value in env.items()
        if name not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    }


@pytest.mark.parametrize("case", CASE_NAMES)
def test_make_migrate_says_what_is_wrong(
    guarded_pg: ThrowawayPostgres, case: str, tmp_path: Path
) -> None:
    url, said, _ = _cases(guarded_pg)[case]
    completed = subprocess.run(
        # -o: the README's `make migrate`, without re-checking the installed packages.
        ["make", "--no-print-directory", "-s", "-o", ".venv/.installed", "migrate"],
        cwd=REPO_ROOT,
        env=_outside_make(ops_env(DATABASE_URL=url)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output
    assert "Traceback" not in output, output
    ours = [line for line in completed.stderr.splitlines() if line.startswith("migrate: ")]
    assert len(ours) == 1, output
    assert ours[0].startswith("migrate: " + said), output
    # Besides our line, only make's own note that the recipe failed.
    others = [line for line in completed.stderr.splitlines() if line.strip() and line not in ours]
    assert all(re.match(r"make(\[\d+\])?: \*\*\* ", line) for line in others), output


@pytest.mark.parametrize("case", CASE_NAMES)
def test_ops_commands_say_what_is_wrong(
    guarded_pg: ThrowawayPostgres, case: str, tmp_path: Path
) -> None:
    url, said, _ = _cases(guarded_pg)[case]
    env = ops_env(DATABASE_URL=url)
    for args, stdin in (
        (["migrate"], None),
        (
            ["create-superuser", "--email", "root@example.com", "--password-stdin"],
            "Koiki-root-pass-1\n",
        ),
    ):
        completed = subprocess.run(
            [sys.executable, "-m", "ops", *args],
            cwd=tmp_path,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 1, completed.stderr
        _assert_one_clear_line(completed, f"{args[0]}: ", said)


@pytest.mark.parametrize("case", CASE_NAMES)
def test_app_start_up_says_what_is_wrong(
    guarded_pg: ThrowawayPostgres, case: str, tmp_path: Path
) -> None:
    url, said, permanent = _cases(guarded_pg)[case]
    port = free_port()
    env = ops_env(DATABASE_URL=url, LOG_LEVEL="INFO", LOG_FORMAT="json")
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        if permanent:
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == 3, stderr  # uvicorn's "start-up failed"
            assert "Traceback" not in stderr, stderr
            refusals = [line for line in stderr.splitlines() if '"database_refused"' in line]
            assert len(refusals) == 1, stderr
            assert said in refusals[0].replace('\\"', '"'), stderr
            return
        # Merely down: the app starts, says so once, and answers 503 until the server is back.
        for _ in range(600):
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5)
                break
            except httpx.HTTPError:
                assert process.poll() is None, process.communicate()[1]
                time.sleep(0.1)
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("error")
    finally:
        if process.poll() is None:
            process.terminate()
    _, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr, stderr
    warnings = [line for line in stderr.splitlines() if '"database_unavailable"' in line]
    assert len(warnings) == 1, stderr
    assert said in warnings[0], stderr
