"""docker/nginx/nginx.conf run for real: nginx (TLS, self-signed certificate made here) in front of
uvicorn replicas of the real app on loopback, plus a static stand-in for the frontend.

The config is the production file with only hosts, ports and paths rewritten (nginx_render.py).
Replicas run as the Dockerfile runs them (`--proxy-headers`, nginx as the only forwarded-for
source). Which replica answered is read from nginx's own access log (`upstream=` in the real log
format).
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command

from libkoiki.db.migrations import alembic_config
from tests.deploy.nginx_render import RenderPlan, make_self_signed, render
from tests.ops.support import STRONG_JWT_SECRET, STRONG_SECRET, ops_env, wait_until
from tests.support.servers import free_port, serves_health, start_uvicorn, stop_process

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
STATIC_JS = "/_next/static/chunks/app-0123abcd.js"


@dataclass
class Edge:
    https: str
    http: str
    ca_file: Path
    access_log: Path
    error_log: Path
    replica_ports: list[int]
    replicas: list[subprocess.Popen[bytes]]

    def client(
        self, source_address: str | None = None, limits: httpx.Limits | None = None
    ) -> httpx.Client:
        """A client of nginx; `source_address` (any 127.x.y.z) makes it another client address."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        transport = httpx.HTTPTransport(
            verify=context, local_address=source_address, limits=limits or httpx.Limits()
        )
        return httpx.Client(base_url=self.https, transport=transport, timeout=10)

    def access_lines(self) -> list[tuple[str, list[str], str]]:
        """(request id, upstream addresses tried in order, status) per line of the access log."""
        lines = []
        for line in self.access_log.read_text().splitlines():
            rid = re.search(r" rid=(\S+)", line)
            upstream = re.search(r" upstream=(.*?) urt=", line)
            status = re.search(r'" (\d{3}) ', line)
            if rid and upstream and status:
                tried = [address.strip() for address in upstream.group(1).split(",")]
                lines.append((rid.group(1), tried, status.group(1)))
        return lines

    def retried_away_from(self, prefix: str, port: str) -> int:
        """Requests nginx first sent to `port`, then retried on another replica."""
        return sum(
            1
            for rid, tried, _ in self.access_lines()
            if rid.startswith(prefix) and len(tried) > 1 and tried[0].endswith(f":{port}")
        )

    def upstreams_for(self, prefix: str) -> Counter[str]:
        """Replica port -> number of requests with a request id starting with `prefix`; a retried
        request counts for the replica that finally answered (the last address nginx tried)."""
        counts: Counter[str] = Counter()
        for rid, tried, _ in self.access_lines():
            if rid.startswith(prefix):
                counts[tried[-1].rsplit(":", 1)[-1]] += 1
        return counts


def edge_env(database_url: str, **overrides: str) -> dict[str, str]:
    """A production environment for the replicas, nothing from the developer's leaking in."""
    return ops_env(
        APP_ENV="production",
        DATABASE_URL=database_url,
        SECRET_KEY=STRONG_SECRET,
        JWT_SECRET=STRONG_JWT_SECRET,
        CORS_ORIGINS="https://koiki.example",
        TRUSTED_PROXIES="127.0.0.1/32",
        FORWARDED_ALLOW_IPS="127.0.0.1",
        DB_POOL_SIZE="2",
        DB_MAX_OVERFLOW="2",
        **overrides,
    )


def require_nginx() -> str:
    if NGINX is None:
        # Optional on a developer's machine, never in CI (.ci/deploy-checks.sh installs it there).
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is not installed; CI must run .ci/deploy-checks.sh first")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    return NGINX


@contextmanager
def running_edge(env: Mapping[str, str], replicas: int = 3) -> Iterator[Edge]:
    """Migrate the database in `env`, start the replicas, the frontend stand-in and nginx; stop
    them all afterwards, whatever happened."""
    nginx_binary = require_nginx()
    # nginx workers run as an unprivileged user when started by root: the prefix must be
    # traversable, so it lives in its own world-readable temp dir, not under pytest's 0700 one.
    root = Path(tempfile.mkdtemp(prefix="koiki-edge-"))
    root.chmod(0o755)
    processes: list[subprocess.Popen[Any]] = []
    try:
        # Alembic in this process (in a thread: env.py runs an event loop of its own), not
        # `python -m ops migrate`: the same upgrade without another interpreter's start-up.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(command.upgrade, alembic_config(env["DATABASE_URL"]), "head").result()

        replica_ports = [free_port() for _ in range(replicas)]
        started = [
            start_uvicorn(
                port,
                dict(env),
                root / f"replica-{port}.log",
                "--proxy-headers",
                "--timeout-keep-alive",
                "75",
            )
            for port in replica_ports
        ]
        processes.extend(started)

        static_root = root / "frontend"
        asset = static_root / STATIC_JS.lstrip("/")
        asset.parent.mkdir(parents=True)
        asset.write_text("export const greeting = 'hello from the build';\n" * 200)
        (static_root / "index.html").write_text("<!doctype html><title>koiki</title>")
        frontend_port = free_port()
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                 "--directory", str(static_root), str(frontend_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip

        tls_dir = root / "tls"
        make_self_signed(tls_dir)
        plan = RenderPlan(
            prefix=root / "nginx",
            http_port=free_port(),
            https_port=free_port(),
            tls_dir=tls_dir,
            upstreams={"app": replica_ports, "frontend": [frontend_port]},
        )
        conf = root / "nginx" / "nginx.conf"
        conf.parent.mkdir()
        conf.write_text(render(plan))
        error_log = plan.prefix / "logs" / "error.log"
        processes.append(
            subprocess.Popen(
                [nginx_binary, "-p", str(plan.prefix), "-c", str(conf), "-e", str(error_log),
                 "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip

        assert wait_until(lambda: all(serves_health(p) for p in replica_ports), timeout=90), [
            (root / f"replica-{p}.log").read_text()[-2000:] for p in replica_ports
        ]
        edge = Edge(
            https=f"https://127.0.0.1:{plan.https_port}",
            http=f"http://127.0.0.1:{plan.http_port}",
            ca_file=tls_dir / "fullchain.pem",
            access_log=plan.prefix / "logs" / "access.log",
            error_log=error_log,
            replica_ports=replica_ports,
            replicas=started,
        )

        def nginx_up() -> bool:
            try:
                with edge.client() as client:
                    return client.get("/health").status_code == 200
            except httpx.TransportError:
                return False

        assert wait_until(nginx_up, timeout=30), (
            error_log.read_text() if error_log.exists() else "no error log"
        )
        yield edge
    finally:
        for process in reversed(processes):
            stop_process(process)
        shutil.rmtree(root, ignore_errors=True)
