"""Prometheus HTTP metrics: the series prometheus-fastapi-instrumentator exports by default.

`Instrumentator().instrument(app)`, as the deployment guide writes it, exports five series; this
middleware exports the same names, labels, status groups ("2xx") and buckets, so dashboards and
alerts written for the guide work unchanged (tests/integration/observability pins them to the
package's own output for the same requests). It is hand-made for its cost: the package builds a
Request and a Response per request and matches every route before the app does; this one reads
the route template the router already stored (bench/RESULTS.md, "metrics").

HTTP metrics live in a registry of the app's own (a second app in the same process, as in tests,
gets its own series instead of silently none); the framework's `koiki_` series use the default
registry. With several worker processes, set `PROMETHEUS_MULTIPROC_DIR` to an empty, writable
directory before start-up: every process writes there and `/metrics` aggregates them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    Summary,
    generate_latest,
    multiprocess,
)
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METRICS_PATH = "/metrics"
# Probes and documentation: polled or static, they would only drown the API's own series (the
# package's `excluded_handlers`; the equivalence test excludes the same).
UNINSTRUMENTED_PATHS = frozenset({METRICS_PATH, "/health", "/health/ready", "/openapi.json"})
UNINSTRUMENTED_PREFIXES = ("/docs", "/redoc")
# The package's defaults (metrics.default): a histogram with many buckets and no labels for
# percentiles, and one with few buckets per handler.
HIGHR_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 7.5, 10,
    30, 60, float("inf"),
)  # fmt: skip
LOWR_BUCKETS = (0.1, 0.5, 1, float("inf"))
UNTEMPLATED = "none"  # the package's handler label for a path no route matches
_STATUS_GROUPS = {code: f"{code // 100}xx" for code in range(100, 600)}


def exposition(app_registry: CollectorRegistry, scrape_registry: CollectorRegistry) -> bytes:
    """Everything `/metrics` shows; `scrape_registry` holds what is read at each scrape (the
    same in every process, so it is not aggregated)."""
    live = generate_latest(scrape_registry)
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        aggregate = CollectorRegistry()
        multiprocess.MultiProcessCollector(aggregate)  # type: ignore[no-untyped-call]
        return generate_latest(aggregate) + live
    return generate_latest(REGISTRY) + generate_latest(app_registry) + live


def _content_length(headers: Iterable[tuple[bytes, bytes]]) -> int:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


class HttpSeries:
    """The package's five series, in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "http_requests_total",
            "Total number of requests by method, status and handler.",
            ["method", "status", "handler"],
            registry=registry,
        )
        self.request_size = Summary(
            "http_request_size_bytes",
            "Content length of incoming requests by handler. Only value of header is respected."
            " Otherwise ignored. No percentile calculated. ",
            ["handler"],
            registry=registry,
        )
        self.response_size = Summary(
            "http_response_size_bytes",
            "Content length of outgoing responses by handler. Only value of header is respected."
            " Otherwise ignored. No percentile calculated. ",
            ["handler"],
            registry=registry,
        )
        self.latency_highr = Histogram(
            "http_request_duration_highr_seconds",
            "Latency with many buckets but no API specific labels. Made for more accurate"
            " percentile calculations. ",
            buckets=HIGHR_BUCKETS,
            registry=registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Latency with only few buckets by handler. Made to be only used if aggregation by"
            " handler is important. ",
            ["method", "handler"],
            buckets=LOWR_BUCKETS,
            registry=registry,
        )


class MetricsMiddleware:
    """Counts and times every request, refusals (400/413/429) included.

    The handler label is the route template the router stored in `scope["route"]` when it
    matched, so routing is not done twice. Only a request answered before routing (a refusal, a
    404) has none; it is matched here against the app's routes, and a path no route matches is
    counted as handler "none" (scanners would otherwise create a series per probed URL).
    """

    def __init__(self, app: ASGIApp, *, routes: Iterable[BaseRoute], registry: CollectorRegistry):
        self.app = app
        self.routes = routes
        self.series = HttpSeries(registry)

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
        response_bytes = 0
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status, response_bytes
            if message["type"] == "http.response.start":
                status = message["status"]
                response_bytes = _content_length(message.get("headers", ()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            duration = max(time.perf_counter() - started, 0.0)
            handler = self._template(scope)
            method = scope["method"]
            series = self.series
            series.requests.labels(method, _STATUS_GROUPS.get(status, "5xx"), handler).inc()
            series.request_size.labels(handler).observe(_content_length(scope["headers"]))
            series.response_size.labels(handler).observe(response_bytes)
            series.latency_highr.observe(duration)
            series.latency.labels(method, handler).observe(duration)

    def _template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            for candidate in self.routes:
                if candidate.matches(scope)[0] is not Match.NONE:
                    route = candidate
                    break
        path = getattr(route, "path", None)
        return path if isinstance(path, str) else UNTEMPLATED
