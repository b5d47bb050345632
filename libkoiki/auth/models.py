"""Authentication state, all of it in the database so every replica sees the same thing.

- `AuthSession`: one login (a refresh-token family). Its id is the `sid` claim of every access
  token issued in it, so ending the session also ends those access tokens.
- `RefreshToken`: each refresh token ever issued in a session, by SHA-256 hash. A used one is kept
  (with `used_at`) so that presenting it again is recognised as theft.
- `RevokedAccessToken`: the `jti` deny-list, rows kept until the token would have expired.
- `UserTokenCutoff`: "access tokens issued before this instant are invalid", per user.
- `LoginAttempt`: failed logins, counted per account and per client IP for the lockout.
- `PasswordResetToken`: single-use mailed tokens (password reset, email verification; see
  `purpose`), by SHA-256 hash. Issued and claimed by libkoiki.auth.onetime.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from libkoiki.db import Base, UTCDateTime, utcnow

TOKEN_HASH_LENGTH = 64
SESSION_ID_LENGTH = 36
IP_MAX_LENGTH = 45
USER_AGENT_MAX_LENGTH = 512
EMAIL_MAX_LENGTH = 320


class AuthSession(Base):
    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user_id_revoked_at", "user_id", "revoked_at"),)

    id: Mapped[str] = mapped_column(String(SESSION_ID_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    last_used_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_MAX_LENGTH))
    ip: Mapped[str | None] = mapped_column(String(IP_MAX_LENGTH))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    # The configured provider this session signed in through (SSO), for its sign-out there.
    sso_provider: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    __tablename__ = "auth_refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RevokedAccessToken(Base):
    __tablename__ = "auth_revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    revoked_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class UserTokenCutoff(Base):
    __tablename__ = "auth_user_token_cutoffs"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())


class LoginAttempt(Base):
    __tablename__ = "auth_login_attempts"
    __table_args__ = (
        Index("ix_auth_login_attempts_email_attempted_at", "email", "attempted_at"),
        Index("ix_auth_login_attempts_ip_attempted_at", "ip", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The submitted name, normalised; not a foreign key, unknown accounts are counted too.
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH))
    ip: Mapped[str] = mapped_column(String(IP_MAX_LENGTH))
    attempted_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )


class PasswordResetToken(Base):
    __tablename__ = "auth_password_reset_tokens"

    token_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # What the link does: a reset token never verifies an address, nor the reverse.
    purpose: Mapped[str] = mapped_column(
        String(32), default="password_reset", server_default="password_reset"
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
