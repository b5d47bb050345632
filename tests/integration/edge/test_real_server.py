"""Body limits over a real socket: uvicorn's own HTTP parsing, chunked framing, 100-continue."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from libkoiki.app_factory import create_app
from tests.conftest import base_settings
from tests.integration.edge.conftest import auth_probe, probe
from tests.support.servers import serving

LIMIT = 64 * 1024


@pytest.fixture
async def server_port(database_url: str, migrated_engine: Any) -> AsyncIterator[int]:
    settings = base_settings(database_url, max_request_body_bytes=LIMIT)
    async with serving(create_app(settings, routers=[probe, auth_probe])) as port:
        yield port


async def exchange(
    port: int, request: bytes, *, chunks: Sequence[bytes] = ()
) -> tuple[int, dict[str, Any]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        for chunk in chunks:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.lower().split(b"\r\n")
            if line.startswith(b"content-length:")
        )
        body = await asyncio.wait_for(reader.readexactly(length), timeout=5)
        return status, json.loads(body)
    finally:
        writer.close()


async def test_a_chunked_upload_over_the_limit_gets_413(server_port: int) -> None:
    request = (
        b"POST /api/v1/edge/echo HTTP/1.1\r\nHost: localhost\r\n"
        b"Transfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    status, body = await exchange(server_port, request, chunks=[b"z" * 16384] * 8)  # 128 KiB
    assert status == 413
    assert body["code"] == "payload_too_large"
    assert body["request_id"]


async def test_a_chunked_upload_under_the_limit_arrives_whole(server_port: int) -> None:
    request = (
        b"POST /api/v1/edge/echo HTTP/1.1\r\nHost: localhost\r\n"
        b"Transfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    status, body = await exchange(server_port, request, chunks=[b"z" * 16384, b"z" * 100, b""])
    assert status == 200
    assert body == {"received": 16484}


async def test_an_announced_oversized_upload_is_refused_before_it_is_sent(
    server_port: int,
) -> None:
    """With `Expect: 100-continue` the client waits; it hears 413 instead of "go ahead"."""
    request = (
        b"POST /api/v1/edge/echo HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Length: 104857600\r\nExpect: 100-continue\r\n\r\n"
    )
    status, body = await exchange(server_port, request)
    assert status == 413
    assert body["code"] == "payload_too_large"
