"""Wait until the database accepts connections: the container starts before PostgreSQL does."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TextIO

from libkoiki.config import Settings
from ops.database import TRANSIENT_ERRORS, PgTarget, connect, describe_error


class DatabaseUnreachable(RuntimeError):
    """The database did not answer in time, or refused us for a reason waiting cannot fix."""


async def wait_for_database(
    settings: Settings,
    *,
    retries: int | None = None,
    interval: float | None = None,
    out: TextIO = sys.stderr,
) -> float:
    """Return the seconds waited; raise DatabaseUnreachable with the reason otherwise."""
    if settings.is_sqlite:
        print("wait-for-db: SQLite database, nothing to wait for", file=out)
        return 0.0
    target = PgTarget.from_url(settings.database_url)
    attempts = retries if retries is not None else settings.db_wait_retries
    pause = interval if interval is not None else settings.db_wait_interval_seconds
    started = time.monotonic()
    last_error = "no attempt made"
    for attempt in range(1, attempts + 1):
        try:
            connection = await connect(target, connect_timeout=max(pause, 3.0))
        except TRANSIENT_ERRORS as exc:
            last_error = describe_error(exc)
            print(
                f"wait-for-db: {target.describe()} not ready "
                f"(attempt {attempt}/{attempts}): {last_error}",
                file=out,
                flush=True,
            )
            if attempt < attempts:
                await asyncio.sleep(pause)
            continue
        except Exception as exc:
            # Wrong password, unknown database or role: fail now with the server's own words.
            raise DatabaseUnreachable(
                f"{target.describe()} refused the connection: {describe_error(exc)}. "
                "Check DATABASE_URL (user, password, database name)."
            ) from exc
        await connection.execute("SELECT 1")
        await connection.close()
        waited = time.monotonic() - started
        print(f"wait-for-db: {target.describe()} is up (after {waited:.1f}s)", file=out)
        return waited
    waited = time.monotonic() - started
    raise DatabaseUnreachable(
        f"{target.describe()} still unreachable after {attempts} attempts ({waited:.0f}s): "
        f"{last_error}. Is PostgreSQL running and DATABASE_URL right? "
        "Raise DB_WAIT_RETRIES / DB_WAIT_INTERVAL_SECONDS for a slower start."
    )
