"""The framework's `koiki_` series move with what they measure: the pool, Redis, readiness, the
build, the hashing queue, backups (what an operator's dashboards and alerts read)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from libkoiki import __version__
from tests.fixtures.auth import register_and_login


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


async def test_pool_readiness_build_and_hashing(make_client, settings) -> None:  # type: ignore[no-untyped-def]
    async with make_client(build_commit="abc1234") as client:
        before = (await client.get("/metrics")).text
        user = await register_and_login(client)
        listed = await client.get("/api/v1/todos", headers=user.headers)
        ready = await client.get("/health/ready")
        after = (await client.get("/metrics")).text
    assert listed.status_code == 200
    assert ready.status_code == 200
    assert value(after, "koiki_build_info", version=__version__, commit="abc1234") == 1
    for check in ("database", "redis", "migrations"):
        assert value(after, "koiki_readiness_status", check=check) == 1, check
    assert value(after, "koiki_readiness_last_check_timestamp_seconds") > time.time() - 60
    # Every checkout timed, every connection back in the pool, nobody waiting, no hash left.
    checkouts = value(after, "koiki_db_pool_checkout_seconds_count") - value(
        before, "koiki_db_pool_checkout_seconds_count"
    )
    if not settings.is_sqlite:
        assert checkouts >= 3
        assert value(after, "koiki_db_pool_connections_in_use") <= 1  # /metrics's own, at most
        assert value(after, "koiki_db_pool_waiting") == 0
    assert value(after, "koiki_password_hashes_pending") == 0
    if settings.redis_url:
        evalsha = value(after, "koiki_redis_command_seconds_count", command="EVALSHA") - value(
            before, "koiki_redis_command_seconds_count", command="EVALSHA"
        )
        assert evalsha >= 3  # the rate limiter's script, once per API request


async def test_readiness_failure_shows_per_dependency(make_client) -> None:  # type: ignore[no-untyped-def]
    async with make_client(redis_url="redis://127.0.0.1:1/0", rate_limit_enabled=False) as client:
        ready = await client.get("/health/ready")
        text = (await client.get("/metrics")).text
    assert ready.status_code == 503
    assert value(text, "koiki_readiness_status", check="redis") == 0
    assert value(text, "koiki_readiness_status", check="database") == 1
    errors = [
        labels
        for (name, labels), count in samples(text).items()
        if name == "koiki_redis_command_errors_total" and count > 0
    ]
    assert (("command", "PING"), ("error", "ConnectionError")) in errors


async def test_backup_freshness_and_space(make_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    backups = tmp_path / "backups"
    backups.mkdir()
    complete = backups / "koiki-app-20261206T120000Z.dump"
    complete.write_bytes(b"dump")
    (backups / (complete.name + ".sha256")).write_text("x")
    os.utime(complete, (1_800_000_000, 1_800_000_000))
    # Newer, but its sidecar is missing: a dump still being written (or a failed one).
    (backups / "koiki-app-20261206T130000Z.dump").write_bytes(b"partial")
    async with make_client(backup_dir=str(backups)) as client:
        text = (await client.get("/metrics")).text
    assert value(text, "koiki_backup_last_success_timestamp_seconds") == 1_800_000_000
    assert (
        0
        < value(text, "koiki_backup_disk_free_bytes")
        <= value(text, "koiki_backup_disk_size_bytes")
    )
    async with make_client(backup_dir=str(tmp_path / "absent")) as client:
        text = (await client.get("/metrics")).text
    assert "koiki_backup_" not in text


async def test_unmatched_paths_share_one_series(client: httpx.AsyncClient) -> None:
    for n in range(5):
        await client.get(f"/scanner/probe-{n}")
    text = (await client.get("/metrics")).text
    assert value(text, "http_requests_total", handler="none", method="GET", status="4xx") == 5
    assert "probe-" not in text
