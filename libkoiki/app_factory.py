"""Builds a KOIKI FastAPI application: settings, lifespan resources, middleware, errors, routes.

Middleware, all pure ASGI, outermost first (see `_install_middleware` for why this order):
request context (request id + access log) -> client IP -> metrics -> security headers -> CORS
-> maintenance -> trusted host -> header limit -> body limit -> rate limit -> unhandled-error
guard -> router.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from redis.asyncio import Redis

from libkoiki import __version__
from libkoiki.auth.passwords import hash_concurrency
from libkoiki.auth.principals import SESSION_INFO_KEY, SecurityStamps
from libkoiki.config import Settings, get_settings
from libkoiki.db import Reader, create_engine, create_sessionmaker
from libkoiki.db.replicas import ReplicaSet, install_read_replicas
from libkoiki.db.writes import WriteMarks
from libkoiki.docs import install_docs
from libkoiki.errors import UnhandledErrorMiddleware, install_error_handlers
from libkoiki.health import install_liveness_probe
from libkoiki.health import router as health_router
from libkoiki.http.body_limit import BodyLimitMiddleware
from libkoiki.http.client_ip import ClientIPMiddleware
from libkoiki.http.cors import install_cors
from libkoiki.http.header_limit import HeaderLimitMiddleware
from libkoiki.http.request_context import RequestContextMiddleware
from libkoiki.http.security_headers import SecurityHeadersMiddleware
from libkoiki.http.trusted_host import TrustedHostMiddleware
from libkoiki.maintenance.middleware import STATUS_PATH as MAINTENANCE_STATUS_PATH
from libkoiki.maintenance.middleware import MaintenanceMiddleware
from libkoiki.maintenance.switch import MaintenanceSwitch
from libkoiki.observability.exposition import install_metrics
from libkoiki.observability.logging import configure_logging
from libkoiki.observability.metrics import METRICS_PATH
from libkoiki.openapi import install_openapi
from libkoiki.ratelimit import RateLimiter, RateLimitMiddleware
from libkoiki.ratelimit.backends import RedisBackend
from libkoiki.ratelimit.middleware import API_PREFIX
from libkoiki.redis_client import connect, describe_redis_url, on_master_change
from libkoiki.routing import register_router
from libkoiki.startup import (
    check_database,
    quiet_startup_refusal,
    report_mail_gap,
    report_stripped_docs,
)

logger = structlog.get_logger("koiki.app")

PROBE_PATHS = frozenset({"/health", "/health/ready", METRICS_PATH, MAINTENANCE_STATUS_PATH})
TELEMETRY_OFF: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


def _redis_client(settings: Settings, *, timeout_seconds: float, role: str) -> Redis | None:
    if not settings.redis_url:
        return None
    return connect(
        settings.redis_url,
        timeout_seconds=timeout_seconds,
        sentinel_password=settings.redis_sentinel_password,
        role=role,
    )


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        try:
            await check_database(engine, settings)
        except BaseException:
            await engine.dispose()
            raise
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(
            engine, info={SESSION_INFO_KEY: app.state.security_stamps}
        )
        app.state.reader = Reader(engine)
        app.state.redis = _redis_client(settings, timeout_seconds=2, role="readiness")
        app.state.replicas = await _start_replicas(settings, app)
        # A replica started during maintenance obeys from its first request, not a poll later.
        await app.state.maintenance.start()
        logger.info(
            "startup",
            env=settings.app_env,
            version=__version__,
            database=engine.url.get_backend_name(),
            redis=describe_redis_url(settings.redis_url) if settings.redis_url else None,
            # What PASSWORD_HASH_CONCURRENCY=auto made of this machine or pod.
            hashing_threads=hash_concurrency(settings.password_hash_concurrency),
        )
        report_mail_gap(settings)
        report_stripped_docs(settings)
        try:
            yield
        finally:
            if app.state.replicas is not None:
                await app.state.replicas.aclose()
            if app.state.redis is not None:
                await app.state.redis.aclose()
            await app.state.maintenance.aclose()
            if app.state.security_stamps is not None:
                await app.state.security_stamps.aclose()
            if app.state.rate_limiter is not None:
                await app.state.rate_limiter.aclose()
            await engine.dispose()
            logger.info("shutdown")

    return lifespan


async def _start_replicas(settings: Settings, app: FastAPI) -> ReplicaSet | None:
    if not settings.database_read_url:
        return None
    writes = WriteMarks(
        settings.database_read_max_lag_seconds + settings.database_read_check_interval_seconds,
        app.state.redis,
        settings.redis_key_prefix,
    )
    replicas = ReplicaSet.from_settings(settings, app.state.engine, app.state.reader, writes)
    await replicas.start()
    return replicas


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    """Outermost first, each layer for a reason:

    1. request context: the request id and the access line cover every response below;
    2. client IP: resolved once, early, so the access log and the limiter see the real client
       even for requests refused further in;
    3. metrics: counts every outcome, 400/413/429 included;
    4. security headers: outside everything that can answer on its own (CORS refusals, 400 bad
       host, 413, 429, 500), so those answers carry the headers too;
    5. CORS: preflights are answered before host checks and limits (a browser's OPTIONS never
       uses up the budget) and 413/429 answers get CORS headers, so the web app can read them;
    5b. maintenance: inside CORS (the web app can read the 503) and the client IP (the
       operators' allow-list), before anything that counts or limits;
    6. trusted host, 7. header limit, 8. body limit, 9. rate limit: cheap refusals first; a
       request refused for its host or size is not counted;
    10. the unhandled-error guard stays innermost so a 500 still passes through all of the above.
    """
    # add_middleware wraps what is already there: add from the innermost to the outermost.
    app.add_middleware(UnhandledErrorMiddleware)
    app.state.security_stamps = None
    if settings.rate_limit_enabled:
        limiter = RateLimiter(settings)
        app.state.rate_limiter = limiter
        if isinstance(limiter.backend, RedisBackend) and settings.principal_cache_seconds > 0:
            stamps = SecurityStamps(
                limiter.backend.redis,
                key_prefix=settings.redis_key_prefix,
                max_age_seconds=settings.principal_cache_seconds,
            )
            # A new master may lack deletes the old one acknowledged: check callers afresh.
            on_master_change(limiter.backend.redis, stamps.forget_all)
            app.state.security_stamps = stamps
        if settings.is_production and limiter.strategy == "memory":
            logger.warning(
                "rate_limit_in_memory",
                detail="counters are per process: each replica and worker allows the full limit;"
                " set REDIS_URL and RATE_LIMIT_STRATEGY=redis",
            )
        app.add_middleware(
            RateLimitMiddleware,
            limiter=limiter,
            settings=settings,
            exempt_paths=PROBE_PATHS,
            stamps=app.state.security_stamps,
        )
    else:
        app.state.rate_limiter = None
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_request_body_bytes)
    app.add_middleware(
        HeaderLimitMiddleware,
        max_url_bytes=settings.max_url_bytes,
        max_header_bytes=settings.max_request_header_bytes,
    )
    # An empty TRUSTED_HOSTS (a blank line in .env) means unset, not "refuse every host".
    if settings.trusted_hosts and "*" not in settings.trusted_hosts:
        app.add_middleware(
            TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts, exempt_paths=PROBE_PATHS
        )
    elif settings.is_production:
        logger.warning(
            "trusted_hosts_unrestricted",
            detail="TRUSTED_HOSTS is unrestricted: set the public host names to refuse forged"
            " Host headers",
        )
    app.state.maintenance = _maintenance_switch(settings)
    app.add_middleware(
        MaintenanceMiddleware,
        switch=app.state.maintenance,
        allow_ips=settings.maintenance_allow_ips,
        operator_token=settings.maintenance_operator_token.get_secret_value()
        if settings.maintenance_operator_token
        else None,
        path_prefix=API_PREFIX,
    )
    install_cors(app, settings.cors_origins)
    app.add_middleware(
        SecurityHeadersMiddleware, hsts_max_age=settings.hsts_max_age if settings.hsts_on else None
    )
    if settings.metrics_enabled:
        install_metrics(app, settings)
    app.add_middleware(ClientIPMiddleware, trusted_proxies=settings.trusted_proxies)
    app.add_middleware(RequestContextMiddleware, quiet_paths=PROBE_PATHS)


def _maintenance_switch(settings: Settings) -> MaintenanceSwitch:
    return MaintenanceSwitch(
        file=settings.maintenance_file,
        redis=_redis_client(settings, timeout_seconds=1, role="maintenance"),
        key_prefix=settings.redis_key_prefix,
        poll_seconds=settings.maintenance_poll_seconds,
    )


def create_app(
    settings: Settings | None = None,
    *,
    routers: Sequence[APIRouter] = (),
    title: str | None = None,
    description: str = "",
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    app = FastAPI(
        title=title or settings.app_name,
        version=__version__,
        description=description,
        lifespan=_lifespan(settings),
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_on else None,
        telemetry=None if settings.otel_enabled else TELEMETRY_OFF,
    )
    app.state.settings = settings
    quiet_startup_refusal(app)
    install_error_handlers(app)
    _install_middleware(app, settings)
    # FastAPI's telemetry spans the steps of its own route handler: with it on, routes keep it.
    direct = not settings.otel_enabled
    register_router(app, health_router, direct=direct)
    install_liveness_probe(app)
    for router in routers:
        register_router(app, router, direct=direct)
    if settings.database_read_url:
        install_read_replicas(app)
    install_openapi(app, api_prefix=API_PREFIX, rate_limited=settings.rate_limit_enabled)
    if settings.docs_on:
        install_docs(app)
    return app
