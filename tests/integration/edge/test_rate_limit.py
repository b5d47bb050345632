"""Rate limits as a client sees them: budgets, headers, 429s, keys, replicas and the window."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from limits import parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from libkoiki.auth.tokens import create_access_token
from libkoiki.ratelimit.limiter import _digest
from tests.conftest import base_settings
from tests.integration.edge.conftest import EdgeAppFactory, EdgeClientFactory, client_for
from tests.support.redis_relay import RedisRelay

PING = "/api/v1/edge/ping"


def assert_limited(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == "rate_limited"
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "retry in" in body["detail"]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def limited_count(scope: str) -> float:
    return REGISTRY.get_sample_value("koiki_ratelimit_limited_total", {"scope": scope}) or 0.0


async def test_default_limit_counts_down_then_refuses(edge_client: EdgeClientFactory) -> None:
    refusals_before = limited_count("default")
    async with edge_client(rate_limit_default="3/minute") as client:
        responses = [await client.get(PING) for _ in range(3)]
        refused = await client.get(PING)
    assert limited_count("default") - refusals_before == 1
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0"]
    assert {r.headers["X-RateLimit-Limit"] for r in responses} == {"3"}
    reset = int(responses[0].headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 61  # epoch seconds, within the window
    assert_limited(refused, 3)


async def test_probes_and_non_api_paths_are_never_limited(edge_client: EdgeClientFactory) -> None:
    async with edge_client(rate_limit_default="1/minute") as client:
        await client.get(PING)
        assert (await client.get(PING)).status_code == 429
        for path in ("/health", "/health/ready", "/metrics", "/"):
            for _ in range(3):
                response = await client.get(path)
                assert response.status_code == 200, (path, response.text)
                assert "X-RateLimit-Limit" not in response.headers


async def test_replicas_on_one_redis_share_the_budget(
    edge_client: EdgeClientFactory, shared_redis_url: str
) -> None:
    settings = {
        "redis_url": shared_redis_url,
        "rate_limit_strategy": "redis",
        "rate_limit_default": "4/minute",
    }
    async with edge_client(**settings) as replica_a, edge_client(**settings) as replica_b:
        assert (await replica_a.get(PING)).status_code == 200
        assert (await replica_b.get(PING)).status_code == 200
        third = await replica_a.get(PING)
        assert third.headers["X-RateLimit-Remaining"] == "1"
        assert (await replica_b.get(PING)).status_code == 200
        assert_limited(await replica_a.get(PING), 4)
        assert_limited(await replica_b.get(PING), 4)


async def test_redis_counters_are_the_limits_librarys_own(
    edge_client: EdgeClientFactory, shared_redis_url: str
) -> None:
    """The one-round-trip path writes exactly what `limits`' RedisStorage reads back."""
    prefix = base_settings("sqlite+aiosqlite://").redis_key_prefix
    async with edge_client(
        redis_url=shared_redis_url, rate_limit_strategy="redis", rate_limit_default="5/minute"
    ) as client:
        for _ in range(3):
            await client.get(PING)
    storage = RedisStorage(
        "async+" + shared_redis_url, implementation="redispy", key_prefix=f"{prefix}ratelimit"
    )
    stats = await MovingWindowRateLimiter(storage).get_window_stats(
        parse("5/minute"), f"default:{_digest('ip:203.0.113.10')}"
    )
    await storage.bridge.get_connection().aclose()  # type: ignore[attr-defined]
    assert stats.remaining == 2
    assert time.time() < stats.reset_time <= time.time() + 60


async def test_a_redis_that_lost_its_scripts_still_counts_each_request_once(
    edge_client: EdgeClientFactory, shared_redis_url: str
) -> None:
    """After a restart with no data (or SCRIPT FLUSH) the limiter's script is loaded again."""
    async with edge_client(
        redis_url=shared_redis_url, rate_limit_strategy="redis", rate_limit_default="5/minute"
    ) as client:
        first = await client.get(PING)
        redis = Redis.from_url(shared_redis_url)
        try:
            await redis.script_flush()
        finally:
            await redis.aclose()
        second = await client.get(PING)
    assert [first.status_code, second.status_code] == [200, 200]
    assert [first.headers["X-RateLimit-Remaining"], second.headers["X-RateLimit-Remaining"]] == [
        "4",
        "3",
    ]


@pytest.fixture
def plain_redis_url(shared_redis_url: str) -> str:
    if urlsplit(shared_redis_url).scheme != "redis":
        pytest.skip("the relay reads the commands it carries: it needs a plain redis:// URL")
    return shared_redis_url


async def test_concurrent_requests_are_each_counted_once(
    edge_client: EdgeClientFactory, plain_redis_url: str
) -> None:
    """Requests that reach the limiter together share one round trip to Redis: none is lost or
    counted twice, and each reads its own place in the window."""
    async with (
        RedisRelay(plain_redis_url).running() as relay,
        edge_client(
            redis_url=relay.url, rate_limit_strategy="redis", rate_limit_default="10/minute"
        ) as client,
    ):
        responses = await asyncio.gather(*(client.get(PING) for _ in range(12)))
    # One connection served them all, where a round trip each would have opened twelve.
    assert relay.script_connections == 1
    served = [r for r in responses if r.status_code == 200]
    assert len(served) == 10
    assert sorted(int(r.headers["X-RateLimit-Remaining"]) for r in served) == list(range(10))
    for refused in (r for r in responses if r.status_code != 200):
        assert_limited(refused, 10)


async def test_concurrent_requests_after_redis_lost_its_scripts_are_each_counted_once(
    edge_client: EdgeClientFactory, shared_redis_url: str
) -> None:
    async with edge_client(
        redis_url=shared_redis_url, rate_limit_strategy="redis", rate_limit_default="10/minute"
    ) as client:
        assert (await client.get(PING)).headers["X-RateLimit-Remaining"] == "9"
        redis = Redis.from_url(shared_redis_url)
        try:
            await redis.script_flush()
        finally:
            await redis.aclose()
        responses = await asyncio.gather(*(client.get(PING) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    assert sorted(r.headers["X-RateLimit-Remaining"] for r in responses) == list("45678")


async def test_a_connection_broken_in_the_middle_of_a_batch_counts_each_request_once(
    edge_client: EdgeClientFactory, plain_redis_url: str
) -> None:
    """Redis ran the batch's first command and answered it; the others never arrived. On a new
    connection only those go again: none fails, none is counted twice, and the limiter carries
    on without treating Redis as down."""
    async with (
        RedisRelay(plain_redis_url, break_batch=True).running() as relay,
        edge_client(
            redis_url=relay.url, rate_limit_strategy="redis", rate_limit_default="10/minute"
        ) as client,
    ):
        responses = await asyncio.gather(*(client.get(PING) for _ in range(5)))
        after = await client.get(PING)
    assert (relay.broken, relay.script_connections) == (1, 2)  # the rest went on a new one
    assert [r.status_code for r in responses] == [200] * 5
    assert sorted(r.headers["X-RateLimit-Remaining"] for r in responses) == list("56789")
    assert after.headers["X-RateLimit-Remaining"] == "4"


async def test_the_window_frees_up_after_its_duration(edge_client: EdgeClientFactory) -> None:
    async with edge_client(rate_limit_default="3/2 seconds") as client:
        for _ in range(3):
            assert (await client.get(PING)).status_code == 200
        refused = await client.get(PING)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 2
        await asyncio.sleep(2.2)
        again = await client.get(PING)
        assert again.status_code == 200
        assert again.headers["X-RateLimit-Remaining"] == "2"


async def test_each_client_address_has_its_own_budget(edge_app: EdgeAppFactory) -> None:
    async with (
        edge_app(rate_limit_default="2/minute") as app,
        client_for(app, "198.51.100.1") as first,
        client_for(app, "198.51.100.2") as second,
    ):
        for _ in range(2):
            assert (await first.get(PING)).status_code == 200
        assert (await first.get(PING)).status_code == 429
        assert (await second.get(PING)).status_code == 200
        assert (await second.get(PING)).headers["X-RateLimit-Remaining"] == "0"


async def test_ipv6_clients_share_a_budget_per_64(edge_app: EdgeAppFactory) -> None:
    async with (
        edge_app(rate_limit_default="2/minute") as app,
        client_for(app, "2001:db8:1:2::a") as host_a,
        client_for(app, "2001:db8:1:2::b") as same_64,
        client_for(app, "2001:db8:1:3::a") as other_64,
    ):
        await host_a.get(PING)
        await same_64.get(PING)
        assert (await host_a.get(PING)).status_code == 429
        assert (await other_64.get(PING)).status_code == 200


def bearer(app: FastAPI, user_id: int) -> dict[str, str]:
    issued = create_access_token(app.state.settings, user_id=user_id, session_id="edge-test")
    return {"Authorization": f"Bearer {issued.token}"}


async def test_authenticated_users_behind_one_address_have_their_own_budgets(
    edge_app: EdgeAppFactory,
) -> None:
    async with edge_app(rate_limit_default="2/minute") as app, client_for(app) as office:
        alice, bob = bearer(app, 101), bearer(app, 102)
        for _ in range(2):
            assert (await office.get(PING, headers=alice)).status_code == 200
        assert (await office.get(PING, headers=alice)).status_code == 429
        assert (await office.get(PING, headers=bob)).status_code == 200
        # Without a token, or with a forged one, the request counts against the address.
        assert (await office.get(PING)).status_code == 200
        forged = {"Authorization": alice["Authorization"][:-4] + "AAAA"}
        assert (await office.get(PING, headers=forged)).status_code == 200
        assert (await office.get(PING)).status_code == 429


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(edge_app: EdgeAppFactory) -> None:
    async with (
        edge_app(rate_limit_default="2/minute") as app,
        client_for(app, "1.2.3.4") as spoofer,
    ):
        seen = set()
        for fake in ("10.9.8.7", "10.9.8.6", "10.9.8.5"):
            response = await spoofer.get(PING, headers={"X-Forwarded-For": fake, "X-Real-IP": fake})
            if response.status_code == 200:
                seen.add(response.json()["client_ip"])
        assert response.status_code == 429  # every "different" client was the same spoofer
        assert seen == {"1.2.3.4"}


async def test_forwarded_for_is_honoured_from_a_trusted_proxy(
    edge_app: EdgeAppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        edge_app(rate_limit_default="2/minute", trusted_proxies="10.0.0.0/8") as app,
        client_for(app, "10.0.0.2") as nginx,
    ):
        first = await nginx.get(PING, headers={"X-Forwarded-For": "198.51.100.7"})
        assert first.json() == {"client_ip": "198.51.100.7"}
        await nginx.get(PING, headers={"X-Forwarded-For": "198.51.100.7"})
        assert (
            await nginx.get(PING, headers={"X-Forwarded-For": "198.51.100.7"})
        ).status_code == 429
        # Another client behind the same proxy is told apart...
        other = await nginx.get(PING, headers={"X-Forwarded-For": "198.51.100.8"})
        assert other.status_code == 200
        # ...and a client cannot prepend its way out: nginx appends the real peer last.
        sneaky = await nginx.get(PING, headers={"X-Forwarded-For": "192.0.2.1, 198.51.100.7"})
        assert sneaky.status_code == 429
        # The access log names the real client, not the proxy.
        capsys.readouterr()
        await nginx.get(PING, headers={"X-Forwarded-For": "198.51.100.8"})
        access = [
            json.loads(line)
            for line in capsys.readouterr().err.splitlines()
            if line.startswith("{") and '"koiki.access"' in line
        ]
        assert [line["client_ip"] for line in access] == ["198.51.100.8"]
        # nginx configurations that only send X-Real-IP work too.
        real_ip = await nginx.get(PING, headers={"X-Real-IP": "198.51.100.9"})
        assert real_ip.json() == {"client_ip": "198.51.100.9"}


async def test_route_limits_are_stricter_and_reported(edge_app: EdgeAppFactory) -> None:
    async with edge_app(rate_limit_default="100/minute") as app, client_for(app) as client:
        first = await client.get("/api/v1/edge/strict")
        assert first.status_code == 200
        # The headers describe the tightest budget the request was counted in.
        assert first.headers["X-RateLimit-Limit"] == "2"
        assert first.headers["X-RateLimit-Remaining"] == "1"
        await client.get("/api/v1/edge/strict")
        assert_limited(await client.get("/api/v1/edge/strict"), 2)
        # The default budget is untouched by the strict route's refusals elsewhere.
        ping = await client.get(PING)
        assert ping.status_code == 200
        assert ping.headers["X-RateLimit-Limit"] == "100"


async def test_per_user_route_limit(edge_app: EdgeAppFactory) -> None:
    async with edge_app() as app, client_for(app) as client:
        alice, bob = bearer(app, 201), bearer(app, 202)
        for _ in range(2):
            assert (await client.get("/api/v1/edge/per-user", headers=alice)).status_code == 200
        assert (await client.get("/api/v1/edge/per-user", headers=alice)).status_code == 429
        assert (await client.get("/api/v1/edge/per-user", headers=bob)).status_code == 200


async def test_handler_keyed_limit_follows_the_key_across_addresses(
    edge_app: EdgeAppFactory,
) -> None:
    url = "/api/v1/edge/reset-request"
    async with (
        edge_app() as app,
        client_for(app, "198.51.100.1") as one,
        client_for(app, "198.51.100.2") as two,
    ):
        assert (await one.post(url, params={"email": "victim@example.com"})).status_code == 200
        assert (await two.post(url, params={"email": "Victim@Example.com "})).status_code == 200
        assert_limited(await one.post(url, params={"email": "victim@example.com"}), 2)
        assert (await one.post(url, params={"email": "other@example.com"})).status_code == 200


async def test_rate_limiting_can_be_switched_off(edge_client: EdgeClientFactory) -> None:
    async with edge_client(rate_limit_enabled=False, rate_limit_default="1/minute") as client:
        for _ in range(3):
            response = await client.get("/api/v1/edge/strict")
            assert response.status_code == 200
            assert "X-RateLimit-Limit" not in response.headers
