"""Authentication flows: register, login, refresh, logout, password change and reset, sessions.

Each flow is one transaction that commits its change together with its audit event. Failures
that must leave a trace (a wrong password, a reused refresh token) commit the trace before
raising.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import structlog
from sqlalchemy import BindParameter, bindparam, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import Insert

from libkoiki.accounts.models import EMAIL_MAX_LENGTH, User
from libkoiki.accounts.service import get_user, get_user_by_email, normalize_email
from libkoiki.audit.models import AuditEvent
from libkoiki.audit.service import AuditSource, event_values, record_event, record_user_event
from libkoiki.auth import lockout, metrics, onetime
from libkoiki.auth.dependencies import Authenticated, unauthorized
from libkoiki.auth.models import AuthSession, LoginAttempt, RefreshToken
from libkoiki.auth.password_policy import check_password_policy
from libkoiki.auth.passwords import get_password_hasher
from libkoiki.auth.schemas import SessionRead, TokenPair
from libkoiki.auth.sessions import (
    InvalidRefreshTokenError,
    RefreshTokenReuseError,
    deny_access_token,
    end_session,
    find_session_by_refresh_token,
    get_user_session,
    list_active_sessions,
    new_session_rows,
    revoke_all_sessions,
    rotate_refresh_token,
)
from libkoiki.auth.tokens import create_access_token
from libkoiki.config import Settings
from libkoiki.db.session import autocommit_until_commit, run_core
from libkoiki.errors import AppError, NotFoundError
from libkoiki.mail import MailSender, OutgoingEmail, send_quietly

logger = structlog.get_logger("koiki.auth")

INVALID_CREDENTIALS = "Incorrect email or password"
SSO_ONLY_MESSAGE = (
    "This account signs in with single sign-on and has no password: use your organisation's "
    "sign-in button"
)
RESET_REQUESTED = "If the account exists, a reset link has been sent."


def _token_pair(settings: Settings, user_id: int, session_id: str, refresh_token: str) -> TokenPair:
    access = create_access_token(settings, user_id=user_id, session_id=session_id)
    return TokenPair(
        access_token=access.token,
        refresh_token=refresh_token,
        expires_in=settings.access_token_expire_minutes * 60,
    )


# --- login ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Account:
    """What a login reads of the account: its columns, not an ORM object (nor its roles)."""

    id: int
    email: str
    hashed_password: str | None
    is_active: bool
    email_verified_at: datetime | None


_LOGIN_ACCOUNT = select(
    User.id, User.email, User.hashed_password, User.is_active, User.email_verified_at
).where(User.email == bindparam("email"))
# Only over the hash the password was checked against: a password changed or reset while this
# login waited for the hasher must not be overwritten by a rehash of the old one.
_REHASH = (
    update(User)
    .where(User.id == bindparam("user_id"), User.hashed_password == bindparam("checked_hash"))
    .values(hashed_password=bindparam("hashed_password"))
)


async def login(
    db: AsyncSession, settings: Settings, *, email: str, password: str, source: AuditSource
) -> TokenPair:
    email = normalize_email(email)
    if len(email) > EMAIL_MAX_LENGTH or "\x00" in email:
        # No account can have this name; it is not worth a row (or storable at all).
        await get_password_hasher(settings).burn(password)
        raise unauthorized(INVALID_CREDENTIALS, "invalid_credentials")
    # Up to the hash, each statement commits on its own: the attempt is counted by its INSERT
    # alone, and the reads need no transaction (two BEGIN/COMMIT pairs fewer per login).
    await autocommit_until_commit(db)
    retry_after = await lockout.retry_after_seconds(db, settings, email=email, ip=source.ip)
    if retry_after is None and not await lockout.claim_attempt(
        db, settings, email=email, ip=source.ip
    ):
        # Parallel attempts filled the budget while this one waited.
        retry_after = await lockout.retry_after_seconds(db, settings, email=email, ip=source.ip)
        retry_after = retry_after or 1
    if retry_after is not None:
        await record_event(
            db,
            action="auth.login",
            outcome="failure",
            actor_email=email,
            request=source,
            details={"reason": "locked", "retry_after": retry_after},
        )
        await db.commit()
        metrics.LOGINS.labels(outcome="locked").inc()
        raise AppError(
            429,
            "Too many failed logins; try again later",
            "login_locked",
            {"Retry-After": str(retry_after)},
        )

    hasher = get_password_hasher(settings)
    row = (await run_core(db, _LOGIN_ACCOUNT, {"email": email})).one_or_none()
    user = None if row is None else _Account(*row)
    # The connection goes back to the pool while the password is hashed: logins queued for the
    # hasher in a flood hold none, and the API's requests still get theirs.
    await db.commit()
    new_hash: str | None = None
    if user is None:
        # The same work as a real check, so response time does not reveal unknown accounts.
        await hasher.burn(password)
        reason = "unknown_email"
    elif user.hashed_password is None:
        await hasher.burn(password)
        reason = "no_password"
    else:
        matches, new_hash = await hasher.verify(password, user.hashed_password)
        reason = "inactive" if matches and not user.is_active else "bad_password"
        if matches and user.is_active:
            reason = ""

    if reason == "no_password":
        # Said plainly, as the SSO issue asks: the address's owner must learn where to go. It
        # tells a guesser that the account exists and uses SSO, no more than registration does.
        await _login_failed(db, settings, email=email, user=user, reason=reason, source=source)
        raise unauthorized(SSO_ONLY_MESSAGE, "sso_only_account")
    if reason:
        await _login_failed(db, settings, email=email, user=user, reason=reason, source=source)
        raise unauthorized(INVALID_CREDENTIALS, "invalid_credentials")

    assert user is not None
    if settings.email_verification_on and user.email_verified_at is None:
        # Told only to whoever knows the password: the address is not revealed to guessers.
        await lockout.clear_failures(db, email=email)
        await _login_refused_unverified(db, user, source)
    if new_hash is not None:
        # In the transaction the login's writes then join: both or neither.
        rehashed = await run_core(
            db,
            _REHASH,
            {"user_id": user.id, "checked_hash": user.hashed_password, "hashed_password": new_hash},
        )
        if rehashed.rowcount:
            logger.info("password_rehashed", user_id=user.id)
    session_id, refresh_token = await _start_session(
        db, settings, email=email, user=user, source=source
    )
    metrics.LOGINS.labels(outcome="success").inc()
    return _token_pair(settings, user.id, session_id, refresh_token)


@lru_cache(maxsize=2)
def _login_writes(
    session_columns: tuple[str, ...], token_columns: tuple[str, ...], event_columns: tuple[str, ...]
) -> Insert:
    """Clear the account's failed attempts, open the session with its first refresh token and
    record the login, in one statement: a PostgreSQL statement's data-modifying CTEs all happen,
    or none does. Values are bound by column, prefixed per table (`a_`, `s_`, `t_`, `e_`); each
    bound value takes its column's type. Built once: its SQL is compiled once too."""

    def bound(prefix: str, columns: Iterable[str]) -> dict[str, BindParameter[Any]]:
        return {name: bindparam(prefix + name) for name in columns}

    cleared = delete(LoginAttempt).where(LoginAttempt.email == bindparam("a_email"))
    opened = insert(AuthSession).values(bound("s_", session_columns))
    first_token = insert(RefreshToken).values(bound("t_", token_columns))
    return (
        insert(AuditEvent)
        .values(bound("e_", event_columns))
        .add_cte(cleared.cte("cleared"))
        .add_cte(opened.cte("opened"))
        .add_cte(first_token.cte("first_token"))
    )


async def _start_session(
    db: AsyncSession, settings: Settings, *, email: str, user: _Account, source: AuditSource
) -> tuple[str, str]:
    """What a successful login writes, committed: the account's failed attempts cleared, a new
    session with its first refresh token, the audit event. Returns the session's id and token.

    On PostgreSQL that is one statement in autocommit: one round trip instead of six (with BEGIN
    and COMMIT), and a third of the event loop's work per login gone (`bench.instructions
    login`); in the transaction of a rehashed password's UPDATE, part of it. Elsewhere the ORM
    writes it."""
    session_row, token_row, refresh_token = new_session_rows(
        settings, user_id=user.id, client=source
    )
    event = event_values(
        action="auth.login",
        actor_id=user.id,
        actor_email=user.email,
        target_type="session",
        target_id=session_row["id"],
        request=source,
    )
    event["occurred_at"] = session_row["created_at"]
    if db.get_bind().dialect.name == "postgresql":
        await autocommit_until_commit(db)
        values = {"a_email": email[:EMAIL_MAX_LENGTH]}
        for prefix, row in (("s_", session_row), ("t_", token_row), ("e_", event)):
            values.update((prefix + name, value) for name, value in row.items())
        statement = _login_writes(tuple(session_row), tuple(token_row), tuple(event))
        await run_core(db, statement, values)
    else:
        await lockout.clear_failures(db, email=email)
        db.add_all((AuthSession(**session_row), RefreshToken(**token_row), AuditEvent(**event)))
    await db.commit()
    return session_row["id"], refresh_token


async def _login_refused_unverified(db: AsyncSession, user: _Account, source: AuditSource) -> None:
    await record_event(
        db,
        action="auth.login",
        outcome="failure",
        actor_id=user.id,
        actor_email=user.email,
        request=source,
        details={"reason": "email_not_verified"},
    )
    await db.commit()
    metrics.LOGINS.labels(outcome="email_not_verified").inc()
    raise AppError(
        403,
        "Confirm your email address first: open the link we sent you, or ask for a new one",
        "email_not_verified",
    )


async def _login_failed(
    db: AsyncSession,
    settings: Settings,
    *,
    email: str,
    user: _Account | None,
    reason: str,
    source: AuditSource,
) -> None:
    # The attempt was counted before the password was checked (lockout.claim_attempt). The
    # events are written by one INSERT, so they need no transaction around them either.
    await autocommit_until_commit(db)
    await record_event(
        db,
        action="auth.login",
        outcome="failure",
        actor_id=user.id if user else None,
        actor_email=email,
        request=source,
        details={"reason": reason},
    )
    retry_after = await lockout.retry_after_seconds(db, settings, email=email, ip=source.ip)
    if retry_after is not None:
        # This failure is the one that starts the lock.
        await record_event(
            db,
            action="auth.login_locked",
            outcome="failure",
            actor_id=user.id if user else None,
            actor_email=email,
            request=source,
            details={"retry_after": retry_after},
        )
        metrics.LOCKOUTS.inc()
    await db.commit()
    metrics.LOGINS.labels(outcome="invalid_credentials").inc()


# --- tokens and sessions -----------------------------------------------------------------------


async def refresh(
    db: AsyncSession, settings: Settings, *, refresh_token: str, source: AuditSource
) -> TokenPair:
    try:
        auth_session, new_refresh_token = await rotate_refresh_token(
            db, settings, refresh_token, client=source
        )
    except RefreshTokenReuseError as reuse:
        await record_event(
            db,
            action="auth.refresh_reuse",
            outcome="failure",
            actor_id=reuse.user_id,
            target_type="session",
            target_id=reuse.session_id,
            request=source,
        )
        await db.commit()
        metrics.REFRESH_REUSE.inc()
        logger.warning("refresh_token_reuse", user_id=reuse.user_id, sid=reuse.session_id)
        raise unauthorized(
            "Refresh token was already used; the session has been ended", "token_revoked"
        ) from None
    except InvalidRefreshTokenError:
        metrics.TOKEN_REFRESHES.labels(outcome="invalid").inc()
        raise unauthorized("Invalid or expired refresh token", "invalid_token") from None

    user = await get_user(db, auth_session.user_id)
    if user is None or not user.is_active:
        await end_session(db, auth_session, reason="inactive_user")
        await db.commit()
        metrics.TOKEN_REFRESHES.labels(outcome="invalid").inc()
        raise unauthorized("Invalid or expired refresh token", "invalid_token")
    await db.commit()
    metrics.TOKEN_REFRESHES.labels(outcome="success").inc()
    return _token_pair(settings, user.id, auth_session.id, new_refresh_token)


async def logout(
    db: AsyncSession, auth: Authenticated, *, refresh_token: str | None, source: AuditSource
) -> None:
    user, claims = auth.user, auth.claims
    await deny_access_token(db, claims)
    ended = []
    current = await get_user_session(db, user.id, claims.session_id)
    if current is not None:
        await end_session(db, current, reason="logout")
        ended.append(current.id)
    if refresh_token:
        other = await find_session_by_refresh_token(db, refresh_token)
        # Someone else's token is ignored, not revoked: logout must not be a way to end others'
        # sessions by guessing, nor reveal whether a token exists.
        if other is not None and other.user_id == user.id and other.id not in ended:
            await end_session(db, other, reason="logout")
            ended.append(other.id)
    await record_event(
        db,
        action="auth.logout",
        actor_id=user.id,
        actor_email=user.email,
        target_type="session",
        target_id=claims.session_id,
        request=source,
        details={"sessions_ended": len(ended)},
    )
    await db.commit()


async def revoke_all(db: AsyncSession, user: User, *, source: AuditSource) -> None:
    user_id, email = user.id, user.email
    await revoke_all_sessions(db, user_id, reason="revoke_all")
    await record_user_event(
        db, action="auth.revoke_all", user_id=user_id, email=email, request=source
    )
    await db.commit()


async def list_sessions(db: AsyncSession, auth: Authenticated) -> list[SessionRead]:
    sessions = await list_active_sessions(db, auth.user.id)
    return [
        SessionRead.model_validate(item).model_copy(
            update={"current": item.id == auth.claims.session_id}
        )
        for item in sessions
    ]


async def end_user_session(
    db: AsyncSession, auth: Authenticated, session_id: str, *, source: AuditSource
) -> None:
    auth_session: AuthSession | None = await get_user_session(db, auth.user.id, session_id)
    if auth_session is None or auth_session.revoked_at is not None:
        raise NotFoundError("Session")
    await end_session(db, auth_session, reason="user_revoked")
    await record_event(
        db,
        action="auth.session_revoke",
        actor_id=auth.user.id,
        actor_email=auth.user.email,
        target_type="session",
        target_id=session_id,
        request=source,
    )
    await db.commit()


# --- passwords ---------------------------------------------------------------------------------


async def change_password(
    db: AsyncSession,
    settings: Settings,
    auth: Authenticated,
    *,
    current_password: str,
    new_password: str,
    source: AuditSource,
) -> None:
    user = auth.user
    if user.hashed_password is None:
        raise AppError(400, SSO_ONLY_MESSAGE, "sso_only_account")
    # Nothing written yet: the connection waits in the pool, not on the hasher.
    await db.commit()
    hasher = get_password_hasher(settings)
    matches, _ = await hasher.verify(current_password, user.hashed_password)
    if not matches:
        await record_event(
            db,
            action="auth.password_change",
            outcome="failure",
            actor_id=user.id,
            actor_email=user.email,
            request=source,
            details={"reason": "wrong_current_password"},
        )
        await db.commit()
        raise AppError(400, "Current password is incorrect", "invalid_password")
    await check_password_policy(settings, new_password, email=user.email, field="new_password")
    user.hashed_password = await hasher.hash(new_password)
    user_id, email = user.id, user.email
    await revoke_all_sessions(
        db, user_id, reason="password_change", keep_session_id=auth.claims.session_id
    )
    await record_user_event(
        db, action="auth.password_change", user_id=user_id, email=email, request=source
    )
    await db.commit()


def _reset_email(settings: Settings, to: str, token: str) -> OutgoingEmail:
    link = f"{settings.frontend_url.rstrip('/')}/reset-password/confirm?token={token}"
    minutes = settings.password_reset_token_expire_minutes
    return OutgoingEmail(
        to=to,
        subject="Reset your password",
        text=(
            "Someone (hopefully you) asked to reset the password of your account.\n\n"
            f"Open this link within {minutes} minutes to choose a new password:\n{link}\n\n"
            "The link works once. If you did not ask for this, ignore this email: "
            "your password stays as it is.\n"
        ),
    )


def _no_password_email(to: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject="Your account has no password",
        text=(
            "Someone (hopefully you) asked to reset the password of your account.\n\n"
            "Your account signs in with your organisation's single sign-on, so it has no "
            "password to reset: use the sign-in button of your organisation on the login page.\n"
        ),
    )


async def request_password_reset(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    sender: MailSender,
    *,
    email: str,
    source: AuditSource,
) -> None:
    """Runs after the response: look the account up, store a token, send the link.

    Doing the lookup here rather than in the request keeps the response identical, in body and
    in time, whether or not the account exists. Errors are logged, never raised: nobody is
    waiting for them.
    """
    email = normalize_email(email)
    try:
        async with sessionmaker() as db:
            user = await get_user_by_email(db, email)
            if user is None or not user.is_active:
                logger.info("password_reset_no_account")
                return
            if user.hashed_password is None:
                # The owner asked: tell them, by mail only, why no reset link comes.
                to = user.email
                logger.info("password_reset_sso_account", user_id=user.id)
                await send_quietly(sender, _no_password_email(to))
                return
            token = await onetime.issue(
                db,
                user_id=user.id,
                purpose="password_reset",
                lifetime=timedelta(minutes=settings.password_reset_token_expire_minutes),
            )
            # Its own action: a request proves nothing about who holds the mailbox, so it must
            # not read as a completed reset.
            await record_user_event(
                db,
                action="auth.password_reset_requested",
                user_id=user.id,
                email=user.email,
                request=source,
            )
            await db.commit()
            to = user.email
    except SQLAlchemyError as exc:
        logger.error("password_reset_request_failed", error=type(exc).__name__)
        return
    metrics.PASSWORD_RESETS.labels(stage="requested").inc()
    await send_quietly(sender, _reset_email(settings, to, token))


async def confirm_password_reset(
    db: AsyncSession, settings: Settings, *, token: str, new_password: str, source: AuditSource
) -> None:
    invalid = AppError(400, "Invalid or expired reset token", "invalid_reset_token")
    reset = await onetime.find_usable(db, token, "password_reset")
    if reset is None:
        metrics.PASSWORD_RESETS.labels(stage="rejected").inc()
        raise invalid
    user = await get_user(db, reset.user_id)
    if user is None or not user.is_active:
        metrics.PASSWORD_RESETS.labels(stage="rejected").inc()
        raise invalid
    if user.hashed_password is None:
        raise AppError(400, SSO_ONLY_MESSAGE, "sso_only_account")
    # Nothing written yet: the connection waits in the pool, not on the hasher.
    await db.commit()
    # A weak new password is answered before the token is spent, so the link can be retried.
    await check_password_policy(settings, new_password, email=user.email, field="new_password")
    password_hash = await get_password_hasher(settings).hash(new_password)
    if not await onetime.claim(db, token):
        metrics.PASSWORD_RESETS.labels(stage="rejected").inc()
        raise invalid  # a concurrent confirmation with the same token won
    user.hashed_password = password_hash
    user_id, email = user.id, user.email
    await revoke_all_sessions(db, user_id, reason="password_reset")
    # Whoever can read the mailbox owns the account: lift a lockout caused by guessing.
    await lockout.clear_failures(db, email=email)
    await record_user_event(
        db,
        action="auth.password_reset",
        user_id=user_id,
        email=email,
        request=source,
        details={"stage": "completed"},
    )
    await db.commit()
    metrics.PASSWORD_RESETS.labels(stage="completed").inc()
