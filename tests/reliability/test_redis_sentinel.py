"""Redis through Sentinel: the master is killed under the real API, a replica takes over.

One Sentinel group for the module (a master, a replica, three sentinels, passwords on both;
tests/support/sentinel.py), brought back to health before each test: a test that kills the master
leaves the killed server to be restarted as the new master's replica. The app is the real one
in-process, with its real Redis clients (`REDIS_URL=redis+sentinel://...`); nothing is mocked.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from ops.doctor import check_redis
from tests.conftest import RUN_ID, ClientFactory, base_settings
from tests.fixtures.auth import AUTH, login_as, register_and_login, unique_email
from tests.support.sentinel import MASTER_PASSWORD, SENTINEL_PASSWORD, SentinelGroup
from tests.support.servers import free_port

LIMIT = 30
COUNTED_BEFORE = 5
TODOS = "/api/v1/todos"
# Sentinel's own timing (down-after 1 s, then agreement and promotion) plus the limiter's pause
# after a failure (0.2 s here); measured 2-4 s (tests/reliability/README.md).
FAILOVER_BOUND_SECONDS = 20.0


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelGroup]:
    servers = SentinelGroup(tmp_path_factory.mktemp("sentinel"))
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


@pytest.fixture
async def healthy(group: SentinelGroup) -> SentinelGroup:
    """The group with both data servers up and in sync, whatever the last test killed."""
    for server in group.servers:
        if server.process is None:
            await asyncio.to_thread(group.rejoin, server)
    await asyncio.to_thread(group.wait_healthy)
    return group


def _settings(group: SentinelGroup, name: str, **more: Any) -> dict[str, Any]:
    return {
        "redis_url": group.url(),
        "redis_sentinel_password": SENTINEL_PASSWORD,
        "redis_key_prefix": f"koiki-sentinel-{RUN_ID}-{name}:",
        "rate_limit_strategy": "redis",
        "rate_limit_default": f"{LIMIT}/minute",
        "rate_limit_backend_retry_seconds": 0.2,
        **more,
    }


def _master_changes(client: str) -> float:
    value = REGISTRY.get_sample_value("koiki_redis_master_changes_total", {"client": client})
    return value or 0.0


async def _wait_in_sync(group: SentinelGroup) -> None:
    deadline = time.monotonic() + 10
    while not await asyncio.to_thread(group.in_sync):
        assert time.monotonic() < deadline, "the replica never caught up"
        await asyncio.sleep(0.02)


async def test_doctor_names_the_master_the_sentinels_and_the_missing_one(
    healthy: SentinelGroup, database_url: str
) -> None:
    settings = base_settings(database_url, **_settings(healthy, "doctor"))
    result = await check_redis(settings)
    assert result.status == "ok", result
    master = healthy.master().port
    assert f"master 127.0.0.1:{master} reachable" in result.summary
    assert "3 sentinels, 3 answer; quorum 2; 1 replica(s)" in result.summary

    # One sentinel more in the URL, and nobody there: still served, but said.
    url = healthy.url(dead_first=free_port())
    degraded = await check_redis(
        base_settings(database_url, **_settings(healthy, "doctor", redis_url=url))
    )
    assert degraded.status == "warn", degraded
    assert "4 sentinels, 3 answer" in degraded.summary
    assert "ConnectionError" in degraded.summary

    wrong = await check_redis(
        base_settings(
            database_url, **_settings(healthy, "doctor", redis_sentinel_password="wrong-one")
        )
    )
    assert wrong.status == "fail", wrong
    assert "cannot reach Redis (master of 'koiki' via sentinels" in wrong.summary
    assert "wrong-one" not in wrong.summary
    assert MASTER_PASSWORD not in wrong.summary


async def test_a_master_killed_under_traffic_costs_no_error_and_counting_resumes_on_the_new_one(
    make_client: ClientFactory, healthy: SentinelGroup
) -> None:
    # The first sentinel in the URL is dead: it is skipped at once, during the failover too.
    settings = _settings(healthy, "failover", redis_url=healthy.url(dead_first=free_port()))
    async with make_client(**settings) as app:
        alice = await register_and_login(app, unique_email("alice"))
        phone = await login_as(app, alice)
        bob = await register_and_login(app, unique_email("bob"))
        writer = await register_and_login(app, unique_email("writer"))
        for _ in range(2):  # remembered under the stamps the master holds
            assert (await app.get(TODOS, headers=phone.headers)).status_code == 200
        assert (await app.post(f"{AUTH}/logout", headers=alice.headers)).status_code == 204
        assert (await app.get(TODOS, headers=alice.headers)).status_code == 401
        before = [await app.get(TODOS, headers=bob.headers) for _ in range(COUNTED_BEFORE)]
        assert [r.headers["X-RateLimit-Remaining"] for r in before] == [
            str(LIMIT - n) for n in range(1, COUNTED_BEFORE + 1)
        ]
        await _wait_in_sync(healthy)  # the counters are on the replica too
        changes = _master_changes("ratelimit")
        old = healthy.master()

        await asyncio.to_thread(old.stop)  # SIGKILL
        killed_at = time.monotonic()
        api: Counter[int] = Counter()
        ready: Counter[int] = Counter()
        created: list[int] = []
        first_counted: httpx.Response | None = None
        counted_after = 0.0
        stop = asyncio.Event()

        async def probe() -> None:
            nonlocal first_counted, counted_after
            while time.monotonic() - killed_at < FAILOVER_BOUND_SECONDS:
                response = await app.get(TODOS, headers=bob.headers)
                api[response.status_code] += 1
                if "X-RateLimit-Remaining" in response.headers:
                    first_counted, counted_after = response, time.monotonic() - killed_at
                    break
                await asyncio.sleep(0.02)
            stop.set()

        async def write() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                response = await app.post(
                    TODOS, json={"title": f"failover {n}"}, headers=writer.headers
                )
                api[response.status_code] += 1
                if response.status_code == 201:
                    created.append(response.json()["id"])
                await asyncio.sleep(0.05)

        async def readiness() -> None:
            while not stop.is_set():
                response = await app.get("/health/ready")
                ready[response.status_code] += 1
                assert response.json()["checks"]["database"] == "ok", response.text
                await asyncio.sleep(0.1)

        await asyncio.gather(probe(), write(), readiness())
        print(
            f"\nlimits applied again {counted_after * 1000:.0f} ms after the master was killed;"
            f" API answers {dict(api)}, readiness {dict(ready)}"
        )
        # Fail-open throughout, never an error; readiness said "not ready" at worst.
        assert set(api) <= {200, 201}, api
        assert set(ready) <= {200, 503}, ready
        assert first_counted is not None, f"limits did not apply within {FAILOVER_BOUND_SECONDS} s"
        new = await asyncio.to_thread(
            healthy.master, other_than=old.port, timeout=FAILOVER_BOUND_SECONDS
        )
        assert _master_changes("ratelimit") - changes == 1

        # Counting resumed where it stopped, on the new master, down to a refusal.
        remaining = [int(first_counted.headers["X-RateLimit-Remaining"])]
        assert remaining == [LIMIT - COUNTED_BEFORE - 1]
        while remaining[-1] > 0:
            response = await app.get(TODOS, headers=bob.headers)
            assert response.status_code == 200, response.text
            remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert remaining == list(range(LIMIT - COUNTED_BEFORE - 1, -1, -1))
        refused = await app.get(TODOS, headers=bob.headers)
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        with healthy.data_client(new) as redis:
            assert redis.keys(f"koiki-sentinel-{RUN_ID}-failover:ratelimit:*")

        # Revocation held; the session that was valid still is; every acknowledged write is kept.
        stale = await app.get(TODOS, headers=alice.headers)
        assert stale.status_code == 401
        assert stale.json()["code"] == "token_revoked"
        assert (await app.get(f"{AUTH}/me", headers=phone.headers)).status_code == 200
        ready_now = await app.get("/health/ready")
        assert ready_now.status_code == 200
        assert ready_now.json()["checks"]["redis"] == "ok"
        listed = await app.get(TODOS, params={"limit": 100}, headers=writer.headers)
        assert sorted(item["id"] for item in listed.json()["items"]) == sorted(created)


async def test_a_stamp_delete_lost_in_the_failover_does_not_revive_a_remembered_token(
    make_client: ClientFactory, healthy: SentinelGroup
) -> None:
    # The old master acknowledged the delete of the user's stamp; the replica never got it (its
    # link was cut), and is promoted. A replica of the app that remembered the caller sees the old
    # stamp again on the new master: only forgetting on a master change makes it ask the database.
    settings = _settings(healthy, "lost", principal_cache_seconds=300)
    prefix = settings["redis_key_prefix"]
    async with make_client(**settings) as replica_a, make_client(**settings) as replica_b:
        user = await register_and_login(replica_a, unique_email("lost"))
        for _ in range(2):
            assert (await replica_b.get(TODOS, headers=user.headers)).status_code == 200
        await _wait_in_sync(healthy)
        stamp_key = f"{prefix}stamp:user:{user.id}"
        old, standby = healthy.master(), healthy.replica()
        with healthy.data_client(standby) as redis:
            stamp = redis.get(stamp_key)
        assert stamp is not None

        with healthy.replication_cut(standby):
            logout = await replica_a.post(f"{AUTH}/logout", headers=user.headers)
            await asyncio.to_thread(old.stop)
        assert logout.status_code == 204
        # No request meanwhile: replica B meets the new master on its next command, unwarned.
        new = await asyncio.to_thread(
            healthy.master, other_than=old.port, timeout=FAILOVER_BOUND_SECONDS
        )
        assert new is standby
        with healthy.data_client(new) as redis:
            assert redis.get(stamp_key) == stamp, "the delete reached the replica: nothing to prove"

        refused = await replica_b.get(TODOS, headers=user.headers)
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "token_revoked"
        assert "X-RateLimit-Remaining" in refused.headers  # counted on the new master, no outage
