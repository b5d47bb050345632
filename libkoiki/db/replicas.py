"""Read replicas (`DATABASE_READ_URL`): which server a `ReaderDep` statement reads from.

Each host of DATABASE_READ_URL is a read target with a pool of its own. Once a second (by
default) a background task asks the primary where its WAL ends (`pg_current_wal_lsn()`) and each
target how far it has replayed (`pg_last_wal_replay_lsn()`). A target holds everything the
primary held at the time of the newest primary sample at or below its replay position: that time
is the target's `caught_up_at`, and `now - caught_up_at` its lag, measured the same way whether
the primary is busy or idle, the standby paused, or cut off from its primary.

A read goes to a target that is a standby (in recovery), reachable, no further behind than
`DATABASE_READ_MAX_LAG_SECONDS`, and caught up past the caller's own last write (read-your-writes,
libkoiki.db.writes); else to the primary, as without DATABASE_READ_URL. A target whose statement
fails for want of a server (down, or a query cancelled by a recovery conflict) is left out until
it answers a check again, and the statement runs on the primary: a replica's failure costs no
failed request.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import FastAPI, Request
from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql import Select

from libkoiki.config import Settings
from libkoiki.db.engine import postgres_engine
from libkoiki.db.failover import sqlstate_of
from libkoiki.db.reader import Reader
from libkoiki.db.session import after_commit, after_commit_info, get_reader, get_session
from libkoiki.db.writes import WriteMarks
from libkoiki.errors import is_database_unavailable

logger = structlog.get_logger("koiki.db.replicas")

READS = Counter(
    "koiki_db_reads_total",
    "ReaderDep statements by where they ran: a read replica, the primary, or the primary after"
    " a replica failed (fallback)",
    ["target"],
)
ON_REPLICA = READS.labels("replica")
ON_PRIMARY = READS.labels("primary")
FALLBACK = READS.labels("fallback")

_PRIMARY_POSITION = text("SELECT pg_current_wal_lsn()::text")
_REPLICA_POSITION = text(
    "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery()"
    " THEN pg_last_wal_replay_lsn()::text END"
)
# A standby cancels a query that conflicts with the WAL it replays: the primary answers it.
_RECOVERY_CONFLICT = "40001"


def lsn(position: str) -> int:
    """`'16/B374D848'` as a number that orders like the WAL."""
    high, _, low = position.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def read_target_urls(url: str) -> dict[str, str]:
    """One single-host URL per host of `url`, by "host:port"."""
    parsed = make_url(url)
    listed = parsed.query.get("host")
    rest = parsed.difference_update_query(["host", "target_session_attrs"])
    if not isinstance(listed, tuple) or len(listed) < 2:
        name = f"{parsed.host or listed or 'localhost'}:{parsed.port or 5432}"
        return {name: rest.render_as_string(hide_password=False)}
    targets = {}
    for item in listed:
        host, _, port = item.rpartition(":")
        single = rest.set(host=host.strip("[]"), port=int(port))
        targets[item] = single.render_as_string(hide_password=False)
    return targets


@dataclass(eq=False)
class ReadTarget:
    name: str
    engine: AsyncEngine
    reader: Reader
    standby: bool = False
    caught_up_at: float | None = None  # wall-clock time; None: unknown
    problem: str | None = "not checked yet"

    def lag(self, now: float) -> float | None:
        return None if self.caught_up_at is None else max(0.0, now - self.caught_up_at)

    def describe(self, now: float, max_lag: float) -> str:
        if self.problem:
            return f"{self.problem}: reads go to the primary"
        if not self.standby:
            return "ok (the primary itself: read as the primary)"
        lag = self.lag(now)
        if lag is None or lag > max_lag:
            shown = "unknown" if lag is None else f"{lag:.1f}s"
            return f"lagging ({shown} behind, limit {max_lag:g}s): reads go to the primary"
        return f"ok (standby, {lag:.1f}s behind)"


@dataclass(eq=False)
class ReplicaSet:
    settings: Settings
    primary: AsyncEngine
    primary_reader: Reader
    writes: WriteMarks
    targets: list[ReadTarget] = field(default_factory=list)
    # (wall-clock time the question was asked, the primary's WAL position then), oldest first
    samples: deque[tuple[float, int]] = field(default_factory=deque)
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _task: asyncio.Task[None] | None = None
    _primary_failing: bool = False

    @classmethod
    def from_settings(
        cls, settings: Settings, primary: AsyncEngine, primary_reader: Reader, writes: WriteMarks
    ) -> ReplicaSet:
        assert settings.database_read_url
        replicas = cls(settings, primary, primary_reader, writes)
        for name, url in read_target_urls(settings.database_read_url).items():
            engine = postgres_engine(url, settings)
            replicas.targets.append(ReadTarget(name, engine, Reader(engine)))
        return replicas

    @property
    def max_lag(self) -> float:
        return self.settings.database_read_max_lag_seconds

    def usable(self, wrote_at: float | None) -> list[ReadTarget]:
        """Targets fresh enough for a caller whose last write was at `wrote_at` (None: none)."""
        floor = time.time() - self.max_lag
        if wrote_at is not None and wrote_at > floor:
            floor = wrote_at
        return [
            target
            for target in self.targets
            if target.problem is None
            and target.standby
            and target.caught_up_at is not None
            and target.caught_up_at >= floor
        ]

    def any_fresh(self) -> bool:
        return bool(self.usable(None))

    def choose(self, wrote_at: float | None) -> ReadTarget | None:
        candidates = self.usable(wrote_at)
        if not candidates:
            return None
        return candidates[next(self._turn) % len(candidates)]

    def failed(self, target: ReadTarget, error: BaseException) -> None:
        target.problem = f"failed: {type(error).__name__}"
        logger.warning("read_replica_failed", target=target.name, error=type(error).__name__)

    async def check(self) -> None:
        """Sample the primary's WAL position, then each target's replay position."""
        timeout = self.settings.health_check_timeout_seconds
        asked_at = time.time()
        try:
            async with asyncio.timeout(timeout), self.primary.connect() as connection:
                position = await connection.scalar(_PRIMARY_POSITION)
            self.samples.append((asked_at, lsn(position)))
            self._primary_failing = False
        except Exception as error:  # no sample: the targets' lag grows until one succeeds
            if not self._primary_failing:  # once per outage, not once a second
                logger.warning("read_replica_primary_sample_failed", error=type(error).__name__)
            self._primary_failing = True
        horizon = (
            asked_at - 2 * self.max_lag - 2 * self.settings.database_read_check_interval_seconds
        )
        while len(self.samples) > 1 and self.samples[0][0] < horizon:
            self.samples.popleft()
        await asyncio.gather(*(self._check_target(target) for target in self.targets))

    async def _check_target(self, target: ReadTarget) -> None:
        timeout = self.settings.health_check_timeout_seconds
        try:
            async with asyncio.timeout(timeout), target.engine.connect() as connection:
                row = (await connection.execute(_REPLICA_POSITION)).one()
        except Exception as error:  # a failing replica is a state to report, not an error
            if target.problem is None:
                logger.warning("read_replica_unreachable", target=target.name)
            target.problem = f"unreachable: {type(error).__name__}"
            return
        standby, replayed = row
        target.standby = bool(standby)
        target.problem = None
        if not standby:
            # A read URL may name the primary too (prefer-standby): the primary reader reads it.
            target.caught_up_at = None
            return
        position = lsn(replayed) if replayed else -1
        caught_up = [at for at, primary in self.samples if primary <= position]
        target.caught_up_at = caught_up[-1] if caught_up else None

    async def _run(self) -> None:
        interval = self.settings.database_read_check_interval_seconds
        while True:
            await self.check()
            await asyncio.sleep(interval)

    async def start(self) -> None:
        await self.check()
        self._task = asyncio.create_task(self._run(), name="koiki-read-replica-checks")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for target in self.targets:
            await target.engine.dispose()

    def readiness(self) -> dict[str, str]:
        now = time.time()
        return {
            f"database_read {target.name}": target.describe(now, self.max_lag)
            for target in self.targets
        }


def _replica_failure(error: BaseException) -> bool:
    return is_database_unavailable(error) or sqlstate_of(getattr(error, "orig", None)).startswith(
        _RECOVERY_CONFLICT
    )


class RoutedReader(Reader):
    """A request's `Reader` when read replicas are configured: the first statement picks the
    server (a fresh replica, else the primary); the request's later statements stay there."""

    def __init__(self, replicas: ReplicaSet, caller: Any) -> None:
        # No Reader.__init__: the readers that run statements are the primary's and the targets'.
        self._replicas = replicas
        self._caller = caller
        self._target: ReadTarget | None = None
        self._chosen = False

    async def all(
        self, statement: Select[Any], values: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        if not self._chosen:
            self._target = await self._choose()
            self._chosen = True
        target = self._target
        if target is not None:
            try:
                rows = await target.reader.all(statement, values)
            except Exception as error:
                if not _replica_failure(error):
                    raise
                self._replicas.failed(target, error)
                self._target = None
                FALLBACK.inc()
                return await self._replicas.primary_reader.all(statement, values)
            ON_REPLICA.inc()
            return rows
        ON_PRIMARY.inc()
        return await self._replicas.primary_reader.all(statement, values)

    async def _choose(self) -> ReadTarget | None:
        replicas = self._replicas
        if not replicas.any_fresh():
            return None  # the primary answers: no need to know the caller's last write
        user_id = getattr(self._caller, "user_id", None)
        wrote_at = None if user_id is None else await replicas.writes.last(user_id)
        return replicas.choose(wrote_at)


async def get_routed_reader(request: Request) -> Reader:
    """`ReaderDep` with read replicas (installed over `get_reader` by `install_read_replicas`)."""
    return RoutedReader(request.app.state.replicas, request.state)


async def get_session_marking_writes(request: Request) -> AsyncIterator[AsyncSession]:
    """`SessionDep` with read replicas: a commit marks the caller (read-your-writes)."""
    writes: WriteMarks = request.app.state.replicas.writes
    state = request.state

    async def mark(info: dict[str, Any]) -> None:
        user_id = getattr(state, "user_id", None)
        if user_id is not None:
            await writes.mark(user_id)
        after_commit_info(info, mark)  # and the request's next commit, if it makes one

    async with request.app.state.sessionmaker() as session:
        after_commit(session, mark)
        yield session


def install_read_replicas(app: FastAPI) -> None:
    """Route `ReaderDep` through the replicas; without them nothing here runs per request."""
    app.dependency_overrides[get_reader] = get_routed_reader
    app.dependency_overrides[get_session] = get_session_marking_writes
