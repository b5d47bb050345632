"""The last active superuser stays: a rule that must hold when two requests race.

A read-then-write check is not enough: two superusers demoting each other at once each see the
other still in place, and both succeed. So every change that can take a superuser away
(demotion, deactivation, deletion) first takes a lock that all such changes share, and only then
reads the state it checks:
- PostgreSQL: `SELECT ... FOR UPDATE` of the active superusers' rows. The second request waits
  for the first to commit; READ COMMITTED then re-reads the rows, and a superuser the first one
  removed is no longer among them.
- SQLite ignores FOR UPDATE but has one writer at a time: an UPDATE that matches nothing takes the
  database's write lock at once (the driver opens the transaction before it), so the second
  request waits there, and everything it reads afterwards is current.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import User
from libkoiki.errors import AppError


async def lock_superusers(session: AsyncSession) -> None:
    """Serialise changes to the set of active superusers until this transaction ends."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("UPDATE users SET is_superuser = is_superuser WHERE 0"))
        return
    await session.execute(
        select(User.id)
        .where(User.is_superuser, User.is_active)
        .order_by(User.id)  # one order for every locker: no deadlock between two of them
        .with_for_update()
    )


async def refuse_removing_last_superuser(session: AsyncSession, user: User) -> None:
    """400 `last_superuser` if `user` is the only active superuser (call under the lock)."""
    if not (user.is_superuser and user.is_active):
        return
    others = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.is_superuser, User.is_active, User.id != user.id)
    )
    if not others:
        raise AppError(
            400,
            "This is the last active superuser: promote another account first",
            "last_superuser",
        )
