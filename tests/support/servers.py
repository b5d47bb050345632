"""Real servers of a test's own: free loopback ports, throwaway PostgreSQL clusters and Redis.

The shared servers serve every engineer's tests, so outages are rehearsed on servers of our own.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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

    def init_and_start(self) -> ThrowawayPostgres:
        self.init()
        self.start()
        return self

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


class RedisServer:
    """A throwaway redis-server on a free loopback port, to stop and restart inside a test."""

    def __init__(
        self,
        directory: Path,
        *options: str,
        launcher: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        """`options`: more redis-server arguments (`--replicaof`, `--requirepass`...);
        `launcher`: a script that runs redis-server with the arguments (and `env`)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary
        self.directory = directory
        self.options = options
        self.launcher = launcher or (binary,)
        self.env = env
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *self.launcher,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                *self.options,
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    # -NOAUTH: up, and asking for the password it was given
                    if sock.recv(16).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def freeze(self) -> None:
        """Keep the port open but answer nothing: a hung Redis rather than a dead one."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[int]:
    """`app` behind a real uvicorn in this event loop, on a free loopback port (yielded)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.025)
    try:
        assert server.started, "uvicorn did not start"
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


def start_uvicorn(
    port: int, env: dict[str, str], log: Path, *options: str
) -> subprocess.Popen[bytes]:
    """The real app (`main:app`) in a uvicorn process of its own, its output in `log`; without
    docstrings (PYTHONOPTIMIZE=2) unless `env` says otherwise, as docker-entrypoint.sh starts it."""
    with log.open("wb") as handle:
        return subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1",
                "--port", str(port), "--app-dir", str(REPO_ROOT), *options,
            ],
            env={"PYTHONOPTIMIZE": "2", **env}, cwd=log.parent, stdout=handle,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


# For polling servers that are starting. `httpx.get` builds a TLS context on every call (~40 ms of
# CPU), which polling every 0.1 s takes from the servers it waits for; one client, without
# keep-alive (every probe on a fresh connection, none left open), costs well under 1 ms a probe.
_probe = httpx.Client(timeout=1, limits=httpx.Limits(max_keepalive_connections=0))


def serves_health(port: int) -> bool:
    try:
        return _probe.get(f"http://127.0.0.1:{port}/health").status_code == 200
    except httpx.TransportError:
        return False


def stop_process(process: subprocess.Popen[Any], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
