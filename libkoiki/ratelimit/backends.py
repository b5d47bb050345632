"""Where the counters live: Redis (shared by every replica) or this process's memory.

Both use the moving-window algorithm of the `limits` library. The Redis backend runs the library's
own Lua scripts (the same keys and data layout as `limits.aio.storage.RedisStorage`), but as one
script: "acquire an entry" then "read the window", each the library's text wrapped as a function.
The library's public API needs a second round trip for the numbers behind the `X-RateLimit-*`
headers, and every API request would pay for it. The same script reads the caller's security
stamps (`libkoiki.auth.principals`), which makes them free for every request it counts.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage
from limits.aio.storage.redis.bridge import RedisBridge
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

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


@dataclass(frozen=True, slots=True)
class _Queued:
    keys: list[str]
    args: list[float | str]
    reply: asyncio.Future[list[Any]]


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
    """Counters in Redis under `<prefix>ratelimit:`; one command per counted request.

    The commands of the requests that reach the limiter in the same turn of the event loop go
    to Redis together, as one pipeline: under load, one round trip serves many requests, and
    each request's share of the client's and the kernel's work shrinks with it. The first of
    them waits for the turn to end, nothing longer; a request alone sends its command itself.
    """

    _HIT = _hit_script()

    def __init__(self, redis: Redis, *, key_prefix: str) -> None:
        self._redis = redis
        # Same layout as `RedisStorage(key_prefix=<prefix>ratelimit)`: "<prefix>ratelimit:<key>".
        self.key_prefix = f"{key_prefix}ratelimit"
        # Script.__call__ sends EVALSHA and loads the script on NOSCRIPT (a Redis that restarted
        # empty, or SCRIPT FLUSH): the script runs once either way, so nothing is counted twice.
        self._hit = self._redis.register_script(self._HIT)
        self._joining: list[_Queued] | None = None  # this turn's requests after the first
        self._senders: set[asyncio.Task[None]] = set()  # a task nobody holds may be collected

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
            acquired, window, stamps = await self._run([redis_key, *stamp_keys], args)
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

    async def _run(self, keys: list[str], args: list[float | str]) -> list[Any]:
        """The script's reply for `keys` and `args`."""
        joining = self._joining
        if joining is not None:  # an earlier request of this turn sends it
            reply: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            joining.append(_Queued(keys, args, reply))
            return await reply
        joining = self._joining = []
        try:
            await asyncio.sleep(0)  # the rest of this turn's requests run up to here meanwhile
        except BaseException:  # cancelled: the requests that joined still wait for replies
            self._joining = None
            if joining:
                self._send(joining)
            raise
        self._joining = None
        if not joining:
            return await self._hit(keys=keys, args=args)  # type: ignore[no-any-return]
        reply = asyncio.get_running_loop().create_future()
        self._send([_Queued(keys, args, reply), *joining])
        return await reply

    def _send(self, batch: list[_Queued]) -> None:
        # A task of its own, which no single request's cancellation stops.
        sender = asyncio.get_running_loop().create_task(self._send_batch(batch))
        self._senders.add(sender)
        sender.add_done_callback(self._senders.discard)

    async def _send_batch(self, batch: list[_Queued]) -> None:
        try:
            replies = await self._pipeline(batch)
        except (RedisError, OSError) as error:
            replies = [error] * len(batch)
        except BaseException as error:  # a bug, or the loop closing: no request waits forever
            for queued in batch:
                if not queued.reply.done():
                    queued.reply.set_exception(error)
            if isinstance(error, asyncio.CancelledError):
                raise
            return
        for queued, reply in zip(batch, replies, strict=True):
            if queued.reply.done():  # its request was cancelled meanwhile
                continue
            if isinstance(reply, Exception):
                # Each waiting request raises an error of its own.
                queued.reply.set_exception(BackendUnavailable(f"{type(reply).__name__}: {reply}"))
            else:
                queued.reply.set_result(reply)

    async def _pipeline(self, batch: list[_Queued]) -> list[Any]:
        """Each command's reply, or the error Redis answered it with."""
        replies = await self._evalsha_each(batch)
        unknown = [n for n, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if unknown:
            # As Script.__call__ does: a command refused with NOSCRIPT ran nothing, so sending
            # it again after loading the script counts it once.
            await self._redis.script_load(self._HIT)
            again = await self._evalsha_each([batch[n] for n in unknown])
            for n, reply in zip(unknown, again, strict=True):
                replies[n] = reply
        return replies

    async def _evalsha_each(self, batch: list[_Queued]) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for queued in batch:
                pipe.evalsha(self._hit.sha, len(queued.keys), *queued.keys, *queued.args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies

    async def aclose(self) -> None:
        await self._redis.aclose()
