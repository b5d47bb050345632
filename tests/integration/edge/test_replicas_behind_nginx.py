"""The deployment as the guide draws it: nginx (the real config) in front of three uvicorn
replicas sharing one Redis. Clients connect from different loopback addresses, so nginx's own
`X-Forwarded-For` tells them apart, exactly as it does for clients on the internet.

uvicorn runs with `--no-proxy-headers` here: the client address is resolved by libkoiki's
`TRUSTED_PROXIES` handling alone (the Dockerfile's `--proxy-headers` resolves the same address).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.deploy.nginx_render import RenderPlan, make_self_signed, render
from tests.support.servers import RedisServer, free_port

REPO_ROOT = Path(__file__).resolve().parents[3]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
LIMIT = 6
REPLICAS = 3


@dataclass
class Deployment:
    https_port: int
    ca_file: Path
    access_log: Path

    def client(self, source_address: str) -> httpx.Client:
        """A client whose TCP connections come from `source_address` (any 127.x.y.z works)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        transport = httpx.HTTPTransport(verify=context, local_address=source_address)
        return httpx.Client(
            base_url=f"https://127.0.0.1:{self.https_port}", transport=transport, timeout=10
        )

    def upstreams(self, request_id_prefix: str) -> set[str]:
        ports = set()
        for line in self.access_log.read_text().splitlines():
            rid = re.search(r" rid=(\S+)", line)
            upstream = re.search(r" upstream=(.*?) urt=", line)
            if rid and upstream and rid.group(1).startswith(request_id_prefix):
                ports.add(upstream.group(1).split(",")[-1].strip().rsplit(":", 1)[-1])
        return ports


def _wait(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def _replica_env(redis_url: str, database: Path) -> dict[str, str]:
    # Only what this deployment sets: nothing from the developer's environment or a .env file.
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        APP_ENV="production",
        SECRET_KEY="edge-replicas-secret-key-0123456789abcdef0123",
        JWT_SECRET="edge-replicas-jwt-secret-0123456789abcdef0123",
        DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX="koiki-edge-replicas:",
        RATE_LIMIT_ENABLED="true",
        RATE_LIMIT_STRATEGY="redis",
        RATE_LIMIT_DEFAULT=f"{LIMIT}/minute",
        CORS_ORIGINS="https://koiki.example",
        TRUSTED_PROXIES="127.0.0.1/32",
        LOG_LEVEL="WARNING",
    )
    return env


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    if NGINX is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is not installed; CI must run .ci/deploy-checks.sh first")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    # nginx workers run unprivileged when started by root: the prefix must be traversable.
    root = Path(tempfile.mkdtemp(prefix="koiki-edge-replicas-"))
    root.chmod(0o755)
    redis = RedisServer(root)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        redis.start()
        env = _replica_env(redis.url, root / "koiki.db")
        ports = [free_port() for _ in range(REPLICAS)]
        command = [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1"]
        for port in ports:
            options = ["--port", str(port), "--no-proxy-headers", "--app-dir", str(REPO_ROOT)]
            with (root / f"replica-{port}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [*command, *options], env=env, cwd=root, stdout=log, stderr=log
                    )
                )
        tls_dir = root / "tls"
        make_self_signed(tls_dir)
        plan = RenderPlan(
            prefix=root / "nginx",
            http_port=free_port(),
            https_port=free_port(),
            tls_dir=tls_dir,
            upstreams={"app": ports, "frontend": [free_port()]},
        )
        conf = plan.prefix / "nginx.conf"
        conf.parent.mkdir()
        conf.write_text(render(plan))
        error_log = plan.prefix / "logs" / "error.log"
        processes.append(
            subprocess.Popen(
                [
                    NGINX,
                    "-p",
                    str(plan.prefix),
                    "-c",
                    str(conf),
                    "-e",
                    str(error_log),
                    "-g",
                    "daemon off;",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

        def replicas_up() -> bool:
            return all(
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
                for port in ports
            )

        assert _wait(replicas_up, 90), [
            (root / f"replica-{port}.log").read_text()[-2000:] for port in ports
        ]
        deployed = Deployment(
            plan.https_port, tls_dir / "fullchain.pem", plan.prefix / "logs" / "access.log"
        )

        def nginx_up() -> bool:
            with deployed.client("127.0.0.1") as client:
                return client.get("/health").status_code == 200

        assert _wait(nginx_up, 30), error_log.read_text() if error_log.exists() else "no log"
        yield deployed
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
        redis.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_one_budget_per_client_across_all_replicas(deployment: Deployment) -> None:
    with deployment.client("127.0.0.2") as alice, deployment.client("127.0.0.3") as bob:
        counted = [
            alice.get("/api/v1/edge-probe", headers={"X-Request-ID": f"edge-replicas-a{i}"})
            for i in range(LIMIT)
        ]
        refused = alice.get("/api/v1/edge-probe", headers={"X-Request-ID": "edge-replicas-a-x"})
        other = bob.get("/api/v1/edge-probe")
    # The budget is counted in Redis: the replicas together allow LIMIT, not LIMIT each.
    assert [r.headers["X-RateLimit-Remaining"] for r in counted] == [
        str(LIMIT - n) for n in range(1, LIMIT + 1)
    ]
    time.sleep(0.2)  # nginx writes the access line after the response
    assert len(deployment.upstreams("edge-replicas-a")) >= 2, "round robin spread the requests"
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "rate_limited"
    assert body["request_id"] == "edge-replicas-a-x"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Content-Security-Policy"].startswith("default-src 'none'")
    # Another client behind the same nginx has a budget of its own.
    assert other.status_code == 404
    assert other.headers["X-RateLimit-Remaining"] == str(LIMIT - 1)


def test_a_client_cannot_borrow_another_address_through_nginx(deployment: Deployment) -> None:
    with deployment.client("127.0.0.4") as mallory, deployment.client("127.0.0.5") as carol:
        assert carol.get("/api/v1/edge-probe").headers["X-RateLimit-Remaining"] == str(LIMIT - 1)
        for _ in range(LIMIT):
            spoofed = mallory.get(
                "/api/v1/edge-probe",
                headers={"X-Forwarded-For": "127.0.0.5", "X-Real-IP": "127.0.0.5"},
            )
        # nginx replaced the forged headers: mallory used up her own budget, not carol's...
        assert spoofed.headers["X-RateLimit-Remaining"] == "0"
        assert mallory.get("/api/v1/edge-probe").status_code == 429
        # ...and carol still has hers.
        assert carol.get("/api/v1/edge-probe").headers["X-RateLimit-Remaining"] == str(LIMIT - 2)


def test_probes_stay_unlimited_behind_nginx(deployment: Deployment) -> None:
    with deployment.client("127.0.0.6") as prober:
        statuses = {prober.get("/health").status_code for _ in range(LIMIT + 3)}
    assert statuses == {200}
