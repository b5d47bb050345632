"""A loopback relay in front of a real Redis: it counts the connections that carry the rate
limiter's script, and can break one connection in the middle of a batch of them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import hiredis


class RedisRelay:
    """Relays each connection to Redis byte for byte (plain `redis://` only: it reads the
    commands). With `break_batch`, the first write holding several EVALSHAs is cut after its
    first command, and the connection closes once that command's reply is relayed: Redis ran
    one command of the batch and the client read its reply; the others never arrived."""

    def __init__(self, redis_url: str, *, break_batch: bool = False) -> None:
        self._target = urlsplit(redis_url)
        self._break_batch = break_batch
        self.port = 0
        self.script_connections = 0  # connections that carried an EVALSHA
        self.broken = 0  # batches cut

    @property
    def url(self) -> str:
        credentials, _, _address = self._target.netloc.rpartition("@")
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return self._target._replace(netloc=netloc).geturl()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RedisRelay]:
        relays: set[asyncio.Task[None]] = set()

        def relay(client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
            task = asyncio.create_task(self._relay(client_in, client_out))
            relays.add(task)
            task.add_done_callback(relays.discard)

        server = await asyncio.start_server(relay, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for task in relays:
                task.cancel()
            await asyncio.gather(*relays, return_exceptions=True)
            await server.wait_closed()

    async def _relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        redis_in, redis_out = await asyncio.open_connection(
            self._target.hostname or "127.0.0.1", self._target.port or 6379
        )
        breaking = False  # this connection closes after the reply to the one command relayed
        carried_script = False

        async def to_redis() -> None:
            nonlocal breaking, carried_script
            while data := await client_in.read(65536):
                if breaking:
                    continue  # never reaches Redis
                commands = hiredis.Reader()
                commands.feed(data)
                first = commands.gets()
                if first is False or first[0].upper() != b"EVALSHA":
                    redis_out.write(data)
                    await redis_out.drain()
                    continue
                if not carried_script:
                    carried_script = True
                    self.script_connections += 1
                if self._break_batch and not self.broken and commands.gets() is not False:
                    self.broken += 1
                    breaking = True
                    data = data[: len(hiredis.pack_command(tuple(first)))]
                redis_out.write(data)
                await redis_out.drain()

        async def to_client() -> None:
            replies = hiredis.Reader()
            while data := await redis_in.read(65536):
                client_out.write(data)
                await client_out.drain()
                if breaking:
                    replies.feed(data)
                    if replies.gets() is not False:
                        return

        # Either side closing (or the break) ends the connection on both sides.
        directions = [asyncio.create_task(to_redis()), asyncio.create_task(to_client())]
        try:
            await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for direction in directions:
                direction.cancel()
            await asyncio.gather(*directions, return_exceptions=True)
            for writer in (client_out, redis_out):
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
