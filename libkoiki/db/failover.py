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

from typing import Any

import asyncpg
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


class EachHostInTurn:
    """Connects to a multi-host URL's hosts one at a time, each with the whole connect timeout,
    starting with the one that last answered as the primary.

    asyncpg tries the hosts within a single timeout: a host that accepts TCP but never answers
    (a hung or partitioned primary, rather than a dead one that refuses at once) would spend all of
    it, every time, and the promoted standby behind it would never be reached. libpq's
    `connect_timeout` is per host for the same reason.
    """

    def __init__(self) -> None:
        self._first = 0

    async def __call__(self, *args: Any, host: list[str], port: list[int], **kwargs: Any) -> Any:
        servers = list(zip(host, port, strict=True))
        order = servers[self._first :] + servers[: self._first]
        failure: BaseException | None = None
        for name, number in order:
            try:
                connection = await asyncpg.connect(*args, host=name, port=number, **kwargs)
            except _NEXT_HOST as error:  # down, hung, or not the primary: the next one
                failure = error
                continue
            self._first = servers.index((name, number))
            return connection
        assert failure is not None
        raise failure


# Why a host is passed over: unreachable, too slow, or not what target_session_attrs asks for.
_NEXT_HOST = (
    OSError,
    TimeoutError,
    asyncpg.TargetServerAttributeNotMatched,
    asyncpg.CannotConnectNowError,
)


def connect_to_each_host_in_turn(engine: AsyncEngine) -> None:
    """For an engine whose URL names several hosts (see `EachHostInTurn`); new connections only."""
    each_host = EachHostInTurn()

    def use_each_host(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        if isinstance(params.get("host"), list):
            params["async_creator_fn"] = each_host

    event.listen(engine.sync_engine, "do_connect", use_each_host)
