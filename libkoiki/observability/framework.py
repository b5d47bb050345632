"""The framework's own `koiki_` series that have no module of their own to live in.

Each one is fed at its mechanism, in one place: the connection pool (`MeasuredPool`), the Redis
client (`MeasuredRedis`), readiness (`record_readiness`), the build (`publish_build_info`). The
flows' own counters stay beside them (libkoiki/auth/metrics.py, libkoiki/ratelimit/limiter.py).

Gauges carry a multiprocess mode, so that with `PROMETHEUS_MULTIPROC_DIR` the aggregate is the
sum over live workers (pool, queues) or the latest value (readiness).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge, Histogram
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.pool import AsyncAdaptedQueuePool

from libkoiki import __version__

if TYPE_CHECKING:
    from libkoiki.config import Settings

# Sub-millisecond work with a tail worth seeing: a pool wait or a Redis round trip.
FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)

BUILD_INFO = Gauge(
    "koiki_build_info",
    "Always 1; the labels name the running build",
    ["version", "commit"],
    multiprocess_mode="max",
)
READINESS = Gauge(
    "koiki_readiness_status",
    "1 when the last readiness check found the dependency usable (ok or disabled), else 0",
    ["check"],
    multiprocess_mode="mostrecent",
)
READINESS_CHECKED = Gauge(
    "koiki_readiness_last_check_timestamp_seconds",
    "When /health/ready last ran (a stale value: nobody probes readiness any more)",
    multiprocess_mode="mostrecent",
)
POOL_IN_USE = Gauge(
    "koiki_db_pool_connections_in_use",
    "Database connections checked out of the pool",
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "koiki_db_pool_waiting",
    "Callers waiting for a database connection from the pool",
    multiprocess_mode="livesum",
)
POOL_CHECKOUT = Histogram(
    "koiki_db_pool_checkout_seconds",
    "Time to get a connection from the pool (a new connection's connect included)",
    buckets=FAST_BUCKETS,
)
POOL_CHECKOUT_FAILURES = Counter(
    "koiki_db_pool_checkout_failures_total",
    "Checkouts that failed: pool timeout or a refused connect",
    ["error"],
)
REDIS_COMMANDS = Histogram(
    "koiki_redis_command_seconds",
    "Redis command latency by command (scripts are EVALSHA)",
    ["command"],
    buckets=FAST_BUCKETS,
)
REDIS_ERRORS = Counter(
    "koiki_redis_command_errors_total",
    "Redis commands that failed, by command and error",
    ["command", "error"],
)


def publish_build_info(settings: Settings) -> None:
    BUILD_INFO.labels(__version__, settings.build_commit).set(1)


def record_readiness(checks: dict[str, str]) -> None:
    for name, result in checks.items():
        READINESS.labels(name).set(1 if result in ("ok", "disabled") else 0)
    READINESS_CHECKED.set(time.time())


class MeasuredPool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio pool, counting checkouts, waiters and the time a checkout takes.

    A subclass rather than pool events: no event fires when a caller starts waiting, and
    `engine.dispose()` recreates the pool from its class, so the measurement survives it.
    """

    def _do_get(self) -> Any:
        started = time.perf_counter()
        POOL_WAITING.inc()
        try:
            connection = super()._do_get()
        except Exception as error:
            POOL_CHECKOUT_FAILURES.labels(type(error).__name__).inc()
            raise
        finally:
            POOL_WAITING.dec()
        POOL_CHECKOUT.observe(time.perf_counter() - started)
        POOL_IN_USE.inc()
        return connection

    def _do_return_conn(self, record: Any) -> None:
        POOL_IN_USE.dec()
        super()._do_return_conn(record)


class MeasuredRedis(Redis):
    """redis-py's asyncio client, timing every command and counting failures by command."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        command = str(args[0]) if args else "unknown"
        started = time.perf_counter()
        try:
            result = await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        except (RedisError, OSError) as error:
            REDIS_ERRORS.labels(command, type(error).__name__).inc()
            raise
        REDIS_COMMANDS.labels(command).observe(time.perf_counter() - started)
        return result
