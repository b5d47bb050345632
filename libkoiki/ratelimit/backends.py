"""Where the counters live: Redis (shared by every replica) or this process's memory.

Both use the moving-window algorithm of the `limits` library. The Redis backend runs the library's
own Lua scripts (the same keys and data layout as `limits.aio.storage.RedisStorage`), but as one
script: "acquire an entry" then "read the window", each the library's text wrapped as a function.
The library's public API needs a second round trip for the numbers behind the `X-RateLimit-*`
headers, and every API request would pay for it. The same script reads the caller's security
stamps (`libkoiki.auth.principals`), which makes them free for every request it counts.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
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

from libkoiki.observability.framework import MeasuredRedis

STAMP_TTL_SECONDS = 86_400  # an idle user's stamp leaves Redis; their next request makes another


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
    async def hit(
        self, item: RateLimitItem, key: str, stamp_keys: Sequence[str] = ()
    ) -> tuple[Window, str | None]:
        """Count one request; with `stamp_keys`, also the stamps stored there, joined."""
        ...

    async def aclose(self) -> None: ...


class MemoryBackend:
    """One process only: each replica (and each uvicorn worker) would count separately."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def hit(
        self, item: RateLimitItem, key: str, stamp_keys: Sequence[str] = ()
    ) -> tuple[Window, str | None]:
        allowed = await self._limiter.hit(item, key)
        stats = await self._limiter.get_window_stats(item, key)
        # Stamps only mean something where every replica sees them: never in one process.
        return Window(allowed, item.amount, max(0, stats.remaining), stats.reset_time), None

    async def aclose(self) -> None:
        return None


def _hit_script() -> str:
    """The library's acquire and window scripts as one, then the stamps: KEYS[1] is the counter,
    any further keys are stamps; ARGV is the acquire script's four arguments, the window script's
    two, then a fresh stamp value and its expiry for stamps that do not exist yet. The reply is
    {acquired (1/0), window or false, {stamps}}.

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
            "local stamps = {}",
            "for i = 2, #KEYS do",
            "  local stamp = redis.call('GET', KEYS[i])",
            "  if not stamp then",
            "    stamp = ARGV[7] .. i",
            "    redis.call('SET', KEYS[i], stamp, 'EX', ARGV[8])",
            "  end",
            "  stamps[i - 1] = stamp",
            "end",
            "return {acquired and 1 or 0, window(KEYS, {ARGV[5], ARGV[6]}) or false, stamps}",
        )
    )


class RedisBackend:
    """Counters in Redis under `<prefix>ratelimit:`; one command per counted request."""

    _HIT = _hit_script()

    def __init__(self, url: str, *, key_prefix: str, timeout_seconds: float) -> None:
        # A limiter that waits on a sick Redis delays every API request: short timeouts, and one
        # immediate retry on a broken connection only (a pooled connection Redis closed while
        # restarting); a timeout is not retried, the next one would take as long.
        self._redis: Redis = MeasuredRedis.from_url(
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

    @property
    def redis(self) -> Redis:
        return self._redis

    async def hit(
        self, item: RateLimitItem, key: str, stamp_keys: Sequence[str] = ()
    ) -> tuple[Window, str | None]:
        redis_key = f"{self.key_prefix}:{item.key_for(key)}"
        expiry = item.get_expiry()
        now = time.time()
        args: list[float | str] = [now, item.amount, expiry, 1, now - expiry, item.amount]
        if stamp_keys:
            # Unique, not secret: a stamp is compared, never guessed at (no system call here).
            args += [f"{random.getrandbits(64):016x}:", STAMP_TTL_SECONDS]  # nosec B311
        try:
            acquired, window, stamps = await self._hit(keys=[redis_key, *stamp_keys], args=args)
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if window:
            window_start, count = float(window[0]), int(window[1])
        else:
            window_start, count = now, 0
        stamp = b"|".join(stamps).decode() if stamps else None
        return Window(
            allowed=bool(acquired),
            limit=item.amount,
            remaining=max(0, item.amount - count),
            reset_at=window_start + expiry,
        ), stamp

    async def aclose(self) -> None:
        await self._redis.aclose()
