"""Prometheus metrics: HTTP metrics by route template, plus the framework's own counters.

HTTP metrics live in a registry of the app's own (a second app in the same process, as in tests,
gets its own series instead of silently none); the framework's counters use the default registry.
With several worker processes, set `PROMETHEUS_MULTIPROC_DIR` to an empty, writable directory
before start-up: every process writes there and `/metrics` aggregates them.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_fastapi_instrumentator import Instrumentator

METRICS_PATH = "/metrics"
UNINSTRUMENTED = ["/metrics", "/health", "/health/ready", "/docs.*", "/redoc", "/openapi.json"]


def exposition(app_registry: CollectorRegistry) -> bytes:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        aggregate = CollectorRegistry()
        multiprocess.MultiProcessCollector(aggregate)  # type: ignore[no-untyped-call]
        return generate_latest(aggregate)
    return generate_latest(REGISTRY) + generate_latest(app_registry)


def install_metrics(app: FastAPI) -> None:
    registry = CollectorRegistry()
    Instrumentator(
        should_group_status_codes=False,
        should_ignore_untemplated=True,
        excluded_handlers=UNINSTRUMENTED,
        registry=registry,
    ).instrument(app, metric_namespace="koiki")

    @app.get(METRICS_PATH, include_in_schema=False)
    async def metrics() -> Response:
        return Response(exposition(registry), media_type=CONTENT_TYPE_LATEST)
