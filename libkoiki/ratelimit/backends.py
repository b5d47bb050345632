"""Where the counters live: Redis (shared by every replica) or this process's memory.

Both use the moving-window algorithm of the `limits` library. The Redis backend runs the library's
own Lua scripts (the same keys and data layout as `limits.aio.storage.RedisStorage`), but as one
script: "acquire an entry" then "read the window", each the library's text wrapped as a function.
The library's public API needs a second round trip for the numbers behind the `X-RateLimit-*`
headers, and every API request would pay for it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage
from limits.aio.storage.redis.bridge import RedisBridge
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError


class BackendUnavailable(Exception):
    """The counter store could not be reached; the caller decides between fail-open and 503."""


@dataclass(frozen=True, slots=True)
class Window:
    """The state of one limit for one client after a request was counted (or refused)."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the oldest counted request leaves the window

    def retry_after(self, now: float | None = None) -> int:
        return max(1, math.ceil(self.reset_at - (now if now is not None else time.time())))


class Backend(Protocol):
    async def hit(self, item: RateLimitItem, key: str) -> Window: ...

    async def aclose(self) -> None: ...


class MemoryBackend:
    """One process only: each replica (and each uvicorn worker) would count separately."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def hit(self, item: RateLimitItem, key: str) -> Window:
        allowed = await self._limiter.hit(item, key)
        stats = await self._limiter.get_window_stats(item, key)
        return Window(allowed, item.amount, max(0, stats.remaining), stats.reset_time)

    async def aclose(self) -> None:
        return None


def _hit_script() -> str:
    """The library's acquire and window scripts as one: ARGV is the acquire script's four
    arguments, then the window script's two; the reply is {acquired (1/0), window or false}.

    A chunk is a valid function body, so each script becomes a function whose parameters shadow
    the KEYS and ARGV globals it reads, and its `return`s return from that function.
    """
    return "\n".join(
        (
            "local function acquire(KEYS, ARGV)",
            RedisBridge.SCRIPT_ACQUIRE_MOVING_WINDOW.decode(),
            "end",
            "local function window(KEYS, ARGV)",
            RedisBridge.SCRIPT_MOVING_WINDOW.decode(),
            "end",
            "local acquired = acquire(KEYS, {ARGV[1], ARGV[2], ARGV[3], ARGV[4]})",
            "return {acquired and 1 or 0, window(KEYS, {ARGV[5], ARGV[6]}) or false}",
        )
    )


class RedisBackend:
    """Counters in Redis under `<prefix>ratelimit:`; one command per counted request."""

    _HIT = _hit_script()

    def __init__(self, url: str, *, key_prefix: str, timeout_seconds: float) -> None:
        # A limiter that waits on a sick Redis delays every API request: short timeouts, and one
        # immediate retry on a broken connection only (a pooled connection Redis closed while
        # restarting); a timeout is not retried, the next one would take as long.
        self._redis: Redis = Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        # Same layout as `RedisStorage(key_prefix=<prefix>ratelimit)`: "<prefix>ratelimit:<key>".
        self.key_prefix = f"{key_prefix}ratelimit"
        # Script.__call__ sends EVALSHA and loads the script on NOSCRIPT (a Redis that restarted
        # empty, or SCRIPT FLUSH): the script runs once either way, so nothing is counted twice.
        self._hit = self._redis.register_script(self._HIT)

    async def hit(self, item: RateLimitItem, key: str) -> Window:
        redis_key = f"{self.key_prefix}:{item.key_for(key)}"
        expiry = item.get_expiry()
        now = time.time()
        try:
            acquired, window = await self._hit(
                keys=[redis_key], args=[now, item.amount, expiry, 1, now - expiry, item.amount]
            )
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if window:
            window_start, count = float(window[0]), int(window[1])
        else:
            window_start, count = now, 0
        return Window(
            allowed=bool(acquired),
            limit=item.amount,
            remaining=max(0, item.amount - count),
            reset_at=window_start + expiry,
        )

    async def aclose(self) -> None:
        await self._redis.aclose()
