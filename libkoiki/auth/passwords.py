"""argon2id password hashing, off the event loop and with bounded concurrency.

A hash costs ~20 ms of CPU and 19 MiB of memory (the defaults); on the event loop a login burst
would freeze every other request, and unbounded in threads it would eat all cores and memory. So
each hash runs in a worker thread, and at most `password_hash_concurrency` run at once; the rest
wait their turn without blocking the loop.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import weakref

import anyio
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

from libkoiki.config import Settings, get_settings

# One lane: more lanes only help when each hash can have several cores to itself, which a busy
# API server does not have (OWASP's recommended configurations all use p=1).
ARGON2_PARALLELISM = 1


class PasswordHasher:
    def __init__(self, *, memory_kib: int, time_cost: int, concurrency: int) -> None:
        self.memory_kib = memory_kib
        self.time_cost = time_cost
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=time_cost, memory_cost=memory_kib, parallelism=ARGON2_PARALLELISM
                ),
            )
        )
        self._concurrency = concurrency
        # One limiter per event loop: a process normally has one, but a CLI or a test runner may
        # run several in turn, and a limiter must not outlive the loop it waits on.
        self._limiters: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, anyio.CapacityLimiter
        ] = weakref.WeakKeyDictionary()
        self._dummy_hash: str | None = None

    def _capacity(self) -> anyio.CapacityLimiter:
        loop = asyncio.get_running_loop()
        limiter = self._limiters.get(loop)
        if limiter is None:
            limiter = self._limiters[loop] = anyio.CapacityLimiter(self._concurrency)
        return limiter

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hash.hash, password, limiter=self._capacity())

    async def verify(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """(matches, new hash when the stored one was made with other parameters)."""
        try:
            return await anyio.to_thread.run_sync(
                self._hash.verify_and_update, password, hashed, limiter=self._capacity()
            )
        except UnknownHashError:
            # A row holding a foreign or corrupt hash must not log anybody in, nor crash login.
            return False, None

    async def burn(self, password: str) -> None:
        """Spend the same work as a real verification, for accounts that do not exist."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))
        await self.verify(password, self._dummy_hash)


@functools.cache
def _hasher_for(memory_kib: int, time_cost: int, concurrency: int) -> PasswordHasher:
    return PasswordHasher(memory_kib=memory_kib, time_cost=time_cost, concurrency=concurrency)


def get_password_hasher(settings: Settings | None = None) -> PasswordHasher:
    """The process-wide hasher for these settings (one concurrency limit per process)."""
    settings = settings or get_settings()
    return _hasher_for(
        settings.password_hash_memory_kib,
        settings.password_hash_time_cost,
        settings.password_hash_concurrency,
    )


async def hash_password(password: str, settings: Settings | None = None) -> str:
    return await get_password_hasher(settings).hash(password)


async def verify_password(
    password: str, hashed: str, settings: Settings | None = None
) -> tuple[bool, str | None]:
    return await get_password_hasher(settings).verify(password, hashed)
