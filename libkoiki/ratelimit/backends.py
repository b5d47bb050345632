"""Where the counters live: Redis (shared by every replica) or this process's memory.

Both use the moving-window algorithm of the `limits` library. The Redis backend runs the library's
own Lua scripts (the same keys and data layout as `limits.aio.storage.RedisStorage`), but sends
"acquire an entry" and "read the window" in one pipeline: the library's public API needs a second
round trip for the numbers behind the `X-RateLimit-*` headers, and every API request pays for it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage
from limits.aio.storage.redis.bridge import RedisBridge
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError


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


class RedisBackend:
    """Counters in Redis under `<prefix>ratelimit:`; one round trip per counted request."""

    _ACQUIRE = RedisBridge.SCRIPT_ACQUIRE_MOVING_WINDOW
    _WINDOW = RedisBridge.SCRIPT_MOVING_WINDOW

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
        self._acquire = self._redis.register_script(self._ACQUIRE)
        self._window = self._redis.register_script(self._WINDOW)

    async def hit(self, item: RateLimitItem, key: str) -> Window:
        redis_key = f"{self.key_prefix}:{item.key_for(key)}"
        expiry = item.get_expiry()
        now = time.time()
        try:
            acquired, window = await self._run(redis_key, item.amount, expiry, now)
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

    async def _run(self, key: str, limit: int, expiry: int, now: float) -> tuple[Any, Any]:
        acquire_args = (key, now, limit, expiry, 1)
        window_args = (key, now - expiry, limit)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.evalsha(self._acquire.sha, 1, *acquire_args)
            pipe.evalsha(self._window.sha, 1, *window_args)
            acquired, window = await pipe.execute(raise_on_error=False)
        if isinstance(acquired, NoScriptError) or isinstance(window, NoScriptError):
            # First use after Redis started empty (or SCRIPT FLUSH): load once, then retry what
            # did not run. A counted entry is never counted twice.
            await self._redis.script_load(self._ACQUIRE)
            await self._redis.script_load(self._WINDOW)
            if isinstance(acquired, NoScriptError):
                acquired = await self._redis.evalsha(self._acquire.sha, 1, *acquire_args)
            window = await self._redis.evalsha(self._window.sha, 1, *window_args)
        for result in (acquired, window):
            if isinstance(result, Exception):
                raise result
        return acquired, window

    async def aclose(self) -> None:
        await self._redis.aclose()
