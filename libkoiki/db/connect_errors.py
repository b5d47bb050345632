"""A failed connection to the database, told in one line a person can act on.

`make migrate`, the `ops` commands and the app's start-up print this line instead of a
traceback when the database cannot be reached, or refuses us: a missing role or database, a
wrong password. The line names what is wrong, where, and what to check.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

README_SECTION = "README.md, 'Running against PostgreSQL and Redis'"


@dataclass(frozen=True)
class ConnectFailure:
    message: str
    # True when waiting cannot help (credentials, names): only a change of configuration can.
    permanent: bool


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, what SQLAlchemy wrapped (`orig`) and the causes, each once."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or any(current is known for known in seen):
            continue
        seen.append(current)
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return seen


def _where(url: str | None) -> tuple[str, str | None, str | None]:
    """("host:port", user, database) of a URL, as far as it says."""
    if not url:
        return "the database server", None, None
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "the database server", None, None
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or "", None, parsed.database
    if not parsed.host and parsed.query.get("host"):
        # A multi-host URL (`?host=a:5432&host=b:5432`) names every server it may use.
        hosts = parsed.query["host"]
        return (
            ",".join([hosts] if isinstance(hosts, str) else hosts),
            parsed.username,
            parsed.database,
        )
    host = parsed.host or "localhost"
    return f"{host}:{parsed.port or 5432}", parsed.username, parsed.database


def _server_text(exc: BaseException) -> str:
    text = str(getattr(exc, "args", [""])[0] if getattr(exc, "args", None) else exc)
    return (text.strip() or type(exc).__name__).splitlines()[0]


def _from_sqlstate(
    state: str, exc: Any, where: str, user: str | None, db: str | None
) -> ConnectFailure | None:
    said = _server_text(exc)
    if state == "28P01":
        return ConnectFailure(
            f"the database at {where} refused the password of role {user!r}: "
            "check the password in DATABASE_URL",
            permanent=True,
        )
    if state == "28000" and "does not exist" in said:
        return ConnectFailure(
            f"the database server at {where} has no role {user!r}: create it "
            f"(see {README_SECTION}) or fix the user name in DATABASE_URL",
            permanent=True,
        )
    if state == "28000":
        return ConnectFailure(
            f"the database server at {where} refused role {user!r} ({said}): check its "
            "pg_hba.conf and the user and host in DATABASE_URL",
            permanent=True,
        )
    if state == "3D000":
        return ConnectFailure(
            f"the database server at {where} has no database {db!r}: create it "
            f"(see {README_SECTION}) or fix the database name in DATABASE_URL",
            permanent=True,
        )
    if state.startswith(("57P", "53300", "08")):
        return ConnectFailure(
            f"the database at {where} cannot take connections now ({said}): it is starting, "
            "stopping or full; try again shortly",
            permanent=False,
        )
    return None


def describe_connect_failure(exc: BaseException, url: str | None) -> ConnectFailure | None:
    """The one line for a failure to connect, or None when `exc` is something else."""
    where, user, db = _where(url)
    chain = _chain(exc)
    for item in chain:
        state = getattr(item, "sqlstate", None)
        if isinstance(state, str) and state:
            found = _from_sqlstate(state, item, where, user, db)
            if found is not None:
                return found
    for item in chain:
        if isinstance(item, socket.gaierror):
            host = where.rsplit(":", 1)[0]
            return ConnectFailure(
                f"the database host {host!r} is not known ({item.strerror}): check the host in "
                "DATABASE_URL",
                permanent=False,
            )
        if isinstance(item, ConnectionRefusedError):
            return ConnectFailure(
                f"nothing accepts connections at {where} (connection refused): is PostgreSQL "
                "running, and are the host and port in DATABASE_URL right?",
                permanent=False,
            )
        if isinstance(item, TimeoutError):
            return ConnectFailure(
                f"the database at {where} did not answer in time: check the host and port in "
                "DATABASE_URL, and any firewall in between",
                permanent=False,
            )
        if isinstance(item, OSError) and item.errno is not None:
            return ConnectFailure(
                f"cannot reach the database at {where} ({item.strerror}): check the host and "
                "port in DATABASE_URL",
                permanent=False,
            )
        if "sqlite" in type(item).__module__ and "unable to open database" in str(item):
            return ConnectFailure(
                f"cannot open the SQLite database file {db!r}: check that its folder exists and "
                "is writable, or set DATABASE_URL",
                permanent=True,
            )
    return None
