"""Redis clients built from `REDIS_URL`, in one place: one server, or the master Sentinel names.

- `redis://`, `rediss://`, `unix://`: one server, as redis-py's `Redis.from_url` reads it.
- `redis+sentinel://[[user]:password@]host1:26379,host2:26379/SERVICE[/db]`: the sentinels (port
  26379 unless given) are asked which server is the master of SERVICE; the password in the URL is
  the master's, `REDIS_SENTINEL_PASSWORD` the sentinels' own (if they need one).

A Sentinel client asks for the master only when it opens a connection. When the master dies, its
connections break, the next command reconnects and is sent to whichever server the sentinels name
then; the app follows a failover without a restart, and a pooled connection costs nothing extra
per command. A master that comes back as a replica answers writes with READONLY, which redis-py
turns into a broken connection, so the same path applies.

Why the client tells listeners when the master changed (`on_master_change`): a write acknowledged
by the old master may not have reached the replica that replaces it. The security stamps
(libkoiki.auth.principals) rely on deletes, so a process that meets a new master forgets every
principal it remembered and checks each caller in the database again.

Redis Cluster (`redis+cluster://`) is refused: the rate limiter reads a caller's counter and
security stamps in one script, and Cluster runs a script only when all its keys share a hash slot.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote

import structlog
from prometheus_client import Counter
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import MasterNotFoundError, Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.utils import HIREDIS_AVAILABLE

from libkoiki.observability.framework import MeasuredRedis

if HIREDIS_AVAILABLE:  # the hiredis redis-py would use; without it, redis-py packs in Python
    import hiredis

logger = structlog.get_logger("koiki.redis")

MASTER_CHANGES = Counter(
    "koiki_redis_master_changes_total",
    "Times a Redis client found that Sentinel names another master than before, by client",
    ["client"],
)

SENTINEL_SCHEME = "redis+sentinel"
DEFAULT_SENTINEL_PORT = 26379
_SINGLE_SERVER_SCHEMES = ("redis", "rediss", "unix")


@dataclass(frozen=True, slots=True)
class SentinelURL:
    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int
    username: str | None
    password: str | None

    def describe(self) -> str:
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        return f"master of {self.service_name!r} via sentinels {hosts}"


def _scheme(url: str) -> str:
    scheme, separator, _ = url.partition("://")
    if not separator:
        raise ValueError("REDIS_URL must look like redis://host:6379/0")
    return scheme.lower()


def _host_port(text: str) -> tuple[str, int]:
    if text.startswith("["):  # [::1]:26379
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise ValueError(f"REDIS_URL: a sentinel has no host name in {text!r}")
    if not port_text:
        return host, DEFAULT_SENTINEL_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"REDIS_URL: sentinel port {port_text!r} is not a port number")
    return host, int(port_text)


def parse_sentinel_url(url: str) -> SentinelURL:
    """The parts of a `redis+sentinel://` URL; ValueError naming what is wrong."""
    rest = url.split("://", 1)[1]
    if "?" in rest or "#" in rest:
        raise ValueError("REDIS_URL: redis+sentinel URLs take no query string (options)")
    location, _, path = rest.partition("/")
    userinfo, at, hosts = location.rpartition("@")
    username = password = None
    if at:
        user_text, colon, password_text = userinfo.partition(":")
        username = unquote(user_text) or None
        password = unquote(password_text) if colon else None
    if not hosts:
        raise ValueError("REDIS_URL: redis+sentinel needs at least one sentinel host:port")
    sentinels = tuple(_host_port(host) for host in hosts.split(","))
    service_name, _, db_text = path.strip("/").partition("/")
    if not service_name:
        raise ValueError(
            "REDIS_URL: redis+sentinel needs the service name: redis+sentinel://h:26379/mymaster"
        )
    if db_text and not db_text.isdigit():
        raise ValueError(f"REDIS_URL: database {db_text!r} is not a number")
    return SentinelURL(sentinels, unquote(service_name), int(db_text or 0), username, password)


def check_redis_url(url: str) -> None:
    """Refuse at start-up what `connect` could not use, naming the problem."""
    scheme = _scheme(url)
    if scheme == SENTINEL_SCHEME:
        parse_sentinel_url(url)
    elif scheme.endswith("+cluster"):
        raise ValueError(
            "REDIS_URL: Redis Cluster is not supported (the rate limiter reads counters and"
            " security stamps in one script, which Cluster refuses across hash slots);"
            " use redis+sentinel:// for high availability"
        )
    elif scheme not in _SINGLE_SERVER_SCHEMES:
        raise ValueError(
            f"REDIS_URL: unknown scheme {scheme!r}"
            " (redis://, rediss://, unix:// or redis+sentinel://)"
        )


def describe_redis_url(url: str) -> str:
    """Where the URL points, without its password (for logs and `ops doctor`)."""
    if _scheme(url) == SENTINEL_SCHEME:
        return parse_sentinel_url(url).describe()
    location = url.split("://", 1)[1].rpartition("@")[2]
    return f"{_scheme(url)}://{location}"


class MasterFollowingPool(SentinelConnectionPool):
    """Sentinel's pool, which also tells its listeners when the master's address changes."""

    def __init__(self, service_name: str, sentinel_manager: Sentinel, **kwargs: Any) -> None:
        self.role = kwargs.pop("role", "redis")
        super().__init__(service_name, sentinel_manager, **kwargs)  # type: ignore[no-untyped-call]
        self.master_listeners: list[Callable[[], None]] = []
        # Not redis-py's `master_address`: connections opened at once each ask the sentinels, and
        # each would see the old value there; this one is compared and set with no await between.
        self._followed: Any = None

    async def get_master_address(self) -> Any:
        try:
            address = await super().get_master_address()  # type: ignore[no-untyped-call]
        except MasterNotFoundError as exc:
            # redis-py's message holds every sentinel client's repr (kilobytes per log line):
            # keep only what each sentinel answered.
            errors = sorted(set(re.findall(r" - (.+?)(?=, <redis|$)", str(exc))))
            raise MasterNotFoundError(
                f"no sentinel names an up master for {self.service_name!r}"
                + (f" ({'; '.join(errors)})" if errors else "")
            ) from None
        previous, self._followed = self._followed, address
        if previous is not None and address != previous:
            MASTER_CHANGES.labels(client=self.role).inc()
            logger.warning(
                "redis_master_changed",
                client=self.role,
                service=self.service_name,
                previous=f"{previous[0]}:{previous[1]}",
                master=f"{address[0]}:{address[1]}",
            )
            for listener in self.master_listeners:
                listener()
        return address

    async def aclose(self) -> None:
        await super().aclose()
        await self.sentinel_manager.aclose()


class HiredisPacking(AbstractConnection):
    """Commands packed by hiredis, in C, as redis-py's synchronous client packs them; its asyncio
    client packs in Python, a call per argument: 2-3 % of a todo list request's instructions
    (`bench.instructions list`: 3.05M -> 2.97-3.00M). The same bytes; a value hiredis does not take
    (an int subclass, a bytearray, None...) goes to redis-py's packer, which packs or refuses it as
    before."""

    def pack_command(self, *args: Any) -> list[bytes]:
        packed = args
        # As redis-py does: a command name of several words ("CLIENT KILL") is several arguments.
        if isinstance(packed[0], str):
            packed = (*packed[0].encode().split(), *packed[1:])
        elif b" " in packed[0]:
            packed = (*packed[0].split(), *packed[1:])
        # hiredis reads a memoryview's buffer as if it were contiguous bytes (a strided or
        # reversed view would send other memory): views go as bytes, as redis-py sends them.
        # The test runs in C, unlike a pass over the arguments; bytearrays go to the fallback.
        if memoryview in map(type, packed):
            packed = tuple(bytes(arg) if type(arg) is memoryview else arg for arg in packed)
        try:
            return [hiredis.pack_command(packed)]
        except TypeError:
            return super().pack_command(*args)


@cache
def _hiredis_packing(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    return type(f"Hiredis{connection_class.__name__}", (HiredisPacking, connection_class), {})


def _pack_with_hiredis(client: Redis) -> Redis:
    """`client`, its connections (plain, TLS, Unix socket or Sentinel's) packing with hiredis
    when it is installed and the client encodes text as UTF-8 (what hiredis writes)."""
    pool = client.connection_pool
    options = pool.connection_kwargs
    if (
        HIREDIS_AVAILABLE
        and not issubclass(pool.connection_class, HiredisPacking)
        and options.get("encoding", "utf-8").lower().replace("-", "") == "utf8"
        and options.get("encoding_errors", "strict") == "strict"
    ):
        pool.connection_class = _hiredis_packing(pool.connection_class)  # type: ignore[arg-type]  # classes hash by identity
    return client


def connect(
    url: str,
    *,
    timeout_seconds: float,
    sentinel_password: SecretStr | None = None,
    retry: Retry | None = None,
    role: str = "redis",
) -> Redis:
    """A client for `url` (see the module's doc); nothing is connected until the first command.

    `timeout_seconds` bounds connecting and each reply, from the sentinels as from the master.
    """
    options: dict[str, Any] = {
        "socket_timeout": timeout_seconds,
        "socket_connect_timeout": timeout_seconds,
    }
    if retry is not None:
        options["retry"] = retry
    if _scheme(url) != SENTINEL_SCHEME:
        return _pack_with_hiredis(MeasuredRedis.from_url(url, **options))
    target = parse_sentinel_url(url)
    sentinel_options: dict[str, Any] = {
        "socket_timeout": timeout_seconds,
        "socket_connect_timeout": timeout_seconds,
        # redis-py's default retries a dead sentinel three times with backoff (seconds) before
        # asking the next one; the next one is the retry.
        "retry": Retry(NoBackoff(), 0),
    }
    if sentinel_password is not None and sentinel_password.get_secret_value():
        sentinel_options["password"] = sentinel_password.get_secret_value()
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
    client: Redis = sentinel.master_for(
        target.service_name,
        redis_class=MeasuredRedis,
        connection_pool_class=MasterFollowingPool,
        db=target.db,
        username=target.username,
        password=target.password,
        role=role,
        **options,
    )
    return _pack_with_hiredis(client)


def on_master_change(client: Redis, listener: Callable[[], None]) -> None:
    """Call `listener` whenever `client` finds a new master; nothing for a one-server client."""
    pool = client.connection_pool
    if isinstance(pool, MasterFollowingPool):
        pool.master_listeners.append(listener)
