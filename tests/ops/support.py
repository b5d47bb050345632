"""Helpers for the operations and deployment tests: real processes, real PostgreSQL.

- `ops_env()`: an environment for running `python -m ops` / the entrypoint / uvicorn as a child
  process, with none of the developer's KOIKI settings leaking in;
- `ScratchDatabase`: a uniquely named database on the test server, dropped afterwards;
- `ThrowawayPostgres`: a PostgreSQL cluster of our own (initdb + pg_ctl on a free port), which a
  test may stop and start without disturbing the shared server.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from libkoiki.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO_ROOT / "docker-entrypoint.sh"
# Strong enough for production checks, obviously not real.
STRONG_SECRET = "ops-test-secret-key-0123456789abcdefghijklmnop"
STRONG_JWT_SECRET = "ops-test-jwt-secret-0123456789abcdefghijklmnop"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ops_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in Settings.model_fields:
        env.pop(name.upper(), None)
    for name in ("FORWARDED_ALLOW_IPS", "KOIKI_STARTUP_TASKS", "RUN_MIGRATIONS"):
        env.pop(name, None)
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        PATH=bin_dir + os.pathsep + env.get("PATH", ""),
        PYTHON=sys.executable,
        PYTHONUNBUFFERED="1",
        APP_ENV="development",
        LOG_LEVEL="WARNING",
    )
    env.update(overrides)
    return env


def run_ops(
    *args: str, env: dict[str, str], cwd: Path, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def server_url(database: str, base: str) -> str:
    """`base` is a PostgreSQL server URL (any driver spelling); point it at `database`."""
    url = make_url(base).set(drivername="postgresql", database=database)
    return url.render_as_string(hide_password=False)


async def pg_connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url)


class ScratchDatabase:
    def __init__(self, base_url: str, label: str) -> None:
        self.base_url = base_url
        self.name = f"koiki_ops_{label}_{uuid.uuid4().hex[:8]}"
        self.url = server_url(self.name, base_url)
        self.admin_url = server_url("postgres", base_url)

    async def create(self) -> None:
        admin = await pg_connect(self.admin_url)
        try:
            await admin.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await admin.close()

    async def drop(self, name: str | None = None) -> None:
        admin = await pg_connect(self.admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name or self.name}" WITH (FORCE)')
        finally:
            await admin.close()

    async def exists(self, name: str | None = None) -> bool:
        admin = await pg_connect(self.admin_url)
        try:
            found = await admin.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", name or self.name
            )
        finally:
            await admin.close()
        return bool(found)


def _postgres_bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if found:
        return found[-1]
    on_path = shutil.which(tool)
    if on_path is None:
        raise RuntimeError(f"{tool} not found (install the PostgreSQL server package)")
    return on_path


class ThrowawayPostgres:
    """A private cluster. As root, the server runs as the `postgres` user (initdb refuses root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="koiki-pg-"))
        self.data = self.dir / "data"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.dir, user="postgres", group="postgres")

    def _run(self, *command: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        return subprocess.run(
            [*prefix, *command], capture_output=True, text=True, check=True, timeout=60, **kwargs
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self._run(
            _postgres_bin("initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            _postgres_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.dir / "server.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(
                _postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
            )

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def wait_until(predicate: Any, *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
