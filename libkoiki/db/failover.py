"""A connection to a server that has stopped being the primary is thrown away, never reused.

After a failover the pooled connections to the old primary either break (it is down: SQLAlchemy
already drops them) or, when the old primary is still up but fenced read-only
(`default_transaction_read_only`, a proxy still pointing at it, a standby reached with
target_session_attrs=any), answer every write with SQLSTATE 25006. The `handle_error` listener
below makes SQLAlchemy treat that answer as a disconnect: the connection is invalidated, every
other connection the pool held before it is replaced on its next checkout, the request answers 503
`database_unavailable`, and the next connect looks for the primary again among the URL's hosts
(target_session_attrs=read-write skips a server in recovery or read-only).

The listener runs only when a statement fails; a request that succeeds pays nothing for it.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

# "cannot execute INSERT in a read-only transaction"
READ_ONLY_SQL_TRANSACTION = "25006"


def sqlstate_of(error: BaseException | None) -> str:
    return str(getattr(error, "sqlstate", None) or "")


def is_read_only_server(error: BaseException | None) -> bool:
    return sqlstate_of(error) == READ_ONLY_SQL_TRANSACTION


def _read_only_is_disconnect(context: ExceptionContext) -> None:
    if is_read_only_server(context.original_exception):
        context.is_disconnect = True


def discard_read_only_connections(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "handle_error", _read_only_is_disconnect)
