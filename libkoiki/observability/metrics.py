"""Prometheus metrics: HTTP metrics by route template, plus the framework's own counters.

HTTP metrics live in a registry of the app's own (a second app in the same process, as in tests,
gets its own series instead of silently none); the framework's counters use the default registry.
With several worker processes, set `PROMETHEUS_MULTIPROC_DIR` to an empty, writable directory
before start-up: every process writes there and `/metrics` aggregates them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METRICS_PATH = "/metrics"
# Probes and documentation: polled or static, they would only drown the API's own series.
UNINSTRUMENTED_PATHS = frozenset({METRICS_PATH, "/health", "/health/ready", "/openapi.json"})
UNINSTRUMENTED_PREFIXES = ("/docs", "/redoc")
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def exposition(app_registry: CollectorRegistry) -> bytes:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        aggregate = CollectorRegistry()
        multiprocess.MultiProcessCollector(aggregate)  # type: ignore[no-untyped-call]
        return generate_latest(aggregate)
    return generate_latest(REGISTRY) + generate_latest(app_registry)


class MetricsMiddleware:
    """Counts and times every request by route template, refusals (400/413/429) included.

    The template is the one the router stored in `scope["route"]` when it matched, so routing is
    not done twice. Only a request answered before routing (a refusal, a 404) has none; it is
    matched here, against the app's routes, and a path no route matches is not counted at all
    (scanners would otherwise create a series per probed URL).
    """

    def __init__(self, app: ASGIApp, *, routes: Iterable[BaseRoute], registry: CollectorRegistry):
        self.app = app
        self.routes = routes
        self.requests = Counter(
            "koiki_http_requests_total",
            "HTTP requests by route template, method and status",
            ["handler", "method", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "koiki_http_request_duration_seconds",
            "Time to the end of the response, by route template and method",
            ["handler", "method"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path in UNINSTRUMENTED_PATHS
            or path.startswith(UNINSTRUMENTED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            handler = self._template(scope)
            if handler is not None:
                method = scope["method"]
                self.requests.labels(handler, method, str(status)).inc()
                self.duration.labels(handler, method).observe(time.perf_counter() - started)

    def _template(self, scope: Scope) -> str | None:
        route = scope.get("route")
        if route is None:
            for candidate in self.routes:
                if candidate.matches(scope)[0] is not Match.NONE:
                    route = candidate
                    break
        path = getattr(route, "path", None)
        return path if isinstance(path, str) else None


def install_metrics(app: FastAPI) -> None:
    registry = CollectorRegistry()
    app.add_middleware(MetricsMiddleware, routes=app.router.routes, registry=registry)

    @app.get(METRICS_PATH, include_in_schema=False)
    async def metrics() -> Response:
        return Response(exposition(registry), media_type=CONTENT_TYPE_LATEST)
