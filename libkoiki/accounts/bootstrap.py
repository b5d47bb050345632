"""Creating the first superuser, safe to run on every deployment.

`python -m ops create-superuser` calls `ensure_superuser`. Running it again never changes an
existing account's password: it only makes sure the account is an active superuser.
"""

from __future__ import annotations

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import User
from libkoiki.accounts.schemas import Email
from libkoiki.accounts.service import (
    DEFAULT_ROLE,
    create_user,
    get_user_by_email,
    normalize_email,
    resolve_roles,
)
from libkoiki.audit.service import record_event
from libkoiki.config import Settings, get_settings
from libkoiki.db import utcnow

SUPERUSER_ROLES = ("admin", DEFAULT_ROLE)
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)


async def ensure_superuser(
    session: AsyncSession,
    email: str,
    password: str,
    full_name: str | None = None,
    *,
    settings: Settings | None = None,
) -> tuple[User, bool]:
    """Return `(user, created)`.

    Raises ValueError (pydantic's ValidationError is one) naming the problem for a bad email or a
    password that breaks the policy.
    """
    from libkoiki.auth.password_policy import validate_password
    from libkoiki.auth.passwords import hash_password

    email = _EMAIL.validate_python(normalize_email(email))
    existing = await get_user_by_email(session, email)
    if existing is not None:
        promoted = not (existing.is_superuser and existing.is_active)
        if promoted:
            existing.is_superuser = True
            existing.is_active = True
            existing.updated_at = utcnow()
            await record_event(
                session,
                action="user.update",
                target_type="user",
                target_id=str(existing.id),
                details={"email": email, "changes": {"is_superuser": True, "is_active": True}},
            )
            await session.commit()
        return existing, False
    settings = settings or get_settings()
    validate_password(password, email=email, min_length=settings.password_min_length)
    user = await create_user(
        session,
        email=email,
        password_hash=await hash_password(password, settings),
        full_name=full_name,
        is_superuser=True,
        roles=[role.name for role in await resolve_roles(session, SUPERUSER_ROLES)],
    )
    await record_event(
        session,
        action="user.create",
        target_type="user",
        target_id=str(user.id),
        details={"email": email, "is_superuser": True, "via": "bootstrap"},
    )
    await session.commit()
    return user, True
