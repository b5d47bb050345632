"""KOIKI's Redis clients send the same bytes redis-py's own packer would, packed by hiredis."""

from __future__ import annotations

from redis.asyncio.connection import Connection

from libkoiki.redis_client import HiredisPacking, connect

COMMANDS = [
    ("PING",),
    ("SET", "koiki:stamp:user:1", "0123456789abcdef:2", "EX", 86400),
    # The rate limiter's script call: keys, integers, epoch seconds as floats, an empty string.
    ("EVALSHA", "a" * 40, 2, "koiki:ratelimit:k", b"raw", 1796589358.7324667, 100, 60.0, ""),
    ("SET", "ключ", "値 with spaces", "EX", 1),
    ("CONFIG GET", "maxmemory"),  # a command of two words is sent as two arguments
]


def test_packing_is_redis_pys_byte_for_byte() -> None:
    client = connect("redis://127.0.0.1:6379/0", timeout_seconds=1)
    connection = client.connection_pool.make_connection()
    assert isinstance(connection, HiredisPacking)
    python_packer = Connection()
    for command in COMMANDS:
        assert b"".join(connection.pack_command(*command)) == b"".join(
            python_packer.pack_command(*command)
        ), command
