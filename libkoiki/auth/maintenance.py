"""Removal of authentication rows that can no longer affect any decision.

Meant for a periodic job (cron, a Kubernetes CronJob, `koiki-ops`); nothing breaks if it never
runs, the tables only grow. Each rule keeps a row for as long as it can still matter:
- a session until the last access token issued in it has expired (its `sid` check needs it);
- a refresh token until its own expiry (reuse detection needs the used ones);
- a reset token, a denied `jti` and a failed login until they expire or leave the window;
- a single sign-on started and never finished (libkoiki.sso) until it expires.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.auth.models import (
    AuthSession,
    LoginAttempt,
    PasswordResetToken,
    RefreshToken,
    RevokedAccessToken,
)
from libkoiki.config import Settings
from libkoiki.db import utcnow
from libkoiki.sso.models import SSOLoginState, SSOPendingLink


async def purge_expired_auth_state(
    db: AsyncSession, settings: Settings, *, now: datetime | None = None
) -> dict[str, int]:
    """Delete what has expired and commit; returns the number of rows removed per table."""
    now = now or utcnow()
    access_lifetime = timedelta(minutes=settings.access_token_expire_minutes)
    statements = {
        "auth_refresh_tokens": delete(RefreshToken).where(RefreshToken.expires_at < now),
        "auth_sessions": delete(AuthSession).where(AuthSession.expires_at < now - access_lifetime),
        "auth_password_reset_tokens": delete(PasswordResetToken).where(
            PasswordResetToken.expires_at < now
        ),
        "auth_revoked_access_tokens": delete(RevokedAccessToken).where(
            RevokedAccessToken.expires_at < now
        ),
        "auth_login_attempts": delete(LoginAttempt).where(
            LoginAttempt.attempted_at
            < now - timedelta(minutes=settings.login_failure_window_minutes)
        ),
        "sso_login_states": delete(SSOLoginState).where(SSOLoginState.expires_at < now),
        "sso_pending_links": delete(SSOPendingLink).where(SSOPendingLink.expires_at < now),
    }
    removed = {}
    for table, statement in statements.items():
        result = await db.execute(statement.execution_options(synchronize_session=False))
        removed[table] = int(result.rowcount)  # type: ignore[attr-defined]
    await db.commit()
    return removed
