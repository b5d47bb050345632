"""Redis dies mid-run under the real API, then comes back empty on the same port.

A throwaway redis-server of the test's own (the shared one serves everybody's tests). Under the
fail-open policy the API keeps serving without limits; revocation never depended on Redis (it is
stored in PostgreSQL/SQLite, and a replica without its security stamps checks every caller there),
and this proves it holds. A Redis that hangs and comes back with its data is the second test.
"""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
from redis.asyncio import Redis

from tests.conftest import RUN_ID, ClientFactory
from tests.fixtures.auth import AUTH, login_as, register_and_login, unique_email
from tests.support.servers import RedisServer

LIMIT = 20
TODOS = "/api/v1/todos"


async def _ready(client: httpx.AsyncClient, deadline_seconds: float = 30) -> httpx.Response:
    deadline = time.monotonic() + deadline_seconds
    while True:
        response = await client.get("/health/ready")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.1)


async def test_a_redis_outage_keeps_serving_keeps_revocations_and_recovers(
    make_client: ClientFactory, own_redis: RedisServer
) -> None:
    settings = {
        "redis_url": own_redis.url,
        "redis_key_prefix": f"koiki-outage-{RUN_ID}:",
        "rate_limit_strategy": "redis",
        "rate_limit_default": f"{LIMIT}/minute",
        "rate_limit_backend_retry_seconds": 0.3,
    }
    async with make_client(**settings) as client:
        alice = await register_and_login(client, unique_email("alice"))
        bob = await register_and_login(client, unique_email("bob"))
        phone = await login_as(client, alice)
        before = await client.get(f"{AUTH}/me", headers=alice.headers)
        assert before.status_code == 200
        assert before.headers["X-RateLimit-Limit"] == str(LIMIT)
        assert (await client.post(f"{AUTH}/logout", headers=alice.headers)).status_code == 204
        assert (await client.get("/health/ready")).json()["checks"]["redis"] == "ok"

        await asyncio.to_thread(own_redis.stop)

        # Readiness names Redis; liveness does not care.
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"] != "ok"
        assert ready.json()["checks"]["database"] == "ok"
        assert (await client.get("/health")).status_code == 200
        # Fail-open: more writes than the limit allows, all served, no limit headers.
        created = [
            await client.post(TODOS, json={"title": f"outage {i}"}, headers=phone.headers)
            for i in range(LIMIT + 5)
        ]
        assert [r.status_code for r in created] == [201] * (LIMIT + 5)
        assert all("X-RateLimit-Limit" not in r.headers for r in created)
        listed = await client.get(TODOS, params={"limit": 100}, headers=phone.headers)
        assert listed.json()["total"] == LIMIT + 5
        # Logins (with their own route limits) still work.
        laptop = await login_as(client, alice)
        # The token logged out before the outage stays refused...
        stale = await client.get(f"{AUTH}/me", headers=alice.headers)
        assert stale.status_code == 401
        # ...and so does one logged out during it, with its refresh token.
        assert (await client.post(f"{AUTH}/logout", headers=phone.headers)).status_code == 204
        assert (await client.get(TODOS, headers=phone.headers)).status_code == 401
        refreshed = await client.post(
            f"{AUTH}/refresh", json={"refresh_token": phone.refresh_token}
        )
        assert refreshed.status_code == 401
        assert (await client.get(f"{AUTH}/me", headers=laptop.headers)).status_code == 200

        await asyncio.to_thread(own_redis.start)  # same port, empty
        returned_at = time.monotonic()
        ready = await _ready(client)
        assert ready.status_code == 200, ready.text
        print(
            f"\nready again {(time.monotonic() - returned_at) * 1000:.0f} ms after Redis returned"
        )
        assert ready.json()["checks"]["redis"] == "ok"
        await asyncio.sleep(0.4)  # the limiter leaves a failed backend alone for 0.3 s
        counted = [await client.get(TODOS, headers=bob.headers) for _ in range(LIMIT)]
        refused = await client.get(TODOS, headers=bob.headers)
        # Counting resumed from zero in the new Redis, shared-state headers and all.
        assert [r.status_code for r in counted] == [200] * LIMIT
        assert [r.headers["X-RateLimit-Remaining"] for r in counted] == [
            str(LIMIT - n) for n in range(1, LIMIT + 1)
        ]
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        # Revocations made during the outage still hold after it.
        assert (await client.get(f"{AUTH}/me", headers=phone.headers)).status_code == 401


async def test_a_revocation_made_while_redis_hangs_reaches_the_other_replicas_when_it_answers(
    make_client: ClientFactory, own_redis: RedisServer
) -> None:
    # Redis stops answering but keeps its data (SIGSTOP): the replica that ends a session cannot
    # delete the user's security stamp, so it keeps trying; a replica that saw nothing of the
    # outage still remembers the caller under the old stamp until that delete lands.
    assert own_redis.process is not None
    prefix = f"koiki-hang-{RUN_ID}:"
    settings = {
        "redis_url": own_redis.url,
        "redis_key_prefix": prefix,
        "rate_limit_strategy": "redis",
        "rate_limit_backend_timeout_seconds": 0.2,
        "rate_limit_backend_retry_seconds": 0.3,
    }
    async with (
        make_client(**settings) as replica_a,
        make_client(**settings) as replica_b,
        Redis.from_url(own_redis.url) as redis,
    ):
        user = await register_and_login(replica_a, unique_email("hang"))
        stamp = f"{prefix}stamp:user:{user.id}"
        for _ in range(2):
            assert (await replica_b.get(TODOS, headers=user.headers)).status_code == 200
        assert await redis.exists(stamp)

        own_redis.process.send_signal(signal.SIGSTOP)
        try:
            logout = await replica_a.post(f"{AUTH}/logout", headers=user.headers)
        finally:
            own_redis.process.send_signal(signal.SIGCONT)
        assert logout.status_code == 204

        deadline = time.monotonic() + 5
        while await redis.exists(stamp):
            assert time.monotonic() < deadline, "the stamp was never deleted"
            await asyncio.sleep(0.05)
        refused = await replica_b.get(TODOS, headers=user.headers)
        assert refused.status_code == 401
        assert refused.json()["code"] == "token_revoked"
