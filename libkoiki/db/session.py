"""Per-request database access.

`SessionDep`: one session per request, closed (and rolled back if uncommitted) when it ends. Use it
for anything that writes, or that must see one consistent snapshot.

`ReadConnection`: a pooled connection outside any transaction, for routes that only read. Each
statement sees the latest committed data; skipping BEGIN and ROLLBACK saves two round trips on
every request, which is most of what a small read costs (the list of todos runs on it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

_AFTER_COMMIT = "koiki.after_commit"
AfterCommit = Callable[[dict[str, Any]], Awaitable[None]]


def after_commit(session: Any, callback: AfterCommit) -> None:
    """Run `callback(session.info)` once the session's next commit has succeeded.

    `session` is an AsyncSession or the Session it drives (as ORM event hooks receive it). A
    callback already waiting is not added twice; after a rollback it waits for the next commit.
    """
    callbacks: list[AfterCommit] = session.info.setdefault(_AFTER_COMMIT, [])
    if callback not in callbacks:
        callbacks.append(callback)


class KoikiSession(AsyncSession):
    """An AsyncSession whose `after_commit` callbacks finish before `commit()` returns: what must
    follow a durable change (telling other replicas) is done before the response leaves."""

    async def commit(self) -> None:
        await super().commit()
        for callback in self.info.pop(_AFTER_COMMIT, ()):
            await callback(self.info)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


async def get_read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.read_engine.connect() as connection:
        yield connection


def read_engine(engine: AsyncEngine) -> AsyncEngine:
    """`engine`'s pool, with connections in autocommit: no transaction is opened for reads."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


SessionDep = Annotated[AsyncSession, Depends(get_session)]
ReadConnection = Annotated[AsyncConnection, Depends(get_read_connection)]
