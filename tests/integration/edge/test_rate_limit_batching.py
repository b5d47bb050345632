"""The Redis limiter's batches and cancelled requests: a request that gives up is not counted, and
the requests it was batched with are answered all the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from limits import parse
from redis.asyncio import Redis

from libkoiki.ratelimit.backends import RedisBackend, Window
from tests.conftest import base_settings

LIMIT = parse("10/minute")
# A request nobody answers would wait forever: fail instead (no timing is asserted).
STRANDED_SECONDS = 10


@pytest.fixture
async def backend(shared_redis_url: str) -> AsyncIterator[RedisBackend]:
    prefix = f"{base_settings('sqlite+aiosqlite://').redis_key_prefix}batching:"
    backend = RedisBackend(Redis.from_url(shared_redis_url), key_prefix=prefix)
    yield backend
    await backend.redis.delete(f"{backend.key_prefix}:{LIMIT.key_for('client')}")
    await backend.aclose()


def counted(backend: RedisBackend) -> list[asyncio.Task[tuple[Window, str | None]]]:
    """Four requests of one client reaching the limiter in one turn: the first leads the batch."""
    return [asyncio.create_task(backend.hit(LIMIT, "client")) for _ in range(4)]


async def test_a_request_cancelled_while_leading_its_batch_is_not_counted(
    backend: RedisBackend,
) -> None:
    leader, *others = counted(backend)
    await asyncio.sleep(0)  # all four have reached the limiter; the leader waits for the turn
    leader.cancel()
    answers = await asyncio.wait_for(asyncio.gather(*others), STRANDED_SECONDS)
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert sorted(window.remaining for window, _stamp in answers) == [7, 8, 9]


async def test_a_request_cancelled_while_waiting_in_a_batch_is_not_counted(
    backend: RedisBackend,
) -> None:
    tasks = counted(backend)
    await asyncio.sleep(0)
    tasks[2].cancel()
    answers = await asyncio.wait_for(
        asyncio.gather(*tasks, return_exceptions=True), STRANDED_SECONDS
    )
    assert isinstance(answers[2], asyncio.CancelledError)
    windows = [answer[0] for answer in answers if isinstance(answer, tuple)]
    assert sorted(window.remaining for window in windows) == [7, 8, 9]
    # The next turn's request, alone, finds the three.
    window, _stamp = await backend.hit(LIMIT, "client")
    assert window.remaining == 6
