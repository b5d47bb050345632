"""Self-registration and proof of the address (email verification).

With `REQUIRE_EMAIL_VERIFICATION` on (the default in staging and production), a new account can
log in only after its owner opened the mailed link, and registration answers the same whether or
not the address is taken: same status, same body, the same password hashing. The owner of a
taken address (or of one it looks like) gets a "someone tried to register" mail instead, so the
endpoint no longer tells who has an account.

With verification off (development, test, or deliberately), registration answers 409
`email_taken` / `email_confusable` as before: nobody has to read mail, and without a proof of the
address there is nothing to protect the answer with (a second registration is refused anyway).

`User.email_verified_at` is the single record of proof, whoever gave it: this flow, an
administrator (PATCH /users/{id}), `ops create-superuser`, or a future SSO sign-in whose identity
provider vouches for the address (it sets the timestamp when it creates or links the account).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libkoiki.accounts.models import User
from libkoiki.accounts.service import (
    create_user,
    find_lookalike,
    get_user,
    get_user_by_email,
    normalize_email,
)
from libkoiki.audit.service import AuditSource, record_event, record_user_event
from libkoiki.auth import onetime
from libkoiki.auth.password_policy import check_password_policy
from libkoiki.auth.passwords import get_password_hasher
from libkoiki.config import Settings
from libkoiki.db import utcnow
from libkoiki.errors import AppError, ConflictError
from libkoiki.mail import MailSender, OutgoingEmail, send_quietly

logger = structlog.get_logger("koiki.auth")

CHECK_YOUR_MAIL = "Check your email: we sent a link to finish the registration."
RESEND_REQUESTED = "If the account exists and is not verified yet, a new link has been sent."


@dataclass(frozen=True, slots=True)
class Registration:
    """What register() did: the new account when verification is off, and a mail to send."""

    user: User | None
    mail: OutgoingEmail | None


def _link(settings: Settings, path: str, token: str) -> str:
    return f"{settings.frontend_url.rstrip('/')}{path}?token={token}"


def verification_email(settings: Settings, to: str, token: str) -> OutgoingEmail:
    hours = settings.email_verification_token_expire_minutes / 60
    return OutgoingEmail(
        to=to,
        subject="Confirm your email address",
        text=(
            "Someone (hopefully you) created an account with this email address.\n\n"
            f"Open this link within {hours:g} hours to confirm it and activate the account:\n"
            f"{_link(settings, '/verify-email', token)}\n\n"
            "The link works once. If you did not register, ignore this email: without the "
            "confirmation nobody can sign in to the account.\n"
        ),
    )


def _attempt_notice(settings: Settings, to: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject="Someone tried to register with your email address",
        text=(
            "Someone tried to create a new account with your email address (or one that looks "
            "like it). You already have an account, so nothing was created.\n\n"
            "If this was you, sign in instead, or reset your password at "
            f"{settings.frontend_url.rstrip('/')}/reset-password.\n"
            "If it was not you, you can ignore this email: your account is unchanged.\n"
        ),
    )


async def _issue_verification(db: AsyncSession, settings: Settings, user: User) -> OutgoingEmail:
    token = await onetime.issue(
        db,
        user_id=user.id,
        purpose="email_verification",
        lifetime=timedelta(minutes=settings.email_verification_token_expire_minutes),
    )
    return verification_email(settings, user.email, token)


async def register(
    db: AsyncSession,
    settings: Settings,
    *,
    email: str,
    password: str,
    full_name: str | None,
    source: AuditSource,
) -> Registration:
    verify = settings.email_verification_on
    await check_password_policy(settings, password, email=email, field="password")
    # Hashed before the address is looked at: a taken address costs the same work as a new one.
    password_hash = await get_password_hasher(settings).hash(password)
    try:
        user = await create_user(db, email=email, password_hash=password_hash, full_name=full_name)
    except ConflictError as conflict:
        if not verify:
            raise
        return await _taken(db, settings, email=email, code=conflict.code, source=source)
    await record_user_event(
        db,
        action="user.create",
        user_id=user.id,
        email=user.email,
        request=source,
        details={"via": "register", "email_verification": verify},
    )
    mail = await _issue_verification(db, settings, user) if verify else None
    await db.commit()
    return Registration(user=None if verify else user, mail=mail)


async def _taken(
    db: AsyncSession, settings: Settings, *, email: str, code: str | None, source: AuditSource
) -> Registration:
    owner = await find_lookalike(db, email)
    await record_event(
        db,
        action="auth.register_taken",
        outcome="failure",
        actor_email=normalize_email(email),
        target_type="user",
        target_id=str(owner.id) if owner else None,
        request=source,
        details={"reason": code},
    )
    await db.commit()
    return Registration(user=None, mail=_attempt_notice(settings, owner.email) if owner else None)


async def resend_verification(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    sender: MailSender,
    *,
    email: str,
    source: AuditSource,
) -> None:
    """Runs after the response (like a reset request), so the answer is the same for anyone."""
    if not settings.email_verification_on:
        return
    email = normalize_email(email)
    try:
        async with sessionmaker() as db:
            user = await _unverified_user(db, email)
            if user is None:
                logger.info("email_verification_resend_no_account")
                return
            mail = await _issue_verification(db, settings, user)
            await record_user_event(
                db,
                action="auth.email_verification",
                user_id=user.id,
                email=user.email,
                request=source,
                details={"stage": "resent"},
            )
            await db.commit()
    except SQLAlchemyError as exc:
        logger.error("email_verification_resend_failed", error=type(exc).__name__)
        return
    await send_quietly(sender, mail)


async def _unverified_user(db: AsyncSession, email: str) -> User | None:
    user = await get_user_by_email(db, email)
    if user is None or not user.is_active or user.email_verified_at is not None:
        return None
    return user


async def confirm_email(db: AsyncSession, *, token: str, source: AuditSource) -> None:
    invalid = AppError(400, "Invalid or expired verification link", "invalid_verification_token")
    row = await onetime.find_usable(db, token, "email_verification")
    user = await get_user(db, row.user_id) if row is not None else None
    if user is None or not user.is_active or not await onetime.claim(db, token):
        raise invalid
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    await record_user_event(
        db,
        action="auth.email_verification",
        user_id=user.id,
        email=user.email,
        request=source,
        details={"stage": "completed"},
    )
    await db.commit()


async def send_after_response(sender: MailSender, mail: OutgoingEmail | None) -> None:
    if mail is not None:
        await send_quietly(sender, mail)
