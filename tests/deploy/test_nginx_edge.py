"""The production nginx configuration in front of three replicas of the real app: TLS, headers,
redirects, what stays private, caching and round robin (tests/deploy/edge.py runs it).

Replica failures, shared revocation and shared rate limits are proven in
tests/reliability/test_replicas.py.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.deploy.edge import STATIC_JS, Edge, edge_env, running_edge
from tests.ops.support import ScratchDatabase, wait_until

pytestmark = pytest.mark.postgres_only


def _in_thread(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion on a loop of its own (this fixture is synchronous)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def edge() -> Iterator[Edge]:
    database = ScratchDatabase(os.environ["KOIKI_TEST_DATABASE_URL"], "edge")
    _in_thread(database.create())
    try:
        # Without Redis each replica would count on its own; shared limits are proven (with
        # Redis) in tests/reliability/test_replicas.py.
        with running_edge(edge_env(database.url, RATE_LIMIT_ENABLED="false")) as running:
            yield running
    finally:
        _in_thread(database.drop())


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
    # nginx writes the access line just after the response.
    assert wait_until(lambda: sum(edge.upstreams_for("edge-spread-").values()) == 90, timeout=10)
    counts = edge.upstreams_for("edge-spread-")
    assert set(counts) == {str(p) for p in edge.replica_ports}, counts
    assert min(counts.values()) >= 15, counts  # round robin: about 30 each
