"""Login lockout: too many failures for one account, or from one client IP, within a window.

Failures are rows in the database, so the count survives restarts and every replica applies the
same limit. A locked login is answered at once with `Retry-After` (never by sleeping in the
request), and is not counted itself, so the lock ends when the window has passed. Expired rows
are removed by `purge_expired_auth_state`, not on the request path.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from libkoiki.auth.models import EMAIL_MAX_LENGTH, IP_MAX_LENGTH, LoginAttempt
from libkoiki.config import Settings
from libkoiki.db import utcnow
from libkoiki.db.session import commit_now, run_core

UNKNOWN_IP = "unknown"


def _window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.login_failure_window_minutes)


def _oldest_counted(column: InstrumentedAttribute[str], key: str) -> Any:
    # The `limit`-th most recent failure of this key inside the window: while it exists the key
    # is locked, and once it leaves the window fewer than `limit` remain.
    return (
        select(LoginAttempt.attempted_at)
        .where(column == bindparam(key), LoginAttempt.attempted_at > bindparam("since"))
        .order_by(LoginAttempt.attempted_at.desc())
        .offset(bindparam(f"{key}_offset"))
        .limit(1)
        .scalar_subquery()
    )


def _rank(column: InstrumentedAttribute[str], key: str) -> Any:
    # How many attempts of this key in the window came before this one, this one included.
    return (
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            column == bindparam(key),
            LoginAttempt.attempted_at > bindparam("since"),
            LoginAttempt.id <= bindparam("attempt_id"),
        )
        .scalar_subquery()
    )


# Both keys (the account and the client address) in one round trip each; built once.
_OLDEST_COUNTED = select(
    _oldest_counted(LoginAttempt.email, "email"), _oldest_counted(LoginAttempt.ip, "ip")
)
_RANKS = select(_rank(LoginAttempt.email, "email"), _rank(LoginAttempt.ip, "ip"))
_CLAIM = insert(LoginAttempt)
_WITHDRAW = delete(LoginAttempt).where(LoginAttempt.id == bindparam("attempt_id"))
_CLEAR = delete(LoginAttempt).where(LoginAttempt.email == bindparam("email"))


async def retry_after_seconds(
    db: AsyncSession, settings: Settings, *, email: str, ip: str | None
) -> int | None:
    """Seconds until a login for this account from this IP is allowed again; None if it is."""
    window = _window(settings)
    oldest = (
        await run_core(
            db,
            _OLDEST_COUNTED,
            {
                "email": email,
                "ip": ip or UNKNOWN_IP,
                "since": utcnow() - window,
                "email_offset": settings.login_max_failures_per_account - 1,
                "ip_offset": settings.login_max_failures_per_ip - 1,
            },
        )
    ).one()
    unlocks: list[datetime] = [moment + window for moment in oldest if moment is not None]
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
    clears the account's attempts, its own included. In autocommit (`autocommit_until_commit`)
    the INSERT is the commit: one round trip instead of three.
    """
    attempt = {
        "email": email[:EMAIL_MAX_LENGTH],
        "ip": (ip or UNKNOWN_IP)[:IP_MAX_LENGTH],
        "attempted_at": utcnow(),
    }
    # RETURNING on PostgreSQL, the row id on SQLite (which has RETURNING only from 3.35 on).
    inserted = (await run_core(db, _CLAIM, attempt)).inserted_primary_key
    assert inserted is not None  # a single-row INSERT always has one
    attempt_id = inserted[0]
    await commit_now(db)
    email_rank, ip_rank = (
        await run_core(
            db,
            _RANKS,
            {
                "email": attempt["email"],
                "ip": attempt["ip"],
                "since": utcnow() - _window(settings),
                "attempt_id": attempt_id,
            },
        )
    ).one()
    within = (
        email_rank <= settings.login_max_failures_per_account
        and ip_rank <= settings.login_max_failures_per_ip
    )
    if not within:
        await run_core(db, _WITHDRAW, {"attempt_id": attempt_id})
        await commit_now(db)
    return bool(within)


async def clear_failures(db: AsyncSession, *, email: str) -> None:
    await run_core(db, _CLEAR, {"email": email[:EMAIL_MAX_LENGTH]})
