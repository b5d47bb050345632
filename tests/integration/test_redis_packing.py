"""KOIKI's Redis clients pack commands with hiredis: the bytes redis-py's own packer writes, the
answers a real server gives, and redis-py's error for a value Redis cannot take."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.asyncio.sentinel import SentinelManagedConnection
from redis.exceptions import DataError
from redis.typing import EncodableT

from libkoiki.redis_client import HiredisPacking, connect
from tests.support.servers import RedisServer

# What the application sends: text in several scripts, raw bytes, numbers, buffers, a command
# name of two words, and a value past redis-py's 6,000-byte chunking threshold.
COMMANDS: list[tuple[EncodableT, ...]] = [
    ("SET", "koiki:text", "ümlaut 日本語 ✓"),
    ("SET", b"koiki:bytes", b"\x00\xff\r\n"),
    ("SET", "koiki:int", 12345),
    ("SET", "koiki:float", -1.25),
    ("SET", "koiki:view", memoryview(b"from a view")),
    # hiredis reads a view's memory as if it were contiguous: these must reach it as bytes.
    ("SET", "koiki:strided", memoryview(b"abcdefgh")[::2]),
    ("SET", "koiki:reversed", memoryview(bytearray(b"abcdefgh"))[::-1]),
    ("SET", "koiki:array", bytearray(b"from an array")),
    ("CLIENT SETNAME", "koiki"),
    ("CLIENT\tSETNAME", "koiki"),
    (b"GET", "koiki:text"),
    ("SET", "koiki:status", HTTPStatus.OK),
    (b"CONFIG GET", "maxmemory"),
    ("EVALSHA", "0" * 40, 1, "koiki:key", "x" * 100_000),
]


def test_every_command_is_packed_to_the_bytes_redis_py_writes() -> None:
    pool = connect("redis://127.0.0.1:1/0", timeout_seconds=1).connection_pool
    ours = pool.make_connection()  # type: ignore[no-untyped-call]
    theirs = Connection()
    assert isinstance(ours, HiredisPacking)
    for command in COMMANDS:
        expected = b"".join(bytes(chunk) for chunk in theirs.pack_command(*command))
        assert b"".join(ours.pack_command(*command)) == expected


@pytest.mark.parametrize(
    ("url", "redis_py_class"),
    [
        ("redis://127.0.0.1:1/0", Connection),
        ("rediss://127.0.0.1:1/0", SSLConnection),
        ("unix:///run/redis.sock?db=0", UnixDomainSocketConnection),
        ("redis+sentinel://127.0.0.1:1/svc/0", SentinelManagedConnection),
    ],
)
def test_every_kind_of_url_keeps_its_connection_and_packs_with_hiredis(
    url: str, redis_py_class: type[Connection]
) -> None:
    connection_class = connect(url, timeout_seconds=1).connection_pool.connection_class
    assert issubclass(connection_class, redis_py_class)
    assert issubclass(connection_class, HiredisPacking)


@pytest.fixture
def socket_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(
        tmp_path, "--unixsocket", str(tmp_path / "redis.sock"), "--unixsocketperm", "700"
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["tcp", "unix"])
async def client(request: pytest.FixtureRequest, socket_redis: RedisServer) -> AsyncIterator[Redis]:
    url = (
        socket_redis.url
        if request.param == "tcp"
        else f"unix://{socket_redis.directory / 'redis.sock'}?db=0"
    )
    redis = connect(url, timeout_seconds=5)
    yield redis
    await redis.aclose()


async def test_values_commands_scripts_and_pipelines_round_trip(client: Redis) -> None:
    await client.set("text", "ümlaut 日本語 ✓")
    await client.set("bytes", b"\x00\xff\r\n")
    await client.set("big", "x" * 100_000)
    assert await client.mget("text", "bytes") == ["ümlaut 日本語 ✓".encode(), b"\x00\xff\r\n"]
    assert await client.strlen("big") == 100_000
    assert await client.client_setname("koiki-test")  # sent as "CLIENT SETNAME": two words
    assert await client.client_getname() == "koiki-test"
    script = client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert await script(keys=["counter"], args=[5]) == 5
    assert await script(keys=["counter"], args=[-2]) == 3
    async with client.pipeline(transaction=True) as pipeline:
        pipeline.incr("counter")
        pipeline.expire("counter", 60)
        pipeline.get("counter")
        assert await pipeline.execute() == [4, True, b"4"]


async def test_values_hiredis_does_not_take_are_packed_or_refused_as_redis_py_does(
    client: Redis,
) -> None:
    await client.set("status", HTTPStatus.OK)  # an int subclass: redis-py packs its repr()
    assert await client.get("status") == Connection().encoder.encode(HTTPStatus.OK)
    await client.set("kept", "before")
    for value in (None, True, object()):
        with pytest.raises(DataError, match=f"Invalid input of type: '{type(value).__name__}'"):
            await client.set("kept", value)  # type: ignore[arg-type]
    assert await client.get("kept") == b"before"


async def test_a_client_told_another_encoding_keeps_redis_py_s_packer(
    socket_redis: RedisServer,
) -> None:
    redis = connect(f"{socket_redis.url}?encoding=latin-1", timeout_seconds=5)
    try:
        assert not issubclass(redis.connection_pool.connection_class, HiredisPacking)
        await redis.set("latin", "é")
        assert await redis.get("latin") == b"\xe9"
    finally:
        await redis.aclose()
