"""Single-use mailed tokens (password reset, email verification): issue, look up, claim.

Only the SHA-256 of a token is stored. A new token supersedes the user's unused ones of the same
purpose, so only the latest email works. Claiming is a conditional update, so of two concurrent
uses of one token exactly one succeeds.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.auth.models import PasswordResetToken
from libkoiki.auth.tokens import hash_opaque_token, new_opaque_token
from libkoiki.db import utcnow

Purpose = Literal["password_reset", "email_verification"]


async def issue(db: AsyncSession, *, user_id: int, purpose: Purpose, lifetime: timedelta) -> str:
    """Store a new token (caller commits) and return it in clear, for the email only."""
    now = utcnow()
    await db.execute(
        update(PasswordResetToken)
        .where(
            PasswordResetToken.user_id == user_id,
            PasswordResetToken.purpose == purpose,
            PasswordResetToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token = new_opaque_token()
    db.add(
        PasswordResetToken(
            token_hash=hash_opaque_token(token),
            user_id=user_id,
            purpose=purpose,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


async def find_usable(db: AsyncSession, token: str, purpose: Purpose) -> PasswordResetToken | None:
    """The token's row if it is unused, unexpired and for this purpose; None otherwise."""
    row = await db.get(PasswordResetToken, hash_opaque_token(token))
    if row is None or row.purpose != purpose or row.used_at is not None:
        return None
    return row if row.expires_at > utcnow() else None


async def claim(db: AsyncSession, token: str) -> bool:
    """Mark the token used; False if a concurrent use got there first. Caller commits."""
    claimed = await db.execute(
        update(PasswordResetToken)
        .where(
            PasswordResetToken.token_hash == hash_opaque_token(token),
            PasswordResetToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]
