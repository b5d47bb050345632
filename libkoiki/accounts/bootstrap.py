"""Creating the first superuser, safe to run on every deployment.

`python -m ops create-superuser` calls `ensure_superuser`. Running it again leaves an existing
superuser untouched (password, name, active flag); an existing *regular* account with that address
is an error, never a silent promotion.
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
from libkoiki.auth.password_policy import validate_password
from libkoiki.auth.passwords import hash_password
from libkoiki.config import Settings, get_settings

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
    email = _EMAIL.validate_python(normalize_email(email))
    existing = await get_user_by_email(session, email)
    if existing is not None:
        if not existing.is_superuser:
            # Never promote: with open registration, anyone could have signed up with the
            # configured address first and would be handed the keys on the next deployment.
            raise ValueError(
                f"{email} already exists as a regular account; promote it through the admin API "
                "or configure another FIRST_SUPERUSER_EMAIL"
            )
        # Left exactly as it is: a re-run must not reset a changed password or undo an
        # administrator's decision to deactivate the account.
        return existing, False
    settings = settings or get_settings()
    validate_password(
        password,
        email=email,
        min_length=settings.password_min_length,
        min_score=settings.password_min_score,
    )
    user = await create_user(
        session,
        email=email,
        password_hash=await hash_password(password, settings),
        full_name=full_name,
        is_superuser=True,
        roles=[role.name for role in await resolve_roles(session, SUPERUSER_ROLES)],
        # The operator who runs the command vouches for the address.
        email_verified=True,
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
