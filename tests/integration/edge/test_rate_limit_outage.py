"""Redis goes away (or hangs) under the rate limiter, then comes back; no restart in between."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.integration.edge.conftest import EdgeAppFactory, client_for
from tests.support.servers import RedisServer

PING = "/api/v1/edge/ping"


def backend_errors() -> float:
    return REGISTRY.get_sample_value("koiki_ratelimit_backend_errors_total") or 0.0


def events(captured: str, name: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == name]


def outage_settings(redis: RedisServer, **overrides: Any) -> dict[str, Any]:
    return {
        "redis_url": redis.url,
        "rate_limit_strategy": "redis",
        "rate_limit_default": "3/minute",
        "rate_limit_backend_retry_seconds": 0.3,
        "rate_limit_backend_timeout_seconds": 0.2,
        **overrides,
    }


async def test_fail_open_serves_through_an_outage_and_recovers(
    edge_app: EdgeAppFactory, own_redis: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    async with edge_app(**outage_settings(own_redis)) as app, client_for(app) as client:
        assert (await client.get(PING)).headers["X-RateLimit-Remaining"] == "2"
        errors_before = backend_errors()
        capsys.readouterr()

        await asyncio.to_thread(own_redis.stop)
        during = [await client.get(PING) for _ in range(6)]
        assert [r.status_code for r in during] == [200] * 6  # more than the limit of 3
        assert all("X-RateLimit-Limit" not in r.headers for r in during)
        assert backend_errors() - errors_before == 6
        metrics = (await client.get("/metrics")).text
        assert "koiki_ratelimit_backend_errors_total" in metrics
        warnings = events(capsys.readouterr().err, "rate_limit_backend_unavailable")
        assert len(warnings) == 1, "one warning per interval, not one per request"
        assert warnings[0]["level"] == "warning"
        assert warnings[0]["policy"] == "fail_open"

        await asyncio.to_thread(own_redis.start)  # same port, empty: counting starts over
        await asyncio.sleep(0.4)
        after = [await client.get(PING) for _ in range(3)]
        assert [r.headers["X-RateLimit-Remaining"] for r in after] == ["2", "1", "0"]
        assert (await client.get(PING)).status_code == 429
        assert events(capsys.readouterr().err, "rate_limit_backend_recovered")


async def test_fail_closed_answers_503_until_redis_returns(
    edge_app: EdgeAppFactory, own_redis: RedisServer
) -> None:
    settings = outage_settings(own_redis, rate_limit_fail_open=False)
    async with edge_app(**settings) as app, client_for(app) as client:
        assert (await client.get(PING)).status_code == 200
        await asyncio.to_thread(own_redis.stop)
        refused = await client.get(PING)
        assert refused.status_code == 503
        body = refused.json()
        assert body["code"] == "rate_limit_unavailable"
        assert body["request_id"] == refused.headers["X-Request-ID"]
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["X-Frame-Options"] == "DENY"
        # Probes stay up: an orchestrator must not restart replicas for a Redis outage.
        assert (await client.get("/health")).status_code == 200

        await asyncio.to_thread(own_redis.start)
        await asyncio.sleep(0.4)
        assert (await client.get(PING)).status_code == 200


async def test_a_hung_redis_costs_one_short_timeout_not_one_per_request(
    edge_app: EdgeAppFactory, own_redis: RedisServer
) -> None:
    settings = outage_settings(own_redis, rate_limit_backend_retry_seconds=1.0)
    async with edge_app(**settings) as app, client_for(app) as client:
        assert (await client.get(PING)).status_code == 200
        own_redis.freeze()
        try:
            started = time.monotonic()
            first = await client.get(PING)
            first_took = time.monotonic() - started
            started = time.monotonic()
            rest = [await client.get(PING) for _ in range(5)]
            rest_took = time.monotonic() - started
        finally:
            own_redis.thaw()
        assert first.status_code == 200
        assert first_took < 1.5, f"first request waited {first_took:.2f}s on a hung Redis"
        assert [r.status_code for r in rest] == [200] * 5
        assert rest_took < 0.5, "requests inside the retry interval must not wait on Redis"
        await asyncio.sleep(1.1)
        recovered = await client.get(PING)
        assert recovered.headers["X-RateLimit-Limit"] == "3"
