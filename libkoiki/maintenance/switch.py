"""A per-process copy of the maintenance switch, refreshed in the background about once a second.

The request path only compares a monotonic clock with the next refresh time and reads an
attribute: no request ever waits for Redis or the disk. When the copy is stale, the request that
notices starts one refresh task and goes on with the copy it has.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from libkoiki.maintenance.state import MaintenanceState, read_file, read_redis

logger = structlog.get_logger("koiki.maintenance")


class MaintenanceSwitch:
    def __init__(
        self,
        *,
        file: Path,
        redis: Redis | None,
        key_prefix: str,
        poll_seconds: float,
    ) -> None:
        self.file = file
        self.redis = redis
        self.key_prefix = key_prefix
        self.poll_seconds = poll_seconds
        self.current: MaintenanceState | None = None
        self._from_redis: MaintenanceState | None = None
        self._file_stamp: tuple[int, int] | None = None
        self._from_file: MaintenanceState | None = None
        self._next_check = 0.0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """The first read, at start-up: bounded, so a hung Redis cannot hold the start back (the
        file is read either way, and the background refresh takes over)."""
        try:
            async with asyncio.timeout(self.poll_seconds + 1):
                await self.refresh()
        except TimeoutError:
            logger.warning("maintenance_first_read_timeout")

    def state(self) -> MaintenanceState | None:
        """The switch as last seen; schedules a refresh when that was over `poll_seconds` ago."""
        if time.monotonic() >= self._next_check and self._task is None:
            self._next_check = time.monotonic() + self.poll_seconds
            self._task = asyncio.get_running_loop().create_task(self._background_refresh())
        return self.current

    async def _background_refresh(self) -> None:
        try:
            await self.refresh()
        finally:
            self._task = None

    async def refresh(self) -> MaintenanceState | None:
        self._next_check = time.monotonic() + self.poll_seconds
        self._read_file()
        self.current = self._from_redis or self._from_file
        if self.redis is not None:
            try:
                self._from_redis = await read_redis(self.redis, self.key_prefix)
            except (RedisError, OSError) as exc:
                # Keep the last answer: Redis blinking must not switch maintenance off (or on).
                logger.warning("maintenance_redis_unreadable", error=type(exc).__name__)
        self.current = self._from_redis or self._from_file
        return self.current

    def _read_file(self) -> None:
        # stat first: the file is read again only when it changed.
        try:
            info = self.file.stat()
        except FileNotFoundError:
            self._file_stamp, self._from_file = None, None
            return
        except OSError as exc:
            logger.warning("maintenance_file_unreadable", error=type(exc).__name__)
            return
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp != self._file_stamp:
            self._from_file = read_file(self.file)
            self._file_stamp = stamp

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.redis is not None:
            await self.redis.aclose()
