"""SSO state in the database, so that every replica sees the same thing.

- `UserIdentity`: an account at an identity provider (issuer + `sub`) linked to one of our users.
  Accounts are found by this link, never by email.
- `SSOLoginState`: a started sign-in, by SHA-256 of its `state`; deleted when the provider's
  answer comes back, so a state (and the code that came with it) works once.
- `SSOPendingLink`: a provider account whose verified email is an existing password account's,
  waiting (minutes, once) for that account's password to link them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from libkoiki.db import Base, UTCDateTime, utcnow

PROVIDER_NAME_LENGTH = 32


class UserIdentity(Base):
    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The configured name, for display; the link itself is issuer + subject (a renamed entry
    # keeps its users).
    provider: Mapped[str] = mapped_column(String(PROVIDER_NAME_LENGTH))
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    # The address the provider gave at the last sign-in, shown on the profile.
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SSOLoginState(Base):
    __tablename__ = "sso_login_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(PROVIDER_NAME_LENGTH))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_to: Mapped[str] = mapped_column(String(512))
    # SHA-256 of a secret the BFF keeps in the browser's cookie: the answer is accepted only
    # from the browser that started the sign-in.
    binding_hash: Mapped[str | None] = mapped_column(String(64))
    # Set when a signed-in user links a provider account instead of signing in.
    link_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SSOPendingLink(Base):
    __tablename__ = "sso_pending_links"

    # SHA-256 of the token the 409 handed to the BFF: a database reader cannot use it.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(PROVIDER_NAME_LENGTH))
    issuer: Mapped[str] = mapped_column(String(255))
    # The validated claims (sub, email, groups...) the link applies, as a sign-in would.
    claims: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The same browser binding as the sign-in it came from.
    binding_hash: Mapped[str] = mapped_column(String(64))
    redirect_to: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
