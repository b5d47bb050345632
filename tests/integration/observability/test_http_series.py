"""`/metrics` exports prometheus-fastapi-instrumentator's series exactly: the same requests give
the same names, help, labels, status groups, buckets, counts and sizes as the package's own
middleware in the same place (only the measured durations differ)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_fastapi_instrumentator.middleware import PrometheusInstrumentatorMiddleware

from libkoiki.observability import exposition
from libkoiki.observability.metrics import UNINSTRUMENTED_PATHS, UNINSTRUMENTED_PREFIXES

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
FAMILIES = (
    "http_requests",
    "http_request_size_bytes",
    "http_response_size_bytes",
    "http_request_duration_highr_seconds",
    "http_request_duration_seconds",
)
# The package's exclusions written for our uninstrumented probes and documentation.
EXCLUDED = [f"^{path}$" for path in UNINSTRUMENTED_PATHS] + [
    f"^{prefix}" for prefix in UNINSTRUMENTED_PREFIXES
]


async def _traffic(client: httpx.AsyncClient) -> str:
    await client.get("/")
    await client.get("/")
    await client.get("/health")  # a probe: not counted by either
    await client.get("/no/such/page")  # untemplated: handler "none"
    await client.get("/api/v1/todos")  # 401
    await client.post("/api/v1/auth/login", json={"email": "x"})  # 422, a request body
    await client.delete("/api/v1/todos")  # 405: the path matches, the method does not
    await client.get("/api/v1/todos/not-a-number", headers={"Authorization": "Bearer x"})
    return (await client.get("/metrics")).text


def _normalised(text: str) -> dict[str, Any]:
    """Family -> (type, help, {sample name + labels: value}), durations' values left out."""
    found: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in FAMILIES:
            continue
        samples = {}
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            timed = "duration" in family.name and sample.name.endswith(("_sum", "_bucket"))
            key = (sample.name, tuple(sorted(sample.labels.items())))
            # A bucket's count depends on the time taken; which buckets exist does not.
            samples[key] = None if timed else sample.value
        found[family.name] = (family.type, family.documentation, samples)
    return found


@pytest.fixture
def package_middleware(monkeypatch: pytest.MonkeyPatch) -> None:
    """The package's own middleware where ours goes, in the app's registry."""

    def package(app: Any, *, routes: Any, registry: Any) -> PrometheusInstrumentatorMiddleware:
        return PrometheusInstrumentatorMiddleware(
            app, registry=registry, excluded_handlers=EXCLUDED
        )

    monkeypatch.setattr(exposition, "MetricsMiddleware", package)


async def _ours(make_client: ClientFactory) -> str:
    async with make_client(rate_limit_enabled=False) as client:
        return await _traffic(client)


async def test_series_equal_the_packages_for_the_same_requests(
    make_client: ClientFactory, request: pytest.FixtureRequest
) -> None:
    ours = _normalised(await _ours(make_client))
    request.getfixturevalue("package_middleware")
    async with make_client(rate_limit_enabled=False) as client:
        theirs = _normalised(await _traffic(client))
    assert set(ours) == set(FAMILIES)
    assert ours == theirs
    _type, _help, counts = ours["http_requests"]
    assert (
        counts[("http_requests_total", (("handler", "/"), ("method", "GET"), ("status", "2xx")))]
        == 2
    )
    assert (
        counts[("http_requests_total", (("handler", "none"), ("method", "GET"), ("status", "4xx")))]
        == 1
    )
    assert not any(("handler", "/health") in labels for _name, labels in counts)


async def test_buckets_are_the_packages_defaults(make_client: ClientFactory) -> None:
    families = _normalised(await _ours(make_client))
    highr = {
        dict(labels)["le"]
        for name, labels in families["http_request_duration_highr_seconds"][2]
        if name.endswith("_bucket")
    }
    assert highr == {
        "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0", "1.5", "2.0",
        "2.5", "3.0", "3.5", "4.0", "4.5", "5.0", "7.5", "10.0", "30.0", "60.0", "+Inf",
    }  # fmt: skip
    lowr = {
        dict(labels)["le"]
        for name, labels in families["http_request_duration_seconds"][2]
        if name.endswith("_bucket")
    }
    assert lowr == {"0.1", "0.5", "1.0", "+Inf"}
