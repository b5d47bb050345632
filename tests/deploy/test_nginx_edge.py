"""docker/nginx/nginx.conf run for real: nginx (TLS, self-signed certificate made here) in front of
three uvicorn replicas of the real app on loopback, plus a static stand-in for the frontend.

The config is the production file with only hosts, ports and paths rewritten (nginx_render.py).
Which replica answered is read from nginx's own access log (`upstream=` in the real log format).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy.nginx_render import RenderPlan, make_self_signed, render
from tests.ops.support import (
    REPO_ROOT,
    STRONG_JWT_SECRET,
    STRONG_SECRET,
    ScratchDatabase,
    free_port,
    ops_env,
    run_ops,
    wait_until,
)

pytestmark = pytest.mark.postgres_only

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

STATIC_JS = "/_next/static/chunks/app-0123abcd.js"
LOAD_REQUESTS = 600
LOAD_CONCURRENCY = 8
KILL_AFTER = 150


def _in_thread(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion on a loop of its own (this fixture is synchronous)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass
class Edge:
    https: str
    http: str
    ca_file: Path
    access_log: Path
    replica_ports: list[int]
    replicas: list[subprocess.Popen[bytes]]

    def client(self, **kwargs: Any) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return httpx.Client(base_url=self.https, verify=context, timeout=10, **kwargs)

    def retried_away_from(self, prefix: str, port: str) -> int:
        """Requests nginx first sent to `port`, then retried on another replica."""
        retried = 0
        for line in self.access_log.read_text().splitlines():
            upstream = re.search(r" upstream=(.*?) urt=", line)
            if f" rid={prefix}" in line and upstream and "," in upstream.group(1):
                retried += upstream.group(1).split(",")[0].strip().endswith(f":{port}")
        return retried

    def upstreams_for(self, prefix: str) -> Counter[str]:
        """Replica port -> number of requests with a request id starting with `prefix`; a retried
        request counts for the replica that finally answered (the last address nginx tried)."""
        counts: Counter[str] = Counter()
        for line in self.access_log.read_text().splitlines():
            rid = re.search(r" rid=(\S+)", line)
            upstream = re.search(r" upstream=(.*?) urt=", line)
            if rid and upstream and rid.group(1).startswith(prefix):
                last = upstream.group(1).split(",")[-1].strip()
                counts[last.rsplit(":", 1)[-1]] += 1
        return counts


def _start_replica(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1",
                "--port", str(port), "--proxy-headers", "--timeout-keep-alive", "75",
                "--app-dir", str(REPO_ROOT),
            ],
            env=env, cwd=log.parent, stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def edge() -> Iterator[Edge]:
    if NGINX is None:
        # Optional on a developer's machine, never in CI (.ci/deploy-checks.sh installs it there).
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is not installed; CI must run .ci/deploy-checks.sh first")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    base_url = os.environ["KOIKI_TEST_DATABASE_URL"]
    database = ScratchDatabase(base_url, "edge")
    _in_thread(database.create())
    # nginx workers run as an unprivileged user when started by root: the prefix must be
    # traversable, so it lives in its own world-readable temp dir, not under pytest's 0700 one.
    root = Path(tempfile.mkdtemp(prefix="koiki-edge-"))
    root.chmod(0o755)
    processes: list[subprocess.Popen[Any]] = []
    try:
        env = ops_env(
            APP_ENV="production",
            DATABASE_URL=database.url,
            SECRET_KEY=STRONG_SECRET,
            JWT_SECRET=STRONG_JWT_SECRET,
            CORS_ORIGINS="https://koiki.example",
            RATE_LIMIT_ENABLED="false",  # the load below comes from one address on purpose
            TRUSTED_PROXIES="127.0.0.1/32",
            FORWARDED_ALLOW_IPS="127.0.0.1",
            DB_POOL_SIZE="2",
            DB_MAX_OVERFLOW="2",
        )
        migrated = run_ops("migrate", env=env, cwd=root)
        assert migrated.returncode == 0, migrated.stderr

        replica_ports = [free_port() for _ in range(3)]
        replicas = [
            _start_replica(port, env, root / f"replica-{port}.log") for port in replica_ports
        ]
        processes.extend(replicas)

        static_root = root / "frontend"
        asset = static_root / STATIC_JS.lstrip("/")
        asset.parent.mkdir(parents=True)
        asset.write_text("export const greeting = 'hello from the build';\n" * 200)
        (static_root / "index.html").write_text("<!doctype html><title>koiki</title>")
        frontend_port = free_port()
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "http.server",
                    "--bind",
                    "127.0.0.1",
                    "--directory",
                    str(static_root),
                    str(frontend_port),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

        tls_dir = root / "tls"
        make_self_signed(tls_dir)
        http_port, https_port = free_port(), free_port()
        plan = RenderPlan(
            prefix=root / "nginx",
            http_port=http_port,
            https_port=https_port,
            tls_dir=tls_dir,
            upstreams={"app": replica_ports, "frontend": [frontend_port]},
        )
        conf = root / "nginx" / "nginx.conf"
        conf.parent.mkdir()
        conf.write_text(render(plan))
        error_log = plan.prefix / "logs" / "error.log"
        nginx_args = ["-p", str(plan.prefix), "-c", str(conf), "-e", str(error_log)]
        nginx = subprocess.Popen(
            [NGINX, *nginx_args, "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(nginx)

        assert wait_until(lambda: all(_healthy(p) for p in replica_ports), timeout=90), [
            (root / f"replica-{p}.log").read_text()[-2000:] for p in replica_ports
        ]
        edge = Edge(
            https=f"https://127.0.0.1:{https_port}",
            http=f"http://127.0.0.1:{http_port}",
            ca_file=tls_dir / "fullchain.pem",
            access_log=plan.prefix / "logs" / "access.log",
            replica_ports=replica_ports,
            replicas=replicas,
        )

        def nginx_up() -> bool:
            try:
                with edge.client() as client:
                    return client.get("/health").status_code == 200
            except httpx.TransportError:
                return False

        assert wait_until(nginx_up, timeout=30), (plan.prefix / "logs" / "error.log").read_text()
        yield edge
    finally:
        for process in reversed(processes):
            _stop(process)
        _in_thread(database.drop())
        shutil.rmtree(root, ignore_errors=True)


def test_https_answers_with_the_app_and_security_headers(edge: Edge) -> None:
    with edge.client() as client:
        response = client.get("/health", headers={"X-Request-ID": "edge-headers-1"})
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    # The request id crosses nginx both ways.
    assert response.headers["x-request-id"] == "edge-headers-1"
    # One copy of each security header (the app's are hidden behind nginx's).
    assert response.headers.get_list("strict-transport-security") == [
        "max-age=31536000; includeSubDomains"
    ]
    assert response.headers.get_list("x-frame-options") == ["DENY"]
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["server"] == "nginx"  # no version number


def test_http_redirects_to_https(edge: Edge) -> None:
    response = httpx.get(f"{edge.http}/api/v1/todos?page=2", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"].startswith("https://127.0.0.1")
    assert response.headers["location"].endswith("/api/v1/todos?page=2")


def test_metrics_are_not_public(edge: Edge) -> None:
    direct = httpx.get(f"http://127.0.0.1:{edge.replica_ports[0]}/metrics")
    assert direct.status_code == 200  # the app serves them on the internal network...
    with edge.client() as client:
        for path in ("/metrics", "/metrics/"):
            response = client.get(path)
            assert response.status_code == 404  # ...nginx does not
            assert "http_request" not in response.text


def test_oversize_body_is_refused_at_the_edge_in_the_apps_format(edge: Edge) -> None:
    with edge.client() as client:
        response = client.post(
            "/api/v1/auth/login",
            content=b"x" * (2 * 1024 * 1024),
            headers={"Content-Type": "application/json", "X-Request-ID": "edge-413"},
        )
    assert response.status_code == 413
    assert response.json() == {
        "detail": "Request body is larger than the limit of 1048576 bytes",
        "code": "payload_too_large",
        "request_id": "edge-413",
    }
    assert response.headers["x-frame-options"] == "DENY"


def test_next_static_assets_are_cached_for_a_year_and_compressed(edge: Edge) -> None:
    with edge.client() as client:
        response = client.get(STATIC_JS, headers={"Accept-Encoding": "gzip"})
        page = client.get("/")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-encoding"] == "gzip"
    assert "hello from the build" in response.text
    # The location's own add_header must not have dropped the security headers.
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    assert page.status_code == 200
    assert "<title>koiki</title>" in page.text


def test_requests_spread_over_the_three_replicas(edge: Edge) -> None:
    with edge.client() as client:
        for i in range(90):
            assert (
                client.get("/health", headers={"X-Request-ID": f"edge-spread-{i}"}).status_code
                == 200
            )
    time.sleep(0.2)  # the access log line is written after the response
    counts = edge.upstreams_for("edge-spread-")
    assert sum(counts.values()) == 90
    assert set(counts) == {str(p) for p in edge.replica_ports}, counts
    assert min(counts.values()) >= 15, counts  # round robin: about 30 each


def test_killing_a_replica_under_load_loses_no_get(edge: Edge) -> None:
    # Must run last in this module: it leaves two replicas.
    victim = edge.replicas[1]
    victim_port = str(edge.replica_ports[1])
    done = 0
    lock = threading.Lock()
    killed = threading.Event()
    failures: list[str] = []

    def one(i: int, client: httpx.Client) -> None:
        nonlocal done
        try:
            response = client.get("/health", headers={"X-Request-ID": f"edge-load-{i}"})
            if response.status_code != 200:
                failures.append(f"{i}: {response.status_code} {response.text[:100]}")
        except httpx.HTTPError as exc:
            failures.append(f"{i}: {exc!r}")
        with lock:
            done += 1
            if done == KILL_AFTER:
                victim.kill()
                killed.set()

    started = time.monotonic()
    limits = httpx.Limits(max_connections=LOAD_CONCURRENCY)
    with edge.client(limits=limits) as client, ThreadPoolExecutor(LOAD_CONCURRENCY) as pool:
        for future in [pool.submit(one, i, client) for i in range(LOAD_REQUESTS)]:
            future.result(timeout=60)
    elapsed = time.monotonic() - started

    assert killed.is_set()
    assert victim.wait(timeout=5) == -signal.SIGKILL
    assert failures == [], failures[:10]
    assert elapsed < 60
    time.sleep(0.2)
    counts = edge.upstreams_for("edge-load-")
    assert sum(counts.values()) == LOAD_REQUESTS
    # Before the kill all three answered; afterwards the other two carried the load.
    survivors = {str(p) for p in edge.replica_ports} - {victim_port}
    assert all(counts[port] > KILL_AFTER // 4 for port in survivors), counts
    assert counts[victim_port] < KILL_AFTER, counts
    # The kill was felt: requests nginx had sent to the dead replica were retried elsewhere.
    assert edge.retried_away_from("edge-load-", victim_port) >= 1
