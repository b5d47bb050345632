"""The scripts docker-compose.ha.yml starts Redis and its Sentinels with (docker/redis/), run on
loopback: the set-up they build fails over, and a server or sentinel that restarts afterwards
follows the new master instead of its first configuration (never a second master)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis.exceptions import RedisError

from tests.support.sentinel import SERVICE, SentinelGroup, scripted_group


@pytest.fixture
def group(tmp_path: Path) -> Iterator[SentinelGroup]:
    servers = scripted_group(tmp_path)
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


def _until(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_restarted_master_or_sentinel_follows_the_new_master(group: SentinelGroup) -> None:
    first, second = group.servers
    assert (
        group.master() is first
    )  # REDIS_INITIAL_MASTER: empty on the first, its host on the other

    first.stop()
    assert group.master(other_than=first.port) is second

    # Restarted with the same command and environment as at first start: it asks the sentinels.
    first.start()
    with group.data_client(first) as client:
        replication = client.info("replication")
    assert replication["role"] == "slave"
    assert int(replication["master_port"]) == second.port
    group.wait_healthy()

    # A sentinel writes its configuration afresh at each start: from the others, not the first one.
    sentinel = group.sentinels[0]
    sentinel.stop()
    sentinel.start()
    assert f"sentinel monitor {SERVICE} 127.0.0.1 {second.port} 2" in sentinel.config.read_text()

    def monitors_the_new_master() -> bool:
        try:
            with sentinel.client() as client:
                return int(client.sentinel_master(SERVICE)["port"]) == second.port
        except RedisError:  # still starting
            return False

    _until(monitors_the_new_master, "the restarted sentinel never monitored the new master")
    group.wait_healthy()
