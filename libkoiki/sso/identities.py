"""Linked identities of a user (profile page), and the provider sign-out of a session."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import User
from libkoiki.audit.service import AuditSource, record_user_event
from libkoiki.auth.dependencies import Authenticated
from libkoiki.auth.models import AuthSession
from libkoiki.config import Settings
from libkoiki.errors import AppError, NotFoundError
from libkoiki.sso.models import UserIdentity
from libkoiki.sso.schemas import IdentityRead
from libkoiki.sso.service import get_provider


def _display_name(settings: Settings, name: str) -> str:
    for provider in settings.oidc_providers:
        if provider.name == name:
            return provider.display_name
    return name


async def list_identities(db: AsyncSession, settings: Settings, user: User) -> list[IdentityRead]:
    rows = await db.scalars(
        select(UserIdentity).where(UserIdentity.user_id == user.id).order_by(UserIdentity.id)
    )
    return [
        IdentityRead(
            id=row.id,
            provider=row.provider,
            display_name=_display_name(settings, row.provider),
            email=row.email,
            created_at=row.created_at,
            last_login_at=row.last_login_at,
        )
        for row in rows
    ]


async def unlink(db: AsyncSession, user: User, identity_id: int, *, source: AuditSource) -> None:
    identity = await db.scalar(
        select(UserIdentity).where(UserIdentity.id == identity_id, UserIdentity.user_id == user.id)
    )
    if identity is None:
        raise NotFoundError("Linked identity")
    if user.hashed_password is None:
        count = await db.scalar(
            select(func.count()).select_from(UserIdentity).where(UserIdentity.user_id == user.id)
        )
        if (count or 0) <= 1:
            raise AppError(
                400,
                "This is your only way to sign in: this account has no password",
                "last_sign_in_method",
            )
    provider, user_id, email = identity.provider, user.id, user.email
    await db.delete(identity)
    await record_user_event(
        db,
        action="sso.unlink",
        user_id=user_id,
        email=email,
        request=source,
        details={"provider": provider},
    )
    await db.commit()


async def end_session_url(db: AsyncSession, settings: Settings, auth: Authenticated) -> str | None:
    """The provider's sign-out page for the current session, if it signed in through one."""
    provider_name = await db.scalar(
        select(AuthSession.sso_provider).where(AuthSession.id == auth.claims.session_id)
    )
    if provider_name is None:
        return None
    try:
        provider = get_provider(settings, provider_name)
    except NotFoundError:
        return None
    from libkoiki.sso import oidc

    return await oidc.end_session_url(provider, return_url=settings.sso_logout_return_url)
