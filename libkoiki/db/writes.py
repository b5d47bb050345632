"""Read-your-writes: when each caller last committed a write, for libkoiki.db.replicas.

A request that commits through `SessionDep` marks its caller (the authenticated user) with the
wall-clock time the commit returned. A read replica serves that caller only once it has replayed
a primary WAL position sampled after that time, so a user who creates a todo and lists at once
sees it, whichever app replica answers either request. Marks live in Redis when REDIS_URL is set
(every app replica sees them), else in this process; either way they expire after the replica
lag bound plus a check interval, when no replica that far behind is used anyway.

App hosts compare each other's clocks through the marks: keep them in sync (NTP).
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from redis.asyncio import Redis

logger = structlog.get_logger("koiki.db.writes")

_LOCAL_LIMIT = 10_000  # callers remembered in-process before expired marks are swept


class WriteMarks:
    def __init__(
        self, ttl_seconds: float, redis: Redis | None = None, key_prefix: str = ""
    ) -> None:
        self._ttl = ttl_seconds
        self._redis = redis
        self._prefix = f"{key_prefix}wrote:"
        self._local: dict[Any, float] = {}

    async def mark(self, caller: Any) -> None:
        now = time.time()
        self._local[caller] = now
        if len(self._local) > _LOCAL_LIMIT:
            cutoff = now - self._ttl
            self._local = {key: at for key, at in self._local.items() if at > cutoff}
        if self._redis is not None:
            try:
                await self._redis.set(
                    self._prefix + str(caller), repr(now), px=int(self._ttl * 1000)
                )
            except Exception as error:  # the other app replicas send this caller to the primary
                logger.warning("write_mark_failed", error=type(error).__name__)

    async def last(self, caller: Any) -> float | None:
        """When `caller` last wrote (within the TTL); now, if that cannot be known."""
        local = self._local.get(caller)
        if self._redis is None:
            return local
        try:
            shared = await self._redis.get(self._prefix + str(caller))
        except Exception:  # unknown: assume a write just now, the primary answers
            return time.time()
        if shared is None:
            return local
        return max(float(shared), local or 0.0)
