"""A burst of logins leaves the event loop free: argon2 runs in worker threads, a few at a time."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import ClientFactory
from tests.fixtures.auth import login, register_and_login


async def test_a_login_burst_does_not_block_the_event_loop(make_client: ClientFactory) -> None:
    # A higher time cost makes one verification long enough to see if it ran on the loop.
    async with make_client(
        rate_limit_enabled=False, password_hash_concurrency=2, password_hash_time_cost=6
    ) as client:
        user = await register_and_login(client)
        started = time.perf_counter()
        assert (await login(client, user.email, user.password)).status_code == 200
        one_login = time.perf_counter() - started

        worst_lag = 0.0
        done = asyncio.Event()

        async def tick() -> None:
            nonlocal worst_lag
            while not done.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.001)
                worst_lag = max(worst_lag, time.perf_counter() - before - 0.001)

        ticker = asyncio.create_task(tick())
        responses = await asyncio.gather(
            *(login(client, user.email, user.password) for _ in range(8))
        )
        done.set()
        await ticker
        health = await client.get("/health")

    assert all(response.status_code == 200 for response in responses)
    assert health.status_code == 200
    # On the loop, every verification would stall it for about one login's time.
    assert worst_lag < one_login / 2, (worst_lag, one_login)
