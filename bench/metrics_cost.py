"""Per-request cost of the HTTP metrics: `MetricsMiddleware` vs prometheus-fastapi-instrumentator.

`python -m bench.metrics_cost` times each middleware alone, in process, around an inner app that
answers at once (the router's `scope["route"]` set as FastAPI sets it), over the reference app's
real routes: CPU microseconds per request on GET /health (uninstrumented) and on GET
/api/v1/todos, median of interleaved rounds. The machine's other load barely moves these figures,
unlike a wrk run's. `--servers` also runs the reference app three times under wrk (PostgreSQL at
`--admin-url`, one uvicorn worker each, rate limiting off) and reports the servers' CPU time per
request; on a shared machine its rounds vary far more than the difference measured.
Results and the decision: bench/METRICS_COST.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from prometheus_client import CollectorRegistry
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libkoiki.observability.metrics import (
    UNINSTRUMENTED_PATHS,
    UNINSTRUMENTED_PREFIXES,
    MetricsMiddleware,
)
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
EXCLUDED = [f"^{path}$" for path in UNINSTRUMENTED_PATHS] + [
    f"^{prefix}" for prefix in UNINSTRUMENTED_PREFIXES
]
PATHS = ("/health", "/api/v1/todos")


def package_middleware(app: ASGIApp, *, routes: Any, registry: CollectorRegistry) -> ASGIApp:
    from prometheus_fastapi_instrumentator.middleware import PrometheusInstrumentatorMiddleware

    return PrometheusInstrumentatorMiddleware(app, registry=registry, excluded_handlers=EXCLUDED)


# --- in process -------------------------------------------------------------------------------


def _route(routes: list[BaseRoute], path: str) -> BaseRoute:
    scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": []}
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        candidates = (
            [getattr(c, "starlette_route", None) or c for c in contexts()]
            if callable(contexts)
            else [route]
        )
        for candidate in candidates:
            if candidate.matches(scope)[0] is Match.FULL:
                return candidate  # type: ignore[no-any-return]
    raise LookupError(path)


def in_process(rounds: int, requests: int) -> dict[tuple[str, str], list[float]]:
    os.environ.update(METRICS_ENABLED="false", RATE_LIMIT_ENABLED="false", LOG_LEVEL="WARNING")
    from app.main import create_app

    app = create_app()
    routes = app.router.routes
    todo_route = _route(routes, "/api/v1/todos")
    body = b'{"items":[],"total":0,"skip":0,"limit":20}'
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]

    async def inner(scope: Scope, _receive: Receive, send: Send) -> None:
        if scope["path"] != "/health":
            scope["route"] = todo_route
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(_message: Message) -> None:
        return

    variants: dict[str, ASGIApp] = {
        "none": inner,
        "handmade": MetricsMiddleware(inner, routes=routes, registry=CollectorRegistry()),
        "package": package_middleware(inner, routes=routes, registry=CollectorRegistry()),
    }

    def scope_for(path: str) -> Scope:
        return {
            "type": "http", "path": path, "method": "GET", "root_path": "", "app": app,
            "headers": [(b"host", b"api"), (b"authorization", b"Bearer x")],
            "query_string": b"limit=20", "scheme": "http", "server": ("api", 80),
            "client": ("127.0.0.1", 50000),
        }  # fmt: skip

    async def run() -> dict[tuple[str, str], list[float]]:
        figures: dict[tuple[str, str], list[float]] = {}
        for _round in range(rounds):
            for path in PATHS:
                for name, middleware in variants.items():
                    started = time.process_time()
                    for _ in range(requests):
                        await middleware(scope_for(path), receive, send)
                    used = time.process_time() - started
                    figures.setdefault((path, name), []).append(used / requests * 1e6)
        return figures

    return asyncio.run(run())


# --- three servers under wrk ------------------------------------------------------------------


def _factory(variant: str) -> Callable[[], Any]:
    def build() -> Any:
        from libkoiki.observability import exposition

        if variant == "package":
            exposition.MetricsMiddleware = package_middleware  # type: ignore[assignment,misc]
        from app.main import create_app

        return create_app()

    return build


handmade, package, none = _factory("handmade"), _factory("package"), _factory("none")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(url: str, lua: Path, duration: float) -> int:
    output = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{duration:g}s", "-s", str(lua), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in output:
        raise SystemExit(f"failed requests, the figures are void:\n{output}")
    return next(int(line.split()[0]) for line in output.splitlines() if "requests in" in line)


async def _database(admin_url: str, name: str, *, create: bool) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def servers(admin_url: str, rounds: int, duration: float) -> dict[tuple[str, str], list[float]]:
    from bench.seed import seed
    from libkoiki.config import Settings

    name = f"koiki_metrics_cost_{os.getpid()}"
    asyncio.run(_database(admin_url, name, create=True))
    url = f"{admin_url.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+asyncpg://")
    env = {
        **os.environ, "APP_ENV": "production", "DATABASE_URL": url,
        "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
        "JWT_SECRET": "bench-jwt-secret-0123456789abcdef0123456789",
        "ACCESS_TOKEN_EXPIRE_MINUTES": "1440", "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING", "DB_POOL_SIZE": "5", "CORS_ORIGINS": "https://app.example.com",
        "TRUSTED_HOSTS": "127.0.0.1,localhost",
    }  # fmt: skip
    env.pop("REDIS_URL", None)
    processes: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
    try:
        alembic = [sys.executable, "-m", "alembic", "upgrade", "head"]
        subprocess.run(alembic, cwd=ROOT, env=env, check=True, capture_output=True)
        work = Path(tempfile.mkdtemp(prefix="metrics-cost-"))
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=url,
            secret_key=env["SECRET_KEY"],
            jwt_secret=env["JWT_SECRET"],
            access_token_expire_minutes=1440,
        )
        token = asyncio.run(seed(settings, 1, work)).users.read_text().split("\t")[2].strip()
        lua = work / "token.lua"
        lua.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
        for variant in ("handmade", "package", "none"):
            port = free_port()
            variant_env = {**env, "METRICS_ENABLED": "false" if variant == "none" else "true"}
            command = [
                sys.executable, "-m", "uvicorn", f"bench.metrics_cost:{variant}", "--factory",
                "--port", str(port), "--loop", "uvloop", "--http", "httptools",
                "--no-access-log", "--log-level", "warning",
            ]  # fmt: skip
            processes[variant] = (port, subprocess.Popen(command, cwd=ROOT, env=variant_env))
        for port, _process in processes.values():
            for _ in range(150):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
        figures: dict[tuple[str, str], list[float]] = {}
        for _round in range(rounds):
            for path in ("/health", "/api/v1/todos?limit=20"):
                for variant, (port, process) in processes.items():
                    before = _cpu_seconds(process.pid)
                    served = _wrk(f"http://127.0.0.1:{port}{path}", lua, duration)
                    used = _cpu_seconds(process.pid) - before
                    figures.setdefault((path, variant), []).append(used / served * 1e6)
        return figures
    finally:
        for _port, process in processes.values():
            process.terminate()
            process.wait(timeout=15)
        asyncio.run(_database(admin_url, name, create=False))


def report(title: str, figures: dict[tuple[str, str], list[float]]) -> None:
    print(title)
    for (path, variant), values in figures.items():
        rounds = " ".join(f"{value:.1f}" for value in values)
        print(f"  {path:24} {variant:9} {statistics.median(values):8.1f} us/req  ({rounds})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--servers", action="store_true")
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument(
        "--admin-url", default="postgresql://koiki_ci:koiki_ci@127.0.0.1:5432/postgres"
    )
    options = parser.parse_args()
    report("in process, CPU per request", in_process(options.rounds, options.requests))
    if options.servers:
        report(
            "uvicorn + wrk, server CPU per request",
            servers(options.admin_url, options.rounds, options.duration),
        )


if __name__ == "__main__":
    main()
