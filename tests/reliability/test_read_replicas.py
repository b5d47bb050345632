"""Read replicas (DATABASE_READ_URL): reads served by the standby, read-your-writes, a standby
paused or stopped costing no failed read.

The standby's own statistics (pg_stat_user_tables, which a hot standby keeps for the queries it
runs) show where the lists were read; the app's `koiki_db_reads_total{target}` says the same.
The cluster is the session's (tests/support/replication.py), asynchronous commit.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import REDIS_SERVER_URL
from tests.fixtures.auth import AuthedUser, register_and_login
from tests.reliability.conftest import AppServer, AppServerFactory
from tests.reliability.load import TODOS
from tests.support.replication import ReplicatedPostgres

pytestmark = pytest.mark.postgres_only

PAIRS = 1000
PAIR_WORKERS = 4
_SCANS = "SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0) FROM pg_stat_user_tables"
_SCANS += " WHERE relname = 'todos'"


def _replica_app(
    cluster: ReplicatedPostgres,
    app_server: AppServerFactory,
    max_lag: float,
    options: tuple[str, ...] = (),
    **env: str,
) -> AppServer:
    return app_server(
        *options,
        DATABASE_URL=cluster.write_url,
        DATABASE_READ_URL=cluster.read_url,
        DATABASE_READ_MAX_LAG_SECONDS=str(max_lag),
        DATABASE_READ_CHECK_INTERVAL_SECONDS="0.2",
        RATE_LIMIT_ENABLED="false",
        **env,
    )


async def _reads(client: httpx.AsyncClient) -> dict[str, float]:
    text = (await client.get("/metrics")).text
    found = re.findall(r'^koiki_db_reads_total\{target="(\w+)"\} ([0-9.e+]+)$', text, re.M)
    return {target: float(value) for target, value in found}


async def _eventually(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.1)


async def _ready(client: httpx.AsyncClient) -> dict[str, object]:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text  # a replica's trouble never makes it 503
    body: dict[str, object] = response.json()
    return body


def _standby_check(body: dict[str, object], cluster: ReplicatedPostgres) -> str:
    checks = body["checks"]
    assert isinstance(checks, dict)
    return str(checks[f"database_read 127.0.0.1:{cluster.standby.port}"])


async def _list(client: httpx.AsyncClient, user: AuthedUser) -> dict[str, object]:
    response = await client.get(TODOS, headers=user.headers, params={"limit": 1})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_lists_are_read_from_the_standby(
    replicated_postgres: ReplicatedPostgres, app_server: AppServerFactory
) -> None:
    cluster = replicated_postgres
    server = _replica_app(cluster, app_server, max_lag=2)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        user = await register_and_login(client)
        for number in range(5):
            created = await client.post(TODOS, json={"title": f"t{number}"}, headers=user.headers)
            assert created.status_code == 201
        ready = await _ready(client)
        assert ready["status"] == "ready", ready
        primary = f"127.0.0.1:{cluster.primary.port}"
        assert ready["checks"]["database_primary"] == primary  # type: ignore[index]
        # The standby has replayed past the user's last write: their lists go there.
        await asyncio.sleep(0.6)
        scans_before = int(cluster.sql(cluster.standby, _SCANS))
        reads_before = await _reads(client)
        lists = [await _list(client, user) for _ in range(50)]
        reads_after = await _reads(client)

        async def standby_counted() -> bool:
            return int(cluster.sql(cluster.standby, _SCANS)) - scans_before >= 50

        await _eventually(standby_counted, "the standby's statistics to show 50 scans")
    assert all(body["total"] == 5 for body in lists)
    assert reads_after["replica"] - reads_before.get("replica", 0) == 50
    assert reads_after.get("primary", 0) == reads_before.get("primary", 0)


async def test_read_your_writes_for_1000_create_then_list_pairs(
    replicated_postgres: ReplicatedPostgres, app_server: AppServerFactory, tmp_path: Path
) -> None:
    """The standby's replay is paused, within a generous lag bound: other callers still read
    from it (stale), but a caller who has just written always reads their write. Two worker
    processes and a connection per request: a create and the list after it are often answered by
    different processes, which know of the write through Redis."""
    cluster = replicated_postgres
    shared: dict[str, str] = {}
    if REDIS_SERVER_URL:  # always in the PostgreSQL + Redis pass
        shared = {"REDIS_URL": REDIS_SERVER_URL, "REDIS_KEY_PREFIX": f"koiki-ryw-{os.getpid()}:"}
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    server = _replica_app(
        cluster,
        app_server,
        max_lag=300,
        options=("--workers", "2") if shared else (),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        **shared,
    )
    fresh = httpx.Limits(max_keepalive_connections=0)  # the kernel spreads them over the workers
    async with httpx.AsyncClient(base_url=server.url, timeout=20, limits=fresh) as client:
        if shared:
            await _eventually(
                lambda: _files(metrics_dir, "counter_*.db", 2), "both workers to start"
            )
        reader = await register_and_login(client)
        writers = [await register_and_login(client) for _ in range(PAIR_WORKERS)]
        await asyncio.sleep(0.6)  # the standby has replayed past the registrations
        cluster.sql(cluster.standby, "SELECT pg_wal_replay_pause()")
        try:
            misses: list[str] = []

            async def pairs(writer: AuthedUser, count: int) -> None:
                for number in range(count):
                    created = await client.post(
                        TODOS, json={"title": f"p{number}"}, headers=writer.headers
                    )
                    assert created.status_code == 201, created.text
                    listed = await _list(client, writer)
                    items = listed["items"]
                    assert isinstance(items, list)
                    if listed["total"] != number + 1 or items[0]["id"] != created.json()["id"]:
                        misses.append(f"{writer.email} #{number}: {listed}")

            reads_before = await _reads(client)
            await asyncio.gather(*(pairs(w, PAIRS // PAIR_WORKERS) for w in writers))
            # A caller who wrote nothing meanwhile still reads from the (paused) standby.
            stale = await _list(client, reader)
            reads_after = await _reads(client)
        finally:
            cluster.sql(cluster.standby, "SELECT pg_wal_replay_resume()")
    assert misses == [], misses[:3]
    assert stale["total"] == 0
    assert reads_after["primary"] - reads_before.get("primary", 0) >= PAIRS
    assert reads_after["replica"] - reads_before.get("replica", 0) >= 1


async def _files(directory: Path, pattern: str, count: int) -> bool:
    found = await asyncio.to_thread(lambda: list(directory.glob(pattern)))
    return len(found) >= count


async def test_a_paused_standby_is_skipped_then_used_again(
    replicated_postgres: ReplicatedPostgres, app_server: AppServerFactory
) -> None:
    cluster = replicated_postgres
    server = _replica_app(cluster, app_server, max_lag=1)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        reader, writer = await register_and_login(client), await register_and_login(client)
        cluster.sql(cluster.standby, "SELECT pg_wal_replay_pause()")
        try:
            # WAL the standby does not replay: its lag grows past the 1 s bound.
            await client.post(TODOS, json={"title": "moves the WAL"}, headers=writer.headers)

            async def skipped() -> bool:
                return _standby_check(await _ready(client), cluster).startswith("lagging")

            await _eventually(skipped, "the paused standby to be reported lagging")
            degraded = await _ready(client)
            before = await _reads(client)
            lists = [await _list(client, reader) for _ in range(20)]
            during = await _reads(client)
        finally:
            cluster.sql(cluster.standby, "SELECT pg_wal_replay_resume()")

        async def caught_up() -> bool:
            return _standby_check(await _ready(client), cluster).startswith("ok")

        await _eventually(caught_up, "the standby to catch up")
        await asyncio.sleep(0.3)
        [await _list(client, reader) for _ in range(20)]
        after = await _reads(client)
    assert degraded["status"] == "degraded"
    assert all(body["total"] == 0 for body in lists)
    assert during["primary"] - before.get("primary", 0) == 20
    assert during.get("replica", 0) == before.get("replica", 0)
    assert after["replica"] - during.get("replica", 0) == 20


async def test_a_stopped_standby_costs_no_failed_read(
    replicated_postgres: ReplicatedPostgres, app_server: AppServerFactory
) -> None:
    cluster = replicated_postgres
    server = _replica_app(cluster, app_server, max_lag=2)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        user = await register_and_login(client)
        await client.post(TODOS, json={"title": "kept"}, headers=user.headers)
        await asyncio.sleep(0.6)
        warm = [await _list(client, user) for _ in range(5)]  # pooled standby connections
        await asyncio.to_thread(cluster.standby.stop)
        try:
            lists = [await _list(client, user) for _ in range(50)]
            degraded = await _ready(client)
        finally:
            await asyncio.to_thread(cluster.standby.start)

        async def back() -> bool:
            return _standby_check(await _ready(client), cluster).startswith("ok")

        await _eventually(back, "the restarted standby to be used again")
        before = await _reads(client)
        again = [await _list(client, user) for _ in range(5)]
        after = await _reads(client)
    assert all(body["total"] == 1 for body in warm + lists + again)
    assert degraded["status"] == "degraded"
    assert _standby_check(degraded, cluster).endswith("reads go to the primary")
    assert after["replica"] - before.get("replica", 0) == 5
