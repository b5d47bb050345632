"""Builds a KOIKI FastAPI application: settings, lifespan resources, middleware, errors, routes.

Middleware runs outermost first (see `_install_middleware`):
request context (request id + access log) -> metrics -> ... -> unhandled-error guard -> router.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI
from redis.asyncio import Redis

from libkoiki import __version__
from libkoiki.config import Settings, get_settings
from libkoiki.db import create_engine, create_sessionmaker
from libkoiki.docs import install_docs
from libkoiki.errors import UnhandledErrorMiddleware, install_error_handlers
from libkoiki.health import router as health_router
from libkoiki.http.request_context import RequestContextMiddleware
from libkoiki.observability.logging import configure_logging
from libkoiki.observability.metrics import METRICS_PATH, install_metrics

logger = structlog.get_logger("koiki.app")

PROBE_PATHS = frozenset({"/health", "/health/ready", METRICS_PATH})


def _lifespan(settings: Settings):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.redis = (
            Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
            if settings.redis_url
            else None
        )
        logger.info(
            "startup",
            env=settings.app_env,
            version=__version__,
            database=engine.url.get_backend_name(),
            redis=bool(settings.redis_url),
        )
        try:
            yield
        finally:
            if app.state.redis is not None:
                await app.state.redis.aclose()
            await engine.dispose()
            logger.info("shutdown")

    return lifespan


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    # add_middleware wraps what is already there: add from the innermost to the outermost.
    app.add_middleware(UnhandledErrorMiddleware)
    if settings.metrics_enabled:
        install_metrics(app)
    app.add_middleware(RequestContextMiddleware, quiet_paths=PROBE_PATHS)


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
    )
    app.state.settings = settings
    install_error_handlers(app)
    _install_middleware(app, settings)
    app.include_router(health_router)
    for router in routers:
        app.include_router(router)
    if settings.docs_on:
        install_docs(app)
    return app
