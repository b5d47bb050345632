"""A loopback relay in front of a real Redis that breaks one connection in the middle of a batch."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import hiredis


class BatchBreakingRelay:
    """Relays every connection to Redis unchanged, except the first write holding several
    commands: only its first command reaches Redis, and once that command's reply is relayed
    the connection is closed. Redis ran one command of the batch and the client read its reply;
    the rest never arrived."""

    def __init__(self, redis_url: str) -> None:
        target = urlsplit(redis_url)
        self._target = (target.hostname or "127.0.0.1", target.port or 6379)
        self._database = target.path or "/0"
        self.port = 0
        self.broken = 0  # connections broken so far (at most one)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}{self._database}"

    @asynccontextmanager
    async def running(self) -> AsyncIterator[BatchBreakingRelay]:
        server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            await server.wait_closed()

    async def _relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        redis_in, redis_out = await asyncio.open_connection(*self._target)
        breaking = False  # this connection closes after the reply to the one command relayed

        async def to_redis() -> None:
            nonlocal breaking
            while data := await client_in.read(65536):
                if breaking:
                    continue  # never reaches Redis
                if not self.broken:
                    commands = hiredis.Reader()
                    commands.feed(data)
                    first = commands.gets()
                    if first is not False and commands.gets() is not False:  # a batch
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
            for writer in (client_out, redis_out):
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
