"""Login lockout: too many failures for one account, or from one client IP, within a window.

Failures are rows in the database, so the count survives restarts and every replica applies the
same limit. A locked login is answered at once with `Retry-After` (never by sleeping in the
request), and is not counted itself, so the lock ends when the window has passed. Expired rows
are removed by `purge_expired_auth_state`, not on the request path.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from libkoiki.auth.models import EMAIL_MAX_LENGTH, IP_MAX_LENGTH, LoginAttempt
from libkoiki.config import Settings
from libkoiki.db import utcnow

UNKNOWN_IP = "unknown"


def _window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.login_failure_window_minutes)


async def _unlocks_at(
    db: AsyncSession,
    column: InstrumentedAttribute[str],
    value: str,
    limit: int,
    window: timedelta,
) -> datetime | None:
    # The `limit`-th most recent failure inside the window: while it exists the key is locked,
    # and once it leaves the window fewer than `limit` remain.
    oldest_counted = await db.scalar(
        select(LoginAttempt.attempted_at)
        .where(column == value, LoginAttempt.attempted_at > utcnow() - window)
        .order_by(LoginAttempt.attempted_at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    return None if oldest_counted is None else oldest_counted + window


async def retry_after_seconds(
    db: AsyncSession, settings: Settings, *, email: str, ip: str | None
) -> int | None:
    """Seconds until a login for this account from this IP is allowed again; None if it is."""
    window = _window(settings)
    candidates = [
        await _unlocks_at(
            db, LoginAttempt.email, email, settings.login_max_failures_per_account, window
        ),
        await _unlocks_at(
            db, LoginAttempt.ip, ip or UNKNOWN_IP, settings.login_max_failures_per_ip, window
        ),
    ]
    unlocks = [moment for moment in candidates if moment is not None]
    if not unlocks:
        return None
    return max(1, math.ceil((max(unlocks) - utcnow()).total_seconds()))


async def claim_attempt(
    db: AsyncSession, settings: Settings, *, email: str, ip: str | None
) -> bool:
    """Count this attempt before the password is checked; False if it is over the limit.

    Counting first (and committing) means parallel guesses cannot all pass the check while the
    first ones are still hashing: each attempt sees every attempt that came before it. An attempt
    over the limit is withdrawn, so refused requests do not prolong the lock. A successful login
    clears the account's attempts, its own included.
    """
    attempt = LoginAttempt(
        email=email[:EMAIL_MAX_LENGTH], ip=(ip or UNKNOWN_IP)[:IP_MAX_LENGTH], attempted_at=utcnow()
    )
    db.add(attempt)
    await db.commit()
    window_start = utcnow() - _window(settings)

    async def rank(column: InstrumentedAttribute[str], value: str) -> int:
        count = await db.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                column == value,
                LoginAttempt.attempted_at > window_start,
                LoginAttempt.id <= attempt.id,
            )
        )
        return int(count or 0)

    within = (
        await rank(LoginAttempt.email, attempt.email) <= (settings.login_max_failures_per_account)
        and await rank(LoginAttempt.ip, attempt.ip) <= settings.login_max_failures_per_ip
    )
    if not within:
        await db.delete(attempt)
        await db.commit()
    return within


async def clear_failures(db: AsyncSession, *, email: str) -> None:
    await db.execute(delete(LoginAttempt).where(LoginAttempt.email == email[:EMAIL_MAX_LENGTH]))
