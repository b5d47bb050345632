"""Three replicas of the real app behind the real nginx configuration, sharing one database and
one Redis (a throwaway redis-server of the module's own), as the production compose file runs them.

Clients connect from different loopback addresses, so nginx's own `X-Forwarded-For` tells them
apart, exactly as it does for clients on the internet. The database follows the test pass: a
SQLite file in the embedded pass, a scratch PostgreSQL database in the PostgreSQL + Redis pass.
"""

from __future__ import annotations

import asyncio
import signal
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_SERVER_URL
from tests.deploy.edge import Edge, edge_env, running_edge
from tests.fixtures.auth import AUTH, DEFAULT_PASSWORD, unique_email
from tests.ops.support import ScratchDatabase, wait_until
from tests.support.servers import RedisServer

LIMIT = 10
LOAD_REQUESTS = 600
LOAD_CONCURRENCY = 8
KILL_AFTER = 150


@pytest.fixture(scope="module")
def deployment() -> Iterator[Edge]:
    with tempfile.TemporaryDirectory(prefix="koiki-replicas-") as scratch:
        redis = RedisServer(Path(scratch))
        database = ScratchDatabase(POSTGRES_SERVER_URL, "replicas") if POSTGRES_SERVER_URL else None
        try:
            redis.start()
            if database is not None:
                asyncio.run(database.create())
            url = database.url if database else f"sqlite+aiosqlite:///{scratch}/koiki.db"
            env = edge_env(
                url,
                REDIS_URL=redis.url,
                REDIS_KEY_PREFIX="koiki-replicas:",
                RATE_LIMIT_STRATEGY="redis",
                RATE_LIMIT_DEFAULT=f"{LIMIT}/minute",
                # These proofs are about replicas; email verification (on in production) has
                # its own tests and would need a mail round trip before every login.
                REQUIRE_EMAIL_VERIFICATION="false",
            )
            with running_edge(env) as edge:
                yield edge
        finally:
            if database is not None:
                asyncio.run(database.drop())
            redis.stop()


def test_one_budget_per_client_across_all_replicas(deployment: Edge) -> None:
    with deployment.client("127.0.0.2") as alice, deployment.client("127.0.0.3") as bob:
        counted = [
            alice.get("/api/v1/edge-probe", headers={"X-Request-ID": f"edge-replicas-a{i}"})
            for i in range(LIMIT)
        ]
        refused = alice.get("/api/v1/edge-probe", headers={"X-Request-ID": "edge-replicas-a-x"})
        other = bob.get("/api/v1/edge-probe")
    # The budget is counted in Redis: the replicas together allow LIMIT, not LIMIT each.
    assert [r.headers["X-RateLimit-Remaining"] for r in counted] == [
        str(LIMIT - n) for n in range(1, LIMIT + 1)
    ]
    # nginx writes the access line just after the response.
    assert wait_until(
        lambda: sum(deployment.upstreams_for("edge-replicas-a").values()) == LIMIT + 1, timeout=10
    )
    assert len(deployment.upstreams_for("edge-replicas-a")) >= 2, "round robin spread them"
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "rate_limited"
    assert body["request_id"] == "edge-replicas-a-x"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Content-Security-Policy"].startswith("default-src 'none'")
    # Another client behind the same nginx has a budget of its own.
    assert other.status_code == 404
    assert other.headers["X-RateLimit-Remaining"] == str(LIMIT - 1)


def test_a_client_cannot_borrow_another_address_through_nginx(deployment: Edge) -> None:
    with deployment.client("127.0.0.4") as mallory, deployment.client("127.0.0.5") as carol:
        assert carol.get("/api/v1/edge-probe").headers["X-RateLimit-Remaining"] == str(LIMIT - 1)
        for _ in range(LIMIT):
            spoofed = mallory.get(
                "/api/v1/edge-probe",
                headers={"X-Forwarded-For": "127.0.0.5", "X-Real-IP": "127.0.0.5"},
            )
        # nginx replaced the forged headers: mallory used up her own budget, not carol's...
        assert spoofed.headers["X-RateLimit-Remaining"] == "0"
        assert mallory.get("/api/v1/edge-probe").status_code == 429
        # ...and carol still has hers.
        assert carol.get("/api/v1/edge-probe").headers["X-RateLimit-Remaining"] == str(LIMIT - 2)


def test_probes_stay_unlimited_behind_nginx(deployment: Edge) -> None:
    with deployment.client("127.0.0.6") as prober:
        statuses = {prober.get("/health").status_code for _ in range(LIMIT + 3)}
    assert statuses == {200}


def test_a_logout_through_one_replica_holds_on_the_others(deployment: Edge) -> None:
    email = unique_email("replicas")
    with deployment.client("127.0.0.7") as edge:
        registered = edge.post(
            f"{AUTH}/register", json={"email": email, "password": DEFAULT_PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        tokens = edge.post(
            f"{AUTH}/login", data={"username": email, "password": DEFAULT_PASSWORD}
        ).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    # Each replica directly, on the internal network, so which one answers is not left to chance.
    replicas = [
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        for port in deployment.replica_ports
    ]
    try:
        assert [r.get(f"{AUTH}/me", headers=bearer).status_code for r in replicas] == [200] * 3
        logout = replicas[0].post(
            f"{AUTH}/logout", headers=bearer, json={"refresh_token": tokens["refresh_token"]}
        )
        assert logout.status_code == 204
        refused = [r.get(f"{AUTH}/me", headers=bearer) for r in replicas[1:]]
        assert [r.status_code for r in refused] == [401, 401]
        refresh = replicas[2].post(
            f"{AUTH}/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refresh.status_code == 401
    finally:
        for replica in replicas:
            replica.close()
    # And through nginx, whichever replica it picks.
    with deployment.client("127.0.0.7") as edge:
        assert [edge.get(f"{AUTH}/me", headers=bearer).status_code for _ in range(3)] == [401] * 3


def test_killing_a_replica_under_load_loses_no_get(deployment: Edge) -> None:
    """kill -9 one replica while 600 GETs run through nginx. nginx retries, on another replica,
    every request the dead one had not started to answer. It cannot retry one whose response
    headers it had already passed on (the replica died between headers and body): that is the only
    failure allowed, it must be visible as such in nginx's log, and it never happened in our runs.
    """
    # Must run last in this module: it leaves two replicas.
    victim = deployment.replicas[1]
    victim_port = str(deployment.replica_ports[1])
    done = 0
    lock = threading.Lock()
    killed = threading.Event()
    failed: dict[str, str] = {}

    def one(i: int, client: httpx.Client) -> None:
        nonlocal done
        rid = f"edge-load-{i}"
        try:
            response = client.get("/health", headers={"X-Request-ID": rid})
            if response.status_code != 200:
                failed[rid] = f"{response.status_code} {response.text[:100]}"
        except httpx.HTTPError as exc:
            failed[rid] = repr(exc)
        with lock:
            done += 1
            if done == KILL_AFTER:
                victim.kill()
                killed.set()

    limits = httpx.Limits(max_connections=LOAD_CONCURRENCY)
    with deployment.client(limits=limits) as client, ThreadPoolExecutor(LOAD_CONCURRENCY) as pool:
        for future in [pool.submit(one, i, client) for i in range(LOAD_REQUESTS)]:
            future.result(timeout=60)

    assert killed.is_set()
    assert victim.wait(timeout=5) == -signal.SIGKILL
    assert wait_until(
        lambda: sum(deployment.upstreams_for("edge-load-").values()) == LOAD_REQUESTS, timeout=10
    )
    lines = {rid: (tried, status) for rid, tried, status in deployment.access_lines()}
    cut_mid_response = {
        rid
        for rid in failed
        if rid in lines and lines[rid][0] == [f"127.0.0.1:{victim_port}"] and lines[rid][1] == "200"
    }
    assert set(failed) == cut_mid_response, {
        rid: failed[rid] for rid in set(failed) - cut_mid_response
    }
    assert len(failed) <= LOAD_CONCURRENCY
    counts = deployment.upstreams_for("edge-load-")
    # Before the kill all three answered; afterwards the other two carried the load.
    survivors = {str(p) for p in deployment.replica_ports} - {victim_port}
    assert all(counts[port] > KILL_AFTER // 4 for port in survivors), counts
    assert counts[victim_port] < KILL_AFTER, counts
    # The kill was felt: requests nginx had sent to the dead replica were retried elsewhere.
    retried = deployment.retried_away_from("edge-load-", victim_port)
    print(f"\nretried by nginx: {retried}; cut mid-response: {len(failed)}; answers: {counts}")
    assert retried >= 1
