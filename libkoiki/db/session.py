"""Per-request database access.

`SessionDep`: one session per request, closed (and rolled back if uncommitted) when it ends. Use it
for anything that writes, or that must see one consistent snapshot.

`ReaderDep`: a `Reader` (libkoiki.db.reader), for routes that only read: each statement runs on a
pooled connection in autocommit and sees the latest committed data. Skipping BEGIN and ROLLBACK
saves two round trips on every request, nothing is held open between statements, and on
PostgreSQL the statements a route repeats run on the driver directly (the list of todos runs on
it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import CursorResult, Executable
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.db.reader import Reader

_AFTER_COMMIT = "koiki.after_commit"
AfterCommit = Callable[[dict[str, Any]], Awaitable[None]]


def after_commit(session: Any, callback: AfterCommit) -> None:
    """Run `callback(session.info)` once the session's next commit has succeeded.

    `session` is an AsyncSession or the Session it drives (as ORM event hooks receive it). A
    callback already waiting is not added twice; after a rollback it waits for the next commit.
    """
    after_commit_info(session.info, callback)


def after_commit_info(info: dict[str, Any], callback: AfterCommit) -> None:
    """`after_commit` given the session's `info` (what a callback receives, to wait again)."""
    callbacks: list[AfterCommit] = info.setdefault(_AFTER_COMMIT, [])
    if callback not in callbacks:
        callbacks.append(callback)


class KoikiSession(AsyncSession):
    """An AsyncSession whose `after_commit` callbacks finish before `commit()` returns: what must
    follow a durable change (telling other replicas) is done before the response leaves."""

    async def commit(self) -> None:
        await super().commit()
        for callback in self.info.pop(_AFTER_COMMIT, ()):
            await callback(self.info)


async def autocommit_until_commit(session: AsyncSession) -> None:
    """Let each statement of `session` commit on its own until its next commit or rollback: no
    BEGIN or COMMIT round trips, and what one statement writes is visible to everyone at once.

    Only for a session that has not begun a transaction; one that has is left as it is (its
    statements stay in that transaction, and `commit_now` commits it)."""
    if not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


async def run_core(
    session: AsyncSession, statement: Executable, values: Mapping[str, Any]
) -> CursorResult[*tuple[Any, ...]]:
    """Run a Core statement on `session`'s connection, in its transaction (or in autocommit),
    without the ORM's execution layers: on a hot path they cost more of the event loop's time
    than a small statement itself. Nothing pending in the session is flushed first."""
    return await (await session.connection()).execute(statement, values)


async def commit_now(session: AsyncSession) -> None:
    """Make what `session` has written durable now: in autocommit each statement was its own
    commit (a flush writes what is still pending), and the connection stays for the statements
    that follow; otherwise its transaction commits."""
    connection = (await session.connection()).sync_connection
    if connection and connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        await session.flush()
    else:
        await session.commit()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


async def get_reader(request: Request) -> Reader:
    reader: Reader = request.app.state.reader
    return reader


SessionDep = Annotated[AsyncSession, Depends(get_session)]
ReaderDep = Annotated[Reader, Depends(get_reader)]
