"""Helpers for the operations and deployment tests: real processes, real PostgreSQL.

- `ops_env()`: an environment for running `python -m ops` / the entrypoint / uvicorn as a child
  process, with none of the developer's KOIKI settings leaking in;
- `ScratchDatabase`: a uniquely named database on the test server, dropped afterwards;
- `ThrowawayPostgres` and `free_port` (from tests/support/servers.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from libkoiki.config import Settings
from tests.support.servers import ThrowawayPostgres, free_port

__all__ = ["ThrowawayPostgres", "free_port"]

REPO_ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO_ROOT / "docker-entrypoint.sh"
# Strong enough for production checks, obviously not real.
STRONG_SECRET = "ops-test-secret-key-0123456789abcdefghijklmnop"
STRONG_JWT_SECRET = "ops-test-jwt-secret-0123456789abcdefghijklmnop"


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


def run_entrypoint(
    *command: str, env: dict[str, str], cwd: Path, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """docker-entrypoint.sh run to its end with `command`, its output captured."""
    return subprocess.run(
        ["bash", str(ENTRYPOINT), *command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


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

    async def create(self, template: ScratchDatabase | None = None) -> None:
        """Empty, or a copy of `template` (nothing may be connected to it meanwhile)."""
        copy = f' TEMPLATE "{template.name}"' if template is not None else ""
        admin = await pg_connect(self.admin_url)
        try:
            await admin.execute(f'CREATE DATABASE "{self.name}"{copy}')
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


def wait_until(predicate: Any, *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
