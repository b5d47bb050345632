"""SSO flows: start a sign-in (or a link), finish it into our own session, linked identities.

Accounts are found by the provider's `sub` (with its issuer), never by email. An unknown identity
becomes a new account only when auto-creation is on and the provider vouches for the address (and
its domain is allowed); an existing account with that address is linked only by its owner, while
signed in (never silently by matching the address). Every outcome leaves an audit event.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import Role, User
from libkoiki.accounts.service import create_user, find_lookalike, get_user, normalize_email
from libkoiki.audit.service import AuditSource, record_event
from libkoiki.auth.dependencies import Authenticated
from libkoiki.auth.models import AuthSession
from libkoiki.auth.principals import principal_changed
from libkoiki.auth.schemas import TokenPair
from libkoiki.auth.sessions import create_session
from libkoiki.auth.tokens import create_access_token
from libkoiki.config import Settings
from libkoiki.db import utcnow
from libkoiki.errors import AppError, NotFoundError
from libkoiki.sso.errors import SSOError
from libkoiki.sso.models import SSOLoginState, UserIdentity
from libkoiki.sso.schemas import CallbackResult, IdentityRead, ProviderRead
from libkoiki.sso.settings import OIDCProviderConfig

logger = structlog.get_logger("koiki.sso")

EXPIRED_STATE = "This sign-in has expired or was already used; start again"


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def list_providers(settings: Settings) -> list[ProviderRead]:
    return [
        ProviderRead(name=provider.name, display_name=provider.display_name)
        for provider in settings.oidc_providers
    ]


def get_provider(settings: Settings, name: str) -> OIDCProviderConfig:
    for provider in settings.oidc_providers:
        if provider.name == name:
            return provider
    raise NotFoundError("Identity provider")


# --- start ---------------------------------------------------------------------------------------


async def start(
    db: AsyncSession,
    settings: Settings,
    provider: OIDCProviderConfig,
    *,
    redirect_to: str,
    binding: str | None,
    link_user_id: int | None = None,
) -> str:
    """Store a new sign-in (state, nonce, PKCE verifier) and return the provider's URL."""
    from libkoiki.sso import oidc

    state, nonce, verifier = oidc.new_secret(), oidc.new_secret(), oidc.new_secret()
    url = await oidc.authorization_url(
        provider,
        redirect_uri=settings.sso_callback_url,
        state=state,
        nonce=nonce,
        code_verifier=verifier,
    )
    now = utcnow()
    # Sign-ins abandoned at the provider are cleaned up by the next ones.
    await db.execute(delete(SSOLoginState).where(SSOLoginState.expires_at < now))
    db.add(
        SSOLoginState(
            state_hash=_sha256(state),
            provider=provider.name,
            nonce=nonce,
            code_verifier=verifier,
            redirect_to=redirect_to,
            binding_hash=binding,
            link_user_id=link_user_id,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.sso_state_ttl_seconds),
        )
    )
    await db.commit()
    return url


# --- finish --------------------------------------------------------------------------------------


async def _take_state(db: AsyncSession, state: str) -> SSOLoginState | None:
    """The started sign-in for this state, removed so that it works once (even on failure)."""
    row = await db.get(SSOLoginState, _sha256(state))
    if row is None:
        return None
    taken = await db.execute(
        delete(SSOLoginState)
        .where(SSOLoginState.state_hash == row.state_hash)
        .execution_options(synchronize_session=False)
    )
    await db.commit()
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None  # a concurrent answer with the same state got it
    return row if row.expires_at > utcnow() else None


def _binding_matches(row: SSOLoginState, verifier: str | None) -> bool:
    # A sign-in the BFF started is finished only with the secret of the browser that started
    # it; and the BFF, which always sends one, never finishes a sign-in started without one
    # (someone else's, planted in the victim's browser).
    if row.binding_hash is None:
        return verifier is None
    return verifier is not None and hmac.compare_digest(_sha256(verifier), row.binding_hash)


async def _failed(
    db: AsyncSession,
    error: SSOError,
    *,
    provider: str | None,
    source: AuditSource,
    claims: dict[str, Any] | None = None,
    user_id: int | None = None,
    action: str = "sso.login",
) -> SSOError:
    email = claims.get("email") if claims else None
    await record_event(
        db,
        action=action,
        outcome="failure",
        actor_id=user_id,
        actor_email=email if isinstance(email, str) else None,
        request=source,
        details={"provider": provider, "reason": error.reason},
    )
    await db.commit()
    return error


async def finish(
    db: AsyncSession,
    settings: Settings,
    *,
    state: str,
    code: str | None,
    error: str | None,
    error_description: str | None,
    binding_verifier: str | None,
    source: AuditSource,
    issuer: str | None = None,
) -> CallbackResult:
    row = await _take_state(db, state)
    if row is None or not _binding_matches(row, binding_verifier):
        reason = "unknown_state" if row is None else "browser_mismatch"
        raise await _failed(
            db,
            SSOError(400, EXPIRED_STATE, "sso_invalid_state", reason=reason),
            provider=row.provider if row else None,
            source=source,
        )
    # Plain values: a rollback below expires the row's attributes.
    link_user_id, redirect_to, provider_name = row.link_user_id, row.redirect_to, row.provider
    nonce, code_verifier = row.nonce, row.code_verifier
    action = "sso.link" if link_user_id is not None else "sso.login"
    try:
        provider = get_provider(settings, provider_name)
    except NotFoundError:
        raise await _failed(
            db,
            SSOError(400, EXPIRED_STATE, "sso_invalid_state", reason="provider_removed"),
            provider=provider_name,
            source=source,
            action=action,
        ) from None
    if issuer is not None and issuer != provider.issuer:
        # The answer names another provider than the one this sign-in went to: a mix-up attack
        # (RFC 9207) would send that provider's code here.
        raise await _failed(
            db,
            SSOError(
                400,
                f"The answer did not come from {provider.display_name}; start again",
                "sso_provider_error",
                reason="issuer_mismatch",
            ),
            provider=provider.name,
            source=source,
            action=action,
            user_id=link_user_id,
        )
    if error is not None or code is None:
        raise await _failed(
            db,
            _provider_error(provider, error, error_description),
            provider=provider.name,
            source=source,
            action=action,
            user_id=link_user_id,
        )
    from libkoiki.sso import oidc

    claims: dict[str, Any] | None = None
    try:
        tokens = await oidc.exchange_code(
            provider,
            redirect_uri=settings.sso_callback_url,
            code=code,
            code_verifier=code_verifier,
        )
        claims = await oidc.validate_id_token(
            provider,
            tokens["id_token"],
            nonce=nonce,
            leeway=settings.sso_clock_skew_seconds,
        )
        if link_user_id is not None:
            await _link(db, provider, link_user_id, claims, source)
            return CallbackResult(redirect_to=redirect_to, linked=True, tokens=None)
        pair = await _sign_in(db, settings, provider, claims, source)
        return CallbackResult(redirect_to=redirect_to, linked=False, tokens=pair)
    except SSOError as exc:
        await db.rollback()
        raise await _failed(
            db,
            exc,
            provider=provider.name,
            source=source,
            claims=claims,
            user_id=link_user_id,
            action=action,
        ) from None


def _provider_error(
    provider: OIDCProviderConfig, error: str | None, description: str | None
) -> SSOError:
    if error == "access_denied":
        return SSOError(
            400,
            f"The sign-in at {provider.display_name} was cancelled or refused",
            "sso_access_denied",
            reason="access_denied",
        )
    if error is None:
        return SSOError(400, EXPIRED_STATE, "sso_invalid_state", reason="no_code")
    logger.info("sso_provider_error", provider=provider.name, error=error, detail=description)
    return SSOError(
        400,
        f"{provider.display_name} could not sign you in ({error}); try again or ask your "
        "administrator",
        "sso_provider_error",
        reason=f"provider:{error}",
    )


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
        raise SSOError(
            409,
            "An account with this email already exists: sign in with your password, then link "
            f"{provider.display_name} on your profile page",
            "sso_link_required",
            reason="account_exists",
        )
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
    await record_event(
        db,
        action="sso.provision",
        actor_id=user.id,
        actor_email=user.email,
        target_type="user",
        target_id=str(user.id),
        request=source,
        details={"provider": provider.name},
    )
    return user, identity


async def _link(
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
    await record_event(
        db,
        action="sso.link",
        actor_id=user.id,
        actor_email=user.email,
        target_type="user",
        target_id=str(user.id),
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
    await record_event(
        db,
        action="sso.roles_changed",
        actor_id=user.id,
        actor_email=user.email,
        target_type="user",
        target_id=str(user.id),
        request=source,
        details={
            "provider": provider.name,
            "added": sorted(role.name for role in added),
            "removed": sorted(removed),
        },
    )


# --- linked identities ---------------------------------------------------------------------------


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
    await record_event(
        db,
        action="sso.unlink",
        actor_id=user_id,
        actor_email=email,
        target_type="user",
        target_id=str(user_id),
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
