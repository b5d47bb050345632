"""The SSO flow: start a sign-in (or a link), and finish it when the provider answers.

A started sign-in is a database row (state, nonce, PKCE verifier, the browser's binding), taken
once by the answer. Who the answer signs in is libkoiki.sso.accounts' business. Every outcome,
refusals included, leaves an audit event.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.service import get_user
from libkoiki.audit.service import AuditSource, record_event
from libkoiki.auth.sessions import end_session, find_session_by_refresh_token
from libkoiki.config import Settings
from libkoiki.db import utcnow
from libkoiki.errors import AppError, NotFoundError
from libkoiki.sso import accounts
from libkoiki.sso.errors import SSOError
from libkoiki.sso.models import SSOLoginState, SSOPendingLink
from libkoiki.sso.schemas import CallbackResult, ProviderRead
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
    nonce, code_verifier, binding_hash = row.nonce, row.code_verifier, row.binding_hash
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
        claims = await oidc.with_userinfo(provider, claims, tokens)
        if link_user_id is not None:
            await accounts.link(db, provider, link_user_id, claims, source)
            return CallbackResult(redirect_to=redirect_to, linked=True, tokens=None)
        pair = await accounts.sign_in(db, settings, provider, claims, source)
        return CallbackResult(redirect_to=redirect_to, linked=False, tokens=pair)
    except SSOError as exc:
        await db.rollback()
        if isinstance(exc, accounts.LinkRequired) and exc.user_id is not None and claims:
            await _offer_password_link(db, exc, provider, claims, binding_hash, redirect_to)
        raise await _failed(
            db,
            exc,
            provider=provider.name,
            source=source,
            claims=claims,
            user_id=link_user_id,
            action=action,
        ) from None


# --- link with the password once -----------------------------------------------------------------

PENDING_LINK_TTL_SECONDS = 300
EXPIRED_LINK = "This link offer has expired or was already used; sign in with your provider again"


async def _offer_password_link(
    db: AsyncSession,
    error: accounts.LinkRequired,
    provider: OIDCProviderConfig,
    claims: dict[str, Any],
    binding_hash: str | None,
    redirect_to: str,
) -> None:
    """Attach a single-use token to the 409: with the account's password it links this identity.

    Only for a sign-in the BFF bound to a browser: the token is then of use in that browser
    only, like the sign-in it came from. It is added to the session `_failed` commits.
    """
    if binding_hash is None or error.user_id is None:
        return
    from libkoiki.sso import oidc

    token = oidc.new_secret()
    now = utcnow()
    await db.execute(delete(SSOPendingLink).where(SSOPendingLink.expires_at < now))
    db.add(
        SSOPendingLink(
            token_hash=_sha256(token),
            user_id=error.user_id,
            provider=provider.name,
            issuer=provider.issuer,
            claims=claims,
            binding_hash=binding_hash,
            redirect_to=redirect_to,
            created_at=now,
            expires_at=now + timedelta(seconds=PENDING_LINK_TTL_SECONDS),
        )
    )
    error.extra = {
        "link_token": token,
        "provider": provider.display_name,
        "expires_in": PENDING_LINK_TTL_SECONDS,
    }


_PENDING_COLUMNS = (
    "user_id",
    "provider",
    "issuer",
    "claims",
    "redirect_to",
    "binding_hash",
    "expires_at",
)


async def _take_pending_link(db: AsyncSession, token: str) -> dict[str, Any] | None:
    """The offer for this token, removed (by this request only, even when two race)."""
    row = await db.get(SSOPendingLink, _sha256(token))
    if row is None:
        return None
    pending = {column: getattr(row, column) for column in _PENDING_COLUMNS}
    db.expunge(row)
    taken = await db.execute(
        delete(SSOPendingLink)
        .where(SSOPendingLink.token_hash == _sha256(token))
        .execution_options(synchronize_session=False)
    )
    await db.commit()
    return pending if taken.rowcount == 1 else None  # type: ignore[attr-defined]


async def link_with_password(
    db: AsyncSession,
    settings: Settings,
    *,
    token: str,
    password: str,
    binding_verifier: str,
    source: AuditSource,
) -> CallbackResult:
    """Link the pending identity to its account once the account's password is proven, and sign
    in. The token is held while the password is checked (so two requests cannot both use it)
    and given back after a wrong password, which the login lockout counts like any other."""
    from libkoiki.auth import service as auth_service

    pending = await _take_pending_link(db, token)
    reason = None
    if pending is None:
        reason = "unknown_token"
    elif pending["expires_at"] <= utcnow():
        reason = "expired"
    elif not hmac.compare_digest(_sha256(binding_verifier), pending["binding_hash"]):
        reason = "browser_mismatch"
    if pending is None or reason is not None:
        raise await _failed(
            db,
            SSOError(400, EXPIRED_LINK, "sso_link_expired", reason=reason or "unknown_token"),
            provider=pending["provider"] if pending else None,
            source=source,
            action="sso.link",
        )
    user = await get_user(db, pending["user_id"])
    try:
        provider = get_provider(settings, pending["provider"])
    except NotFoundError:
        provider = None
    if user is None or provider is None or provider.issuer != pending["issuer"]:
        raise await _failed(
            db,
            SSOError(400, EXPIRED_LINK, "sso_link_expired", reason="provider_or_user_gone"),
            provider=pending["provider"],
            source=source,
            action="sso.link",
        )
    try:
        # The password login itself: its lockout, its audit event, its session.
        pair = await auth_service.login(
            db, settings, email=user.email, password=password, source=source
        )
    except AppError as exc:
        await db.rollback()
        if exc.code == "invalid_credentials":
            # A typo should not send the user back to the provider: the offer stands.
            db.add(SSOPendingLink(token_hash=_sha256(token), created_at=utcnow(), **pending))
        # The password login's own answer (its Retry-After included), with an sso.link trace.
        await _failed(
            db,
            SSOError(exc.status_code, str(exc.detail), exc.code, reason=exc.code),
            provider=pending["provider"],
            source=source,
            user_id=pending["user_id"],
            action="sso.link",
        )
        raise
    try:
        await accounts.link(db, provider, pending["user_id"], pending["claims"], source)
    except SSOError as exc:
        await db.rollback()
        # The password was right but nothing is linked: the session its login opened is never
        # handed out, so it ends here rather than linger until it expires.
        opened = await find_session_by_refresh_token(db, pair.refresh_token)
        if opened is not None:
            await end_session(db, opened, reason="sso_link_failed")
        raise await _failed(
            db,
            exc,
            provider=provider.name,
            source=source,
            user_id=pending["user_id"],
            action="sso.link",
        ) from None
    return CallbackResult(redirect_to=pending["redirect_to"], linked=True, tokens=pair)


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
