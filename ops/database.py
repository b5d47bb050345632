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

from libkoiki.db.failover import EachHostInTurn

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
    # No host of a multi-host URL is the primary yet (a failover under way).
    asyncpg.TargetServerAttributeNotMatched,
)

_SSL_QUERY_KEYS = ("ssl", "sslmode")


class NotPostgresError(ValueError):
    """The configured database is not PostgreSQL."""


@dataclass(frozen=True)
class PgTarget:
    """One server, or several (a multi-host URL: libpq and asyncpg try them in order and keep the
    first that matches `target_session_attrs`, the primary for DATABASE_URL)."""

    hosts: tuple[tuple[str, int], ...]
    user: str | None
    password: str | None
    database: str
    sslmode: str | None = None
    target_session_attrs: str | None = None

    @classmethod
    def from_url(cls, url: str) -> PgTarget:
        parsed = make_url(url)
        if not parsed.drivername.startswith("postgresql"):
            raise NotPostgresError(
                f"this command needs PostgreSQL; DATABASE_URL uses {parsed.drivername!r}"
            )
        query = dict(parsed.query)
        listed = query.get("host")
        hosts: tuple[tuple[str, int], ...]
        if isinstance(listed, tuple) and len(listed) > 1:
            hosts = tuple(_host_port(item) for item in listed)
        else:
            host = parsed.host or _first(listed) or "localhost"
            hosts = ((host, parsed.port or 5432),)
        sslmode = next((_first(query[key]) for key in _SSL_QUERY_KEYS if key in query), None)
        return cls(
            hosts=hosts,
            user=parsed.username,
            password=parsed.password if isinstance(parsed.password, str) else None,
            database=parsed.database or "postgres",
            sslmode=sslmode,
            target_session_attrs=_first(query.get("target_session_attrs")),
        )

    @property
    def host(self) -> str:
        return self.hosts[0][0]

    @property
    def port(self) -> int:
        return self.hosts[0][1]

    @property
    def servers(self) -> str:
        return ",".join(f"{host}:{port}" for host, port in self.hosts)

    def with_database(self, database: str) -> PgTarget:
        return replace(self, database=database)

    def each_server(self) -> list[PgTarget]:
        """One target per host, whatever its role (the doctor asks each one)."""
        return [replace(self, hosts=(host,), target_session_attrs=None) for host in self.hosts]

    def describe(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"{user}{self.servers}/{self.database}"

    def connect_kwargs(self) -> dict[str, Any]:
        several = len(self.hosts) > 1
        kwargs: dict[str, Any] = {
            "host": [host for host, _ in self.hosts] if several else self.host,
            "port": [port for _, port in self.hosts] if several else self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
        }
        if self.sslmode:
            kwargs["ssl"] = self.sslmode
        if self.target_session_attrs:
            kwargs["target_session_attrs"] = self.target_session_attrs
        return kwargs

    def libpq_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            # libpq's own multi-host form: pg_dump, pg_restore and psql find the primary as the
            # app does.
            PGHOST=",".join(host.strip("[]") for host, _ in self.hosts),
            PGPORT=",".join(str(port) for _, port in self.hosts),
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
        if self.target_session_attrs:
            env["PGTARGETSESSIONATTRS"] = self.target_session_attrs
        return env


def _host_port(item: str) -> tuple[str, int]:
    host, _, port = item.rpartition(":")
    return (host, int(port)) if host and port.isdigit() else (item, 5432)


def _first(value: Any) -> str | None:
    if isinstance(value, tuple):
        return str(value[0]) if value else None
    return None if value is None else str(value)


async def connect(target: PgTarget, *, connect_timeout: float = 10.0) -> asyncpg.Connection:
    kwargs = target.connect_kwargs()
    if len(target.hosts) > 1:  # each host its own timeout, as the app connects
        connection: asyncpg.Connection = await EachHostInTurn()(**kwargs, timeout=connect_timeout)
        return connection
    return await asyncpg.connect(**kwargs, timeout=connect_timeout)


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
