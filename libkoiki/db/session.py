"""Per-request database access.

`SessionDep`: one session per request, closed (and rolled back if uncommitted) when it ends. Use it
for anything that writes, or that must see one consistent snapshot.

`ReaderDep`: runs read-only statements, each on a pooled connection in autocommit, for routes that
only read. Each statement sees the latest committed data; skipping BEGIN and ROLLBACK saves two
round trips on every request, which is most of what a small read costs (the list of todos runs on
it), and nothing is held open between statements.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Executable, Result
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

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


class Reader:
    """Read-only statements on `engine`'s pool, outside any transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Result[Any]:
        """The whole result, buffered: the connection is back in the pool when this returns."""
        async with self._engine.connect() as connection:
            return await connection.execute(statement, parameters)


async def get_reader(request: Request) -> Reader:
    reader: Reader = request.app.state.reader
    return reader


SessionDep = Annotated[AsyncSession, Depends(get_session)]
ReaderDep = Annotated[Reader, Depends(get_reader)]
