"""The limiter an app holds in `app.state.rate_limiter`: a backend plus the outage policy.

When the backend fails, `RATE_LIMIT_FAIL_OPEN=true` serves requests unlimited and false answers
503. Either way the backend is left alone for `RATE_LIMIT_BACKEND_RETRY_SECONDS` after a failure,
so a Redis that hangs costs one timeout per interval instead of one per request, and the first
successful call after that interval ends the outage without a restart.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from functools import lru_cache

import structlog
from limits import RateLimitItem, parse
from prometheus_client import Counter
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from libkoiki.config import Settings
from libkoiki.errors import AppError
from libkoiki.ratelimit.backends import Backend, BackendUnavailable, MemoryBackend, RedisBackend
from libkoiki.ratelimit.backends import Window as Window
from libkoiki.redis_client import connect

logger = structlog.get_logger("koiki.ratelimit")

BACKEND_ERRORS = Counter(
    "koiki_ratelimit_backend_errors_total",
    "Requests the rate limiter could not check because its backend was unavailable",
)
LIMITED = Counter(
    "koiki_ratelimit_limited_total",
    "Requests refused with 429, by limit scope",
    ["scope"],
)

WARNING_INTERVAL_SECONDS = 60.0


class RateLimiterUnavailableError(AppError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            503,
            "Rate limiting is temporarily unavailable; try again shortly",
            "rate_limit_unavailable",
            {"Retry-After": str(retry_after)},
        )


class RateLimitExceededError(AppError):
    def __init__(self, window: Window, item: RateLimitItem) -> None:
        retry_after = window.retry_after()
        super().__init__(
            429,
            f"Too many requests (limit {item}); retry in {retry_after} seconds",
            "rate_limited",
            {"Retry-After": str(retry_after), **window_headers(window)},
        )


def window_headers(window: Window) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(window.limit),
        "X-RateLimit-Remaining": str(window.remaining),
        "X-RateLimit-Reset": str(int(window.reset_at + 0.999)),
    }


@lru_cache(maxsize=64)
def parse_limit(limit: str) -> RateLimitItem:
    """`"10/minute"`, `"3 per 2 seconds"`...: the `limits` notation. A typo fails at import."""
    return parse(limit)


def _digest(identity: str) -> str:
    # Keys hold IP addresses and e-mail addresses; Redis and its dumps need not learn them.
    return hashlib.blake2b(identity.encode(), digest_size=12).hexdigest()


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.default = parse_limit(settings.rate_limit_default)
        self.fail_open = settings.rate_limit_fail_open
        self.retry_seconds = settings.rate_limit_backend_retry_seconds
        self.backend: Backend
        if settings.rate_limit_strategy == "redis":
            assert settings.redis_url is not None  # Settings refuses redis without REDIS_URL
            # A limiter that waits on a sick Redis delays every API request: short timeouts, and
            # one immediate retry on a broken connection only (a pooled connection Redis closed
            # while restarting, or a master Sentinel replaced: the retry reconnects to the new
            # one); a timeout is not retried, the next one would take as long. The backend's
            # batches follow the same count (RedisBackend._exchange).
            redis = connect(
                settings.redis_url,
                timeout_seconds=settings.rate_limit_backend_timeout_seconds,
                sentinel_password=settings.redis_sentinel_password,
                retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
                role="ratelimit",
            )
            self.backend = RedisBackend(redis, key_prefix=settings.redis_key_prefix)
            self.strategy = "redis"
        else:
            self.backend = MemoryBackend()
            self.strategy = "memory"
        self._down_until = 0.0
        self._down_since: float | None = None
        self._last_warning = -WARNING_INTERVAL_SECONDS

    async def hit(
        self, item: RateLimitItem, scope: str, identity: str, stamp_keys: Sequence[str] = ()
    ) -> tuple[Window, str | None] | None:
        """Count one request; None when the backend is down and the policy is fail-open.

        The second value is the security stamps read from `stamp_keys` (Redis only, else None).
        Raises `RateLimiterUnavailableError` when it is down and the policy is fail-closed.
        """
        now = time.monotonic()
        if now < self._down_until:
            self._unavailable(None)
            return None
        try:
            counted = await self.backend.hit(item, f"{scope}:{_digest(identity)}", stamp_keys)
        except BackendUnavailable as exc:
            # From the moment the failure is known: a timeout has already used up part of it.
            self._down_until = time.monotonic() + self.retry_seconds
            if self._down_since is None:
                self._down_since = now
            self._unavailable(str(exc))
            return None
        if self._down_since is not None:
            logger.info(
                "rate_limit_backend_recovered",
                backend=self.strategy,
                outage_seconds=round(now - self._down_since, 1),
            )
            self._down_since = None
        return counted

    def _unavailable(self, error: str | None) -> None:
        """Count and (now and then) log an unchecked request; raise when failing closed."""
        BACKEND_ERRORS.inc()
        now = time.monotonic()
        if error is not None and now - self._last_warning >= WARNING_INTERVAL_SECONDS:
            self._last_warning = now
            logger.warning(
                "rate_limit_backend_unavailable",
                backend=self.strategy,
                error=error,
                policy="fail_open" if self.fail_open else "fail_closed",
            )
        if not self.fail_open:
            raise RateLimiterUnavailableError(max(1, round(self.retry_seconds)))

    async def aclose(self) -> None:
        await self.backend.aclose()
