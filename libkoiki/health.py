"""Service info, liveness and readiness.

`/health` is liveness: it answers as long as the process serves requests and touches nothing
external, so an orchestrator never restarts a healthy replica because the database blinked.
`/health/ready` checks every dependency with a short timeout and names the one that fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Literal

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from libkoiki import __version__
from libkoiki.db.migrations import current_revisions, head_revisions
from libkoiki.observability.framework import record_readiness

logger = structlog.get_logger("koiki.health")
router = APIRouter(tags=["health"])

CheckResult = str


class ServiceInfo(BaseModel):
    service: str
    version: str
    docs: str | None
    health: str


class Liveness(BaseModel):
    status: Literal["healthy"]
    service: str
    version: str
    timestamp: str


class Readiness(BaseModel):
    # degraded: the primary serves everything, but a read replica is down or behind.
    status: Literal["ready", "degraded", "not_ready"]
    checks: dict[str, CheckResult]


@lru_cache(maxsize=2)
def _utc_second(epoch_second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_second))


def utc_timestamp() -> str:
    """Now, as "2026-01-31T12:34:56.789Z"; the date part is formatted once a second."""
    now = time.time()
    second = int(now)
    return f"{_utc_second(second)}.{int((now - second) * 1000):03d}Z"


@router.get("/", response_model=ServiceInfo)
async def service_info(request: Request) -> ServiceInfo:
    settings = request.app.state.settings
    return ServiceInfo(
        service=settings.app_name,
        version=__version__,
        docs="/docs" if settings.docs_on else None,
        health="/health",
    )


@router.get("/health", response_model=Liveness)
async def liveness(request: Request) -> Response:
    """Also served as a plain Starlette route (`install_liveness_probe`): this one documents it."""
    # Every field is ours, none is input: serialized here, without a validation pass.
    body = Liveness(
        status="healthy",
        service=request.app.state.settings.service_name,
        version=__version__,
        timestamp=utc_timestamp(),
    )
    return Response(body.model_dump_json(), media_type="application/json")


class _LivenessProbe:
    """`liveness` as a bare ASGI app: the body is `liveness`'s with only the timestamp made per
    request, so neither a Request, a Response nor a model is built for it."""

    def __init__(self, service: str) -> None:
        # The timestamp is the last field and has a fixed width: split around an empty one.
        empty = Liveness(status="healthy", service=service, version=__version__, timestamp="")
        self._head = empty.model_dump_json().encode().removesuffix(b'"}')
        length = len(self._head) + len(utc_timestamp()) + len('"}')
        self._headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(length).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self._head + utc_timestamp().encode() + b'"}'
        await send({"type": "http.response.start", "status": 200, "headers": self._headers})
        await send({"type": "http.response.body", "body": body})


def install_liveness_probe(app: FastAPI) -> None:
    """Serve `/health` ahead of every other route, as a plain Starlette route (GET and HEAD).

    Orchestrators and load balancers probe it every few seconds on every replica: it takes no
    parameter and no dependency, so FastAPI's dependency solving, the larger part of the cost of
    an answer after the middleware, is skipped, and so is building a request, a model and a
    response. `liveness` stays in the FastAPI router, which documents it in the OpenAPI schema;
    requests never reach that copy.
    """
    probe = _LivenessProbe(app.state.settings.service_name)
    app.router.routes.insert(0, Route("/health", probe, methods=["GET"]))


async def _database(engine: AsyncEngine, where: dict[str, str]) -> str:
    """ "ok" when the server takes writes; on PostgreSQL, `where["server"]` names it."""
    async with engine.connect() as connection:
        if engine.dialect.name != "postgresql":
            await connection.execute(text("SELECT 1"))
            return "ok"
        if await connection.scalar(text("SELECT pg_is_in_recovery()")):
            # Never reused (libkoiki.db.failover): the next connect looks for the primary again.
            await connection.invalidate()
            return "read-only: the server is a standby (in recovery)"
        raw = await connection.get_raw_connection()
        address = getattr(raw.driver_connection, "_addr", None)  # asyncpg: (host, port)
        if isinstance(address, tuple):
            where["server"] = f"{address[0]}:{address[1]}"
    return "ok"


def _names_servers(request: Request) -> bool:
    """Several servers to tell apart: a multi-host DATABASE_URL, or read replicas."""
    engine: AsyncEngine = request.app.state.engine
    return (
        isinstance(engine.url.query.get("host"), tuple)
        or getattr(request.app.state, "replicas", None) is not None
    )


async def _migrations(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        current = await connection.run_sync(current_revisions)
    expected = head_revisions()
    if current == expected:
        return "ok"
    return f"not at head (current {sorted(current) or 'none'}, head {sorted(expected)})"


async def _redis(request: Request) -> str:
    client = request.app.state.redis
    if client is None:
        return "disabled"
    await client.ping()
    return "ok"


async def _timed(name: str, check: Callable[[], Awaitable[str]], seconds: float) -> str:
    try:
        async with asyncio.timeout(seconds):
            return await check()
    except TimeoutError:
        logger.warning("readiness_check_timeout", check=name)
        return "timeout"
    except Exception as exc:  # a failing dependency is a result here, not an error
        logger.warning("readiness_check_failed", check=name, error=type(exc).__name__)
        return f"error: {type(exc).__name__}"


@router.get(
    "/health/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is not ready"}},
)
async def readiness(request: Request) -> JSONResponse:
    settings = request.app.state.settings
    engine: AsyncEngine = request.app.state.engine
    timeout = settings.health_check_timeout_seconds
    where: dict[str, str] = {}
    database, redis = await asyncio.gather(
        _timed("database", lambda: _database(engine, where), timeout),
        _timed("redis", lambda: _redis(request), timeout),
    )
    checks = {"database": database, "redis": redis}
    switch = getattr(request.app.state, "maintenance", None)
    if switch is not None:
        # On: load balancers stop sending traffic, and the body says why, so nobody debugs the
        # database. Always reported, so the readiness gauge goes back to 1 when it ends. The
        # per-process copy (at most MAINTENANCE_POLL_SECONDS old): a hung Redis costs nothing.
        state = switch.state()
        checks["maintenance"] = "ok" if state is None else f"on: {state.message}"
    checks["migrations"] = (
        await _timed("migrations", lambda: _migrations(engine), timeout)
        if database == "ok"
        else "unknown"
    )
    record_readiness(checks)
    ready = all(value in ("ok", "disabled") for value in checks.values())
    status: Literal["ready", "degraded", "not_ready"] = "ready" if ready else "not_ready"
    if _names_servers(request):
        checks["database_primary"] = where.get("server", "unknown")
    replicas = getattr(request.app.state, "replicas", None)
    if replicas is not None:
        # A read replica down or behind costs a fallback to the primary, not the service.
        read_checks = replicas.readiness()
        checks.update(read_checks)
        if ready and any(not value.startswith("ok") for value in read_checks.values()):
            status = "degraded"
    body = Readiness(status=status, checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
