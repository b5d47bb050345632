"""`ops maintenance on|off|status`: the switch every replica obeys (libkoiki.maintenance).

The switch is written to Redis (when `REDIS_URL` is set) and to `MAINTENANCE_FILE`, never to
PostgreSQL, which may be the very thing being restored. The audit trail is in PostgreSQL: the
event is written when the database answers within a few seconds; when it does not, the switch is
still thrown, a warning says the event was not recorded, and the switch itself keeps who, why
and since when (shown by `status`).
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from libkoiki.config import Settings
from libkoiki.maintenance import state as store
from libkoiki.maintenance.state import MaintenanceState
from libkoiki.redis_client import connect

AUDIT_TIMEOUT_SECONDS = 5.0


class MaintenanceError(RuntimeError):
    pass


@dataclass(frozen=True)
class SwitchReport:
    file: MaintenanceState | None
    redis: MaintenanceState | None
    redis_error: str | None = None

    @property
    def on(self) -> MaintenanceState | None:
        return self.redis or self.file


def operator_name(given: str | None) -> str:
    """Who threw the switch: --by, else KOIKI_OPERATOR, else the login name."""
    if given:
        return given
    try:
        return os.environ.get("KOIKI_OPERATOR") or getpass.getuser()
    except OSError:
        return "unknown"


def _redis(settings: Settings, url: str) -> Redis:
    return connect(
        url, timeout_seconds=3, sentinel_password=settings.redis_sentinel_password, role="ops"
    )


async def _write_redis(settings: Settings, state: MaintenanceState | None) -> str | None:
    """Write the Redis copy (None: delete it); the error text when Redis is unreachable."""
    if not settings.redis_url:
        return None
    client = _redis(settings, settings.redis_url)
    try:
        await store.write_redis(client, settings.redis_key_prefix, state)
        return None
    except (RedisError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await client.aclose()


async def read_switch(settings: Settings) -> SwitchReport:
    from_file = store.read_file(settings.maintenance_file)
    if not settings.redis_url:
        return SwitchReport(file=from_file, redis=None)
    client = _redis(settings, settings.redis_url)
    try:
        return SwitchReport(
            file=from_file, redis=await store.read_redis(client, settings.redis_key_prefix)
        )
    except (RedisError, OSError) as exc:
        return SwitchReport(file=from_file, redis=None, redis_error=f"{type(exc).__name__}: {exc}")
    finally:
        await client.aclose()


async def _audit(settings: Settings, action: str, details: dict[str, object]) -> str | None:
    """Record the event; the reason it could not be recorded, if so."""
    from libkoiki.audit.service import record_event
    from libkoiki.db import create_engine, create_sessionmaker

    engine = create_engine(settings)
    try:
        async with asyncio.timeout(AUDIT_TIMEOUT_SECONDS):
            async with create_sessionmaker(engine)() as session:
                await record_event(session, action=action, target_type="service", details=details)
                await session.commit()
        return None
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    finally:
        await engine.dispose()


async def switch_on(
    settings: Settings,
    *,
    message: str | None,
    retry_after: int | None,
    by: str | None,
    reason: str | None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    state = MaintenanceState(
        message=message or store.DEFAULT_MESSAGE,
        retry_after=store.DEFAULT_RETRY_AFTER if retry_after is None else retry_after,
        since=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        by=operator_name(by),
        reason=reason or "",
    )
    return await _throw(settings, state, "maintenance.on", out=out, err=err)


async def switch_off(
    settings: Settings,
    *,
    by: str | None,
    reason: str | None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    report = await read_switch(settings)
    previous = report.on
    store.remove_file(settings.maintenance_file)
    redis_error = await _write_redis(settings, None)
    if redis_error is not None:
        raise MaintenanceError(
            f"the file switch is off but Redis could not be written ({redis_error}): "
            "replicas still see maintenance on; run `ops maintenance off` again once Redis answers"
        )
    print("maintenance: off", file=out)
    details: dict[str, object] = {"by": operator_name(by), "reason": reason or ""}
    if previous is not None:
        details["was_on_since"] = previous.since
    await _report_audit(settings, "maintenance.off", details, err)
    return 0


async def _throw(
    settings: Settings, state: MaintenanceState, action: str, *, out: TextIO, err: TextIO
) -> int:
    try:
        store.write_file(settings.maintenance_file, state)
    except OSError as exc:
        raise MaintenanceError(
            f"cannot write MAINTENANCE_FILE {settings.maintenance_file}: {exc}"
        ) from exc
    redis_error = await _write_redis(settings, state)
    print(f"maintenance: on ({state.message!r}, Retry-After {state.retry_after}s)", file=out)
    details: dict[str, object] = {
        "by": state.by,
        "reason": state.reason,
        "message": state.message,
        "retry_after": state.retry_after,
    }
    await _report_audit(settings, action, details, err)
    if redis_error is not None:
        print(
            f"maintenance: Redis could not be written ({redis_error}); only replicas that read "
            f"{settings.maintenance_file} obey. Run the command again once Redis answers.",
            file=err,
        )
        return 1
    return 0


async def _report_audit(
    settings: Settings, action: str, details: dict[str, object], err: TextIO
) -> None:
    problem = await _audit(settings, action, details)
    if problem is not None:
        print(
            f"maintenance: audit event {action} NOT recorded, the database could not be written "
            f"({problem}); the switch itself records who and since (see `ops maintenance status`)",
            file=err,
        )


def render_status(report: SwitchReport, settings: Settings, out: TextIO) -> None:
    state = report.on
    if state is None:
        print("maintenance: off", file=out)
    else:
        print("maintenance: on", file=out)
        print(f"  message:     {state.message}", file=out)
        print(f"  retry-after: {state.retry_after}s", file=out)
        print(f"  since:       {state.since or '?'}", file=out)
        print(f"  by:          {state.by or '?'}", file=out)
        if state.reason:
            print(f"  reason:      {state.reason}", file=out)
    print(f"  file {settings.maintenance_file}: {'on' if report.file else 'off'}", file=out)
    if settings.redis_url:
        redis = report.redis_error or ("on" if report.redis else "off")
        print(f"  redis: {redis}", file=out)
