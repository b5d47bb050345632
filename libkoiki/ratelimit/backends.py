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
import hashlib
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
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError

from libkoiki.observability.framework import REDIS_COMMANDS, REDIS_ERRORS

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
    evalsha: tuple[Any, ...]  # the command's arguments after EVALSHA
    reply: asyncio.Future[Any]


def _unavailable(error: Exception) -> BackendUnavailable:
    unavailable = BackendUnavailable(f"{type(error).__name__}: {error}")
    unavailable.__cause__ = error
    return unavailable


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
    to Redis together, in one write, on one connection: under load, one round trip serves many
    requests, and each request's share of the client's and the kernel's work shrinks with it.
    The first of them waits for the turn to end, nothing longer; the requests that joined it by
    then (those already scheduled in that turn) go with it.
    """

    _HIT = _hit_script()
    _HIT_SHA = hashlib.sha1(_HIT.encode(), usedforsecurity=False).hexdigest()

    def __init__(self, redis: Redis, *, key_prefix: str) -> None:
        self._redis = redis
        # Same layout as `RedisStorage(key_prefix=<prefix>ratelimit)`: "<prefix>ratelimit:<key>".
        self.key_prefix = f"{key_prefix}ratelimit"
        # The requests of this turn after the first, and the loop the turn belongs to.
        self._joining: tuple[asyncio.AbstractEventLoop, list[_Queued]] | None = None
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
        acquired, window, stamps = await self._run(
            (self._HIT_SHA, 1 + len(stamp_keys), redis_key, *stamp_keys, *args)
        )
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

    async def _run(self, evalsha: tuple[Any, ...]) -> Any:
        """The script's reply to `evalsha` (its arguments after EVALSHA)."""
        loop = asyncio.get_running_loop()
        if self._joining is not None and self._joining[0] is loop:
            reply: asyncio.Future[Any] = loop.create_future()
            self._joining[1].append(_Queued(evalsha, reply))
            return await reply  # an earlier request of this turn sends it
        joining: list[_Queued] = []
        self._joining = (loop, joining)
        try:
            await asyncio.sleep(0)  # the rest of this turn's requests run up to `_run` meanwhile
        except asyncio.CancelledError:  # the requests that joined still wait for their replies
            self._send(joining)
            raise
        finally:
            if self._joining is not None and self._joining[1] is joining:
                self._joining = None
        if joining:
            # A task of its own sends them all, which no one request's cancellation stops.
            reply = loop.create_future()
            self._send([_Queued(evalsha, reply), *joining])
            return await reply
        (answer,) = await self._evalsha([evalsha])
        if isinstance(answer, Exception):
            raise _unavailable(answer)
        return answer

    def _send(self, batch: list[_Queued]) -> None:
        if not batch:
            return
        sender = asyncio.get_running_loop().create_task(self._send_batch(batch))
        self._senders.add(sender)
        sender.add_done_callback(self._senders.discard)

        def unanswered(sender: asyncio.Task[None]) -> None:
            # A bug, or the loop closing (maybe before the sender started): no request waits
            # forever, and a bug reaches each of them as it would have alone.
            error = None if sender.cancelled() else sender.exception()
            for queued in batch:
                if queued.reply.done():
                    continue
                if error is None:
                    queued.reply.cancel()
                else:
                    queued.reply.set_exception(error)

        sender.add_done_callback(unanswered)

    async def _send_batch(self, batch: list[_Queued]) -> None:
        batch = [queued for queued in batch if not queued.reply.done()]  # not the cancelled
        if not batch:
            return
        answers = await self._evalsha([queued.evalsha for queued in batch])
        for queued, answer in zip(batch, answers, strict=True):
            if queued.reply.done():  # its request was cancelled meanwhile
                continue
            if isinstance(answer, Exception):
                queued.reply.set_exception(_unavailable(answer))
            else:
                queued.reply.set_result(answer)

    async def _evalsha(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Each command's reply, or the error it met: Redis's answer, or the connection's."""
        answers = await self._exchange(commands)
        unknown = [n for n, answer in enumerate(answers) if isinstance(answer, NoScriptError)]
        if unknown:
            # A Redis that restarted empty, or SCRIPT FLUSH. A command refused with NOSCRIPT ran
            # nothing, so sending it again after loading the script counts it once.
            try:
                await self._redis.script_load(self._HIT)
            except (RedisError, OSError) as error:
                return [error if n in unknown else a for n, a in enumerate(answers)]
            again = await self._exchange([commands[n] for n in unknown])
            for n, answer in zip(unknown, again, strict=True):
                answers[n] = answer
        return answers

    async def _exchange(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Each command's reply, or the error it met, for `commands` sent in one write.

        A connection that breaks is replaced as often as the client's retry policy says (the
        limiter's: once, for a pooled connection Redis closed while restarting, or a master
        Sentinel replaced), and only the commands not answered yet go again, as one command
        went again before batches: an answered command ran once, where redis-py's pipeline
        would send it a second time; an unanswered one may have run before the break, and is
        then counted twice (at least once, never lost). A timeout is not retried: the next one
        would take as long.
        """
        pool = self._redis.connection_pool
        retry = self._redis.get_retry()
        attempts = 1 + (retry.get_retries() if retry is not None else 0)
        answers: list[Any] = []
        started = time.perf_counter()
        for attempt in range(1, attempts + 1):
            try:
                connection = await pool.get_connection()  # type: ignore[no-untyped-call]
            except (RedisError, OSError) as error:  # refused, or no master: redis-py retried
                answers += [error] * (len(commands) - len(answers))
                break
            try:
                await self._round_trip(connection, commands, answers)
            except RedisConnectionError as error:
                if attempt < attempts:
                    continue
                answers += [error] * (len(commands) - len(answers))
            except (RedisError, OSError) as error:
                answers += [error] * (len(commands) - len(answers))
            finally:
                await pool.release(connection)  # one that failed was closed by redis-py
            break
        elapsed = time.perf_counter() - started
        for answer in answers:
            if isinstance(answer, Exception):
                REDIS_ERRORS.labels("EVALSHA", type(answer).__name__).inc()
            else:
                REDIS_COMMANDS.labels("EVALSHA").observe(elapsed)
        return answers

    @staticmethod
    async def _round_trip(
        connection: AbstractConnection, commands: list[tuple[Any, ...]], answers: list[Any]
    ) -> None:
        """Sends the commands not answered yet, in one write, and adds their replies."""
        pending = commands[len(answers) :]
        await connection.send_packed_command(
            connection.pack_commands(("EVALSHA", *command) for command in pending)
        )
        for _ in pending:
            try:
                answers.append(await connection.read_response())
            except ResponseError as error:  # this command's own answer
                answers.append(error)

    async def aclose(self) -> None:
        await asyncio.gather(*self._senders, return_exceptions=True)  # replies still on the way
        await self._redis.aclose()
