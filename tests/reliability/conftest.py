"""The real app in uvicorn processes of a test's own, always stopped afterwards (failures too)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic import command

from libkoiki.db.migrations import alembic_config
from tests.ops.support import STRONG_JWT_SECRET, STRONG_SECRET, ops_env, wait_until
from tests.support.replication import ReplicatedPostgres
from tests.support.servers import free_port, serves_health, start_uvicorn, stop_process


@dataclass
class AppServer:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


AppServerFactory = Callable[..., AppServer]


@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[AppServerFactory]:
    """`app_server(DATABASE_URL=..., **more_env)` -> a started uvicorn serving the real app."""
    started: list[AppServer] = []

    def start(*uvicorn_options: str, **env: str) -> AppServer:
        port = free_port()
        environment = ops_env(SECRET_KEY=STRONG_SECRET, JWT_SECRET=STRONG_JWT_SECRET, **env)
        log = tmp_path / f"uvicorn-{port}.log"
        server = AppServer(port, start_uvicorn(port, environment, log, *uvicorn_options), log)
        started.append(server)
        up = wait_until(
            lambda: server.process.poll() is not None or serves_health(port), timeout=60
        )
        assert up, server.log_tail()
        assert server.process.poll() is None, server.log_tail()
        return server

    yield start
    for server in started:
        stop_process(server.process)


@pytest.fixture(scope="session")
def replicated_postgres() -> Iterator[ReplicatedPostgres]:
    """A primary and a streaming standby of the session's own, migrated; shared by the failover
    and read replica proofs (each leaves a primary with a streaming standby behind)."""
    cluster = ReplicatedPostgres()
    try:
        cluster.start()
        command.upgrade(alembic_config(cluster.primary.url), "head")
        yield cluster
    finally:
        cluster.cleanup()
