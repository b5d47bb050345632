"""Who a provider's answer signs in: the account linked to its `sub`, a new one, or a link.

Accounts are found by the provider's `sub` (with its issuer), never by email. An unknown identity
becomes a new account only when auto-creation is on and the provider vouches for the address (and
its domain is allowed); an existing account with that address is linked only by its owner, while
signed in, never silently by matching the address. Roles named in `role_mapping` follow the
provider's groups at every sign-in.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import Role, User
from libkoiki.accounts.service import create_user, find_lookalike, get_user, normalize_email
from libkoiki.audit.service import AuditSource, record_event, record_user_event
from libkoiki.auth.principals import principal_changed
from libkoiki.auth.schemas import TokenPair
from libkoiki.auth.sessions import create_session
from libkoiki.auth.tokens import create_access_token
from libkoiki.config import Settings
from libkoiki.db import utcnow
from libkoiki.errors import ConflictError
from libkoiki.sso.errors import SSOError
from libkoiki.sso.models import UserIdentity
from libkoiki.sso.settings import OIDCProviderConfig

logger = structlog.get_logger("koiki.sso")


class LinkRequired(SSOError):
    """The provider vouches for the address of an existing account: only its owner links."""

    def __init__(self, provider: OIDCProviderConfig, user_id: int | None) -> None:
        super().__init__(
            409,
            "An account with this email already exists: enter its password once to link "
            f"{provider.display_name}, or sign in with the password and link it on your profile",
            "sso_link_required",
            reason="account_exists",
        )
        # The account a password may link to; None: only the profile page can.
        self.user_id = user_id


def _verified_email(provider: OIDCProviderConfig, claims: dict[str, Any]) -> str | None:
    """The address if the provider vouches for it, and its domain is allowed; None otherwise."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        return None
    verified = claims.get("email_verified")
    # Some providers send the JSON string "true" instead of the boolean.
    if verified is not True and verified != "true":
        return None
    return normalize_email(email)


def _check_domain(provider: OIDCProviderConfig, claims: dict[str, Any]) -> None:
    if not provider.allowed_domains:
        return
    email = claims.get("email")
    if not isinstance(email, str) or not provider.email_domain_allowed(normalize_email(email)):
        raise SSOError(
            403,
            f"Accounts of this email domain may not sign in with {provider.display_name}",
            "sso_domain_not_allowed",
            reason="domain_not_allowed",
        )


async def _find_identity(
    db: AsyncSession, provider: OIDCProviderConfig, subject: str
) -> UserIdentity | None:
    return await db.scalar(
        select(UserIdentity).where(
            UserIdentity.issuer == provider.issuer, UserIdentity.subject == subject
        )
    )


async def sign_in(
    db: AsyncSession,
    settings: Settings,
    provider: OIDCProviderConfig,
    claims: dict[str, Any],
    source: AuditSource,
) -> TokenPair:
    """Our session for the provider's account, made on its first sign-in where allowed.

    Two first sign-ins of one account at once (a double click, two tabs) both find no account;
    the unique indexes let one make it, and the other, after that conflict, signs in to it.
    """
    try:
        return await _sign_in(db, settings, provider, claims, source)
    except (ConflictError, IntegrityError):
        await db.rollback()
        return await _sign_in(db, settings, provider, claims, source)


async def _sign_in(
    db: AsyncSession,
    settings: Settings,
    provider: OIDCProviderConfig,
    claims: dict[str, Any],
    source: AuditSource,
) -> TokenPair:
    _check_domain(provider, claims)
    subject = str(claims["sub"])
    identity = await _find_identity(db, provider, subject)
    email = _verified_email(provider, claims)
    if identity is not None:
        user = await get_user(db, identity.user_id)
        assert user is not None  # the identity goes with its user (ON DELETE CASCADE)
    else:
        user, identity = await _provision(db, settings, provider, claims, email, source)
    if not user.is_active:
        raise SSOError(
            403,
            "This account is deactivated; ask an administrator",
            "sso_account_inactive",
            reason="inactive",
        )
    identity.last_login_at = utcnow()
    if email is not None:
        identity.email = email
        if user.email_verified_at is None and user.email == email:
            user.email_verified_at = utcnow()
    await _apply_roles(db, provider, user, claims, source)
    auth_session, refresh_token = await create_session(db, settings, user_id=user.id, client=source)
    auth_session.sso_provider = provider.name
    await record_event(
        db,
        action="sso.login",
        actor_id=user.id,
        actor_email=user.email,
        target_type="session",
        target_id=auth_session.id,
        request=source,
        details={"provider": provider.name},
    )
    user_id, session_id = user.id, auth_session.id
    await db.commit()
    access = create_access_token(settings, user_id=user_id, session_id=session_id)
    return TokenPair(
        access_token=access.token,
        refresh_token=refresh_token,
        expires_in=settings.access_token_expire_minutes * 60,
    )


async def _provision(
    db: AsyncSession,
    settings: Settings,
    provider: OIDCProviderConfig,
    claims: dict[str, Any],
    email: str | None,
    source: AuditSource,
) -> tuple[User, UserIdentity]:
    """A first sign-in: a new account, if allowed; never a silent link to an existing one."""
    if email is None:
        raise SSOError(
            403,
            f"{provider.display_name} did not confirm your email address, so no account can be "
            "made for it",
            "sso_email_not_verified",
            reason="email_not_verified",
        )
    owner = await find_lookalike(db, email)
    if owner is not None:
        # A password link only for the address itself, not a look-alike, and only where there
        # is a password to prove.
        offer = owner.email == email and owner.hashed_password is not None and owner.is_active
        raise LinkRequired(provider, owner.id if offer else None)
    auto_create = (
        provider.auto_create if provider.auto_create is not None else (settings.sso_auto_create)
    )
    if not auto_create:
        raise SSOError(
            403,
            f"No account is linked to this {provider.display_name} account; ask an administrator",
            "sso_no_account",
            reason="no_account",
        )
    name = claims.get("name")
    user = await create_user(
        db,
        email=email,
        password_hash=None,
        full_name=name[:255] if isinstance(name, str) and name.strip() else None,
        email_verified=True,
    )
    identity = UserIdentity(
        user_id=user.id, provider=provider.name, issuer=provider.issuer, subject=str(claims["sub"])
    )
    db.add(identity)
    await record_user_event(
        db,
        action="sso.provision",
        user_id=user.id,
        email=user.email,
        request=source,
        details={"provider": provider.name},
    )
    return user, identity


async def link(
    db: AsyncSession,
    provider: OIDCProviderConfig,
    user_id: int,
    claims: dict[str, Any],
    source: AuditSource,
) -> None:
    """Link the provider account to the signed-in user who started this flow."""
    _check_domain(provider, claims)
    user = await get_user(db, user_id)
    if user is None or not user.is_active:
        raise SSOError(
            403, "This account is deactivated", "sso_account_inactive", reason="inactive"
        )
    subject = str(claims["sub"])
    identity = await _find_identity(db, provider, subject)
    if identity is not None and identity.user_id != user.id:
        raise SSOError(
            409,
            f"This {provider.display_name} account is already linked to another user",
            "sso_identity_taken",
            reason="identity_taken",
        )
    email = claims.get("email")
    if identity is None:
        identity = UserIdentity(
            user_id=user.id, provider=provider.name, issuer=provider.issuer, subject=subject
        )
        db.add(identity)
    identity.email = email if isinstance(email, str) else None
    await _apply_roles(db, provider, user, claims, source)
    await record_user_event(
        db,
        action="sso.link",
        user_id=user.id,
        email=user.email,
        request=source,
        details={"provider": provider.name},
    )
    await db.commit()


async def _apply_roles(
    db: AsyncSession,
    provider: OIDCProviderConfig,
    user: User,
    claims: dict[str, Any],
    source: AuditSource,
) -> None:
    """Roles named in role_mapping follow the provider's groups at every sign-in; others stay."""
    if not provider.role_mapping:
        return
    groups = claims.get(provider.groups_claim or "groups")
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        groups = []
    mapping = provider.role_mapping
    wanted = {mapping[group] for group in groups if isinstance(group, str) and group in mapping}
    managed = set(provider.role_mapping.values())
    current = {role.name for role in user.roles}
    removed = (managed & current) - wanted
    added = list(await db.scalars(select(Role).where(Role.name.in_(sorted(wanted - current)))))
    missing = sorted(wanted - current - {role.name for role in added})
    if missing:
        logger.warning("sso_role_mapping_unknown_roles", provider=provider.name, roles=missing)
    if not added and not removed:
        return
    user.roles = [role for role in user.roles if role.name not in removed] + added
    principal_changed(db, user.id)
    await record_user_event(
        db,
        action="sso.roles_changed",
        user_id=user.id,
        email=user.email,
        request=source,
        details={
            "provider": provider.name,
            "added": sorted(role.name for role in added),
            "removed": sorted(removed),
        },
    )
