"""Redis with Sentinel on loopback: a master, a replica and three sentinels, all with passwords.

The smallest set-up Sentinel's documentation calls sound (three sentinels, quorum 2). Failover is
quick because `down-after-milliseconds` is short; everything else is as in production
(docker/redis/): the sentinels need a password of their own, the data servers another.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from tests.support.servers import REPO_ROOT, RedisServer, free_port

SERVICE = "koiki"
MASTER_PASSWORD = "master-secret-for-tests"  # throwaway servers on loopback
SENTINEL_PASSWORD = "sentinel-secret-for-tests"
QUORUM = 2
SCRIPTS = REPO_ROOT / "docker" / "redis"


class Sentinel:
    """One `redis-server sentinel.conf --sentinel`; it rewrites its file, so each has its own."""

    def __init__(self, directory: Path, master_port: int, down_after_ms: int) -> None:
        self.directory = directory
        self.port = free_port()
        self.config = directory / f"sentinel-{self.port}.conf"
        self.config.write_text(
            "\n".join(
                (
                    "bind 127.0.0.1",
                    f"port {self.port}",
                    f"dir {directory}",
                    f"requirepass {SENTINEL_PASSWORD}",
                    f"sentinel sentinel-pass {SENTINEL_PASSWORD}",
                    f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} {QUORUM}",
                    f"sentinel auth-pass {SERVICE} {MASTER_PASSWORD}",
                    f"sentinel down-after-milliseconds {SERVICE} {down_after_ms}",
                    # A failover attempt that stalls (a slow machine) is retried after twice this:
                    # short enough for the tests' stated bound.
                    f"sentinel failover-timeout {SERVICE} 4000",
                    f"sentinel parallel-syncs {SERVICE} 1",
                    "",
                )
            )
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.command = [RedisServer(directory).binary, str(self.config), "--sentinel"]
        self.env: dict[str, str] | None = None

    def client(self) -> Redis:
        return Redis(port=self.port, password=SENTINEL_PASSWORD, socket_timeout=1)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


class SentinelGroup:
    """Two data servers (the first starts as master) and three sentinels watching them."""

    def __init__(self, directory: Path, down_after_ms: int = 1000) -> None:
        self.directory = directory
        auth = ("--requirepass", MASTER_PASSWORD, "--masterauth", MASTER_PASSWORD)
        first = RedisServer(directory, *auth)
        second = RedisServer(directory, *auth, "--replicaof", "127.0.0.1", str(first.port))
        self.servers = [first, second]
        self.sentinels = [Sentinel(directory, first.port, down_after_ms) for _ in range(3)]

    def sentinel_ports(self) -> list[int]:
        return [sentinel.port for sentinel in self.sentinels]

    def url(self, db: int = 0, *, dead_first: int | None = None) -> str:
        """`dead_first`: a port nobody listens on, listed before the real sentinels."""
        ports = [dead_first] if dead_first is not None else []
        hosts = ",".join(f"127.0.0.1:{port}" for port in (*ports, *self.sentinel_ports()))
        return f"redis+sentinel://:{MASTER_PASSWORD}@{hosts}/{SERVICE}/{db}"

    def start(self) -> None:
        for server in self.servers:
            server.start()
        for sentinel in self.sentinels:
            sentinel.start()
        self.wait_healthy()

    def rejoin(self, server: RedisServer) -> None:
        """Start a stopped data server again as the master's replica (as docker/redis/ does)."""
        master = self.master()
        server.options = (*server.options[:4], "--replicaof", "127.0.0.1", str(master.port))
        server.start()
        self.wait_healthy()

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in self.servers:
            server.stop()

    def data_client(self, server: RedisServer) -> Redis:
        return Redis(port=server.port, password=MASTER_PASSWORD, socket_timeout=1)

    def master_port(self) -> int | None:
        """The master's port if every sentinel names the same one and sees it up."""
        named = set()
        for sentinel in self.sentinels:
            try:
                with sentinel.client() as client:
                    state = client.sentinel_master(SERVICE)
            except RedisError:
                return None
            if state["is_sdown"] or state["is_odown"]:
                return None
            named.add(int(state["port"]))
        return named.pop() if len(named) == 1 else None

    def master(self, *, other_than: int | None = None, timeout: float = 20) -> RedisServer:
        """The master every sentinel names (`other_than`: not on that port, as after a failover).

        Right after a failover only the leader names the new master; the others learn it from its
        hello messages (every 2 s), so this waits for them to agree."""
        deadline = time.monotonic() + timeout
        while True:
            port = self.master_port()
            found = [s for s in self.servers if s.port == port and port != other_than]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no agreed master within {timeout} s (last seen: {port})")
            time.sleep(0.05)

    def replica(self) -> RedisServer:
        master = self.master()
        return next(server for server in self.servers if server is not master)

    def _healthy(self) -> bool:
        port = self.master_port()
        if port is None:
            return False
        replicas = [server for server in self.servers if server.port != port]
        try:
            for sentinel in self.sentinels:
                with sentinel.client() as client:
                    state = client.sentinel_master(SERVICE)
                    known = client.sentinel_slaves(SERVICE)
                if state["num-other-sentinels"] != len(self.sentinels) - 1:
                    return False
                if not any(
                    r["port"] == replica.port and not r["is_sdown"]
                    for r in known
                    for replica in replicas
                ):
                    return False
            for replica in replicas:
                with self.data_client(replica) as client:
                    info = client.info("replication")
                if info["role"] != "slave" or info["master_link_status"] != "up":
                    return False
                if int(info["master_port"]) != port:
                    return False
        except RedisError:
            return False
        return True

    def wait_healthy(self, timeout: float = 60) -> None:
        """Until the sentinels agree on an up master, know each other and see its replica in
        sync: only then can they agree on a failover."""
        deadline = time.monotonic() + timeout
        while not self._healthy():
            if time.monotonic() > deadline:
                raise RuntimeError("the Sentinel group did not become healthy")
            time.sleep(0.1)

    @contextmanager
    def replication_cut(self, replica: RedisServer) -> Iterator[None]:
        """The replica loses its link to the master (and cannot log in again) meanwhile: what
        the master acknowledges in the meantime never reaches it, as in a network split."""
        with self.data_client(replica) as client:
            client.config_set("masterauth", "not-the-password")
            client.client_kill_filter(_type="master")
            deadline = time.monotonic() + 10
            while client.info("replication")["master_link_status"] != "down":
                assert time.monotonic() < deadline, "the replica kept its link"
                time.sleep(0.02)
            try:
                yield
            finally:
                client.config_set("masterauth", MASTER_PASSWORD)

    def in_sync(self) -> bool:
        """The replica has applied everything the master has (same replication offset)."""
        with self.data_client(self.master()) as master:
            offset = int(master.info("replication")["master_repl_offset"])
        with self.data_client(self.replica()) as replica:
            info = replica.info("replication")
        return int(info.get("slave_repl_offset", -1)) >= offset


def scripted_group(directory: Path, down_after_ms: int = 1000) -> SentinelGroup:
    """The same group, each server started by the production scripts (docker/redis/*.sh) as
    docker-compose.ha.yml starts it, with loopback addresses and ports instead of host names."""
    group = SentinelGroup(directory, down_after_ms)
    first, second = group.servers
    sentinels = " ".join(f"127.0.0.1:{port}" for port in group.sentinel_ports())
    shared = {
        **os.environ,
        "REDIS_PASSWORD": MASTER_PASSWORD,
        "REDIS_SENTINEL_PASSWORD": SENTINEL_PASSWORD,
        "REDIS_SENTINELS": sentinels,
        "REDIS_SERVICE": SERVICE,
    }
    for server, initial_master in ((first, ""), (second, f"127.0.0.1:{first.port}")):
        server.options = ()
        server.launcher = ("sh", str(SCRIPTS / "redis-node.sh"))
        server.env = {
            **shared,
            "REDIS_ANNOUNCE_HOST": "127.0.0.1",
            "REDIS_PORT": str(server.port),
            "REDIS_INITIAL_MASTER": initial_master,
        }
    template = directory / "sentinel-template.conf"
    production = (SCRIPTS / "sentinel.conf").read_text()
    template.write_text(
        production.replace(
            "down-after-milliseconds koiki 5000", f"down-after-milliseconds koiki {down_after_ms}"
        )
    )
    for sentinel in group.sentinels:
        sentinel.command = [
            "sh",
            str(SCRIPTS / "sentinel.sh"),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
        ]
        sentinel.env = {
            **shared,
            "REDIS_INITIAL_MASTER": f"127.0.0.1:{first.port}",
            "SENTINEL_ANNOUNCE_HOST": "127.0.0.1",
            "SENTINEL_PORT": str(sentinel.port),
            "SENTINEL_CONFIG": str(sentinel.config),
            "SENTINEL_TEMPLATE": str(template),
        }
    return group
