"""Prometheus metrics: HTTP metrics by route template, plus the framework's own counters.

With several worker processes, set `PROMETHEUS_MULTIPROC_DIR` to an empty, writable directory
before start-up: every process writes there and `/metrics` aggregates them.
"""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator

METRICS_PATH = "/metrics"
UNINSTRUMENTED = ["/metrics", "/health", "/health/ready", "/docs.*", "/redoc", "/openapi.json"]


def install_metrics(app: FastAPI) -> None:
    Instrumentator(
        should_group_status_codes=False,
        should_ignore_untemplated=True,
        excluded_handlers=UNINSTRUMENTED,
    ).instrument(app, metric_namespace="koiki").expose(
        app, endpoint=METRICS_PATH, include_in_schema=False, tags=["Monitoring"]
    )
