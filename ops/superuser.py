"""Create the first superuser through the identity service (libkoiki.accounts.bootstrap), so the
password policy, hashing and audit trail are the same as for any other account."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

from pydantic import ValidationError

from libkoiki.config import Settings
from libkoiki.db.engine import create_engine, create_sessionmaker
from ops.settings import validation_lines


class SuperuserError(RuntimeError):
    pass


@dataclass(frozen=True)
class SuperuserRequest:
    email: str
    password: str
    full_name: str | None = None


async def ensure_first_superuser(
    settings: Settings, request: SuperuserRequest, *, out: TextIO = sys.stderr
) -> bool:
    """Return True when the account was created, False when it already existed (left as is)."""
    try:
        from libkoiki.accounts.bootstrap import ensure_superuser
    except ImportError as exc:
        raise SuperuserError(
            "libkoiki.accounts.bootstrap.ensure_superuser is not available in this build"
        ) from exc
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            try:
                user, created = await ensure_superuser(
                    session,
                    request.email,
                    request.password,
                    full_name=request.full_name,
                    settings=settings,
                )
            except ValidationError as exc:
                raise SuperuserError("; ".join(validation_lines(exc)) or str(exc)) from exc
            except ValueError as exc:
                # The identity service rejects weak passwords and existing regular accounts so.
                raise SuperuserError(str(exc)) from exc
            await session.commit()
            email = user.email
    finally:
        await engine.dispose()
    if created:
        print(f"create-superuser: created {email}", file=out)
    else:
        print(f"create-superuser: {email} already exists; left unchanged", file=out)
    return created
