"""Where the database is, in the forms the tools need: asyncpg keyword arguments for our own
connections, libpq environment variables for pg_dump/pg_restore (never a password on a command
line, where `ps` would show it)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

# Errors that mean "not yet": the server is down, starting, or its name does not resolve yet
# (compose creates the DNS entry when the container starts). Anything else is a configuration
# problem that waiting will not fix.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionDoesNotExistError,
)

_SSL_QUERY_KEYS = ("ssl", "sslmode")


class NotPostgresError(ValueError):
    """The configured database is not PostgreSQL."""


@dataclass(frozen=True)
class PgTarget:
    host: str
    port: int
    user: str | None
    password: str | None
    database: str
    sslmode: str | None = None

    @classmethod
    def from_url(cls, url: str) -> PgTarget:
        parsed = make_url(url)
        if not parsed.drivername.startswith("postgresql"):
            raise NotPostgresError(
                f"this command needs PostgreSQL; DATABASE_URL uses {parsed.drivername!r}"
            )
        query = dict(parsed.query)
        host = parsed.host or _first(query.get("host")) or "localhost"
        sslmode = next((_first(query[key]) for key in _SSL_QUERY_KEYS if key in query), None)
        return cls(
            host=host,
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password if isinstance(parsed.password, str) else None,
            database=parsed.database or "postgres",
            sslmode=sslmode,
        )

    def with_database(self, database: str) -> PgTarget:
        return replace(self, database=database)

    def describe(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"{user}{self.host}:{self.port}/{self.database}"

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
        }
        if self.sslmode:
            kwargs["ssl"] = self.sslmode
        return kwargs

    def libpq_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PGHOST=self.host,
            PGPORT=str(self.port),
            PGDATABASE=self.database,
            PGAPPNAME="koiki-ops",
            PGCONNECT_TIMEOUT="10",
        )
        if self.user:
            env["PGUSER"] = self.user
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        if self.sslmode:
            env["PGSSLMODE"] = self.sslmode
        return env


def _first(value: Any) -> str | None:
    if isinstance(value, tuple):
        return str(value[0]) if value else None
    return None if value is None else str(value)


async def connect(target: PgTarget, *, connect_timeout: float = 10.0) -> asyncpg.Connection:
    return await asyncpg.connect(**target.connect_kwargs(), timeout=connect_timeout)


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
