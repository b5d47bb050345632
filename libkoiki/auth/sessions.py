"""Refresh sessions, rotation with reuse detection, and access-token revocation.

A session is one login. Each refresh hands out a new refresh token in the same session and
marks the presented one used; a used token presented again means two parties hold it (one of
them a thief), so the whole session is ended.

Revocation is checked in the same query that loads the user for every authenticated request
(`load_token_user`): an access token is refused when its session was ended, its `jti` is on the
deny-list, or it was issued before the user's cutoff. PostgreSQL is the only copy of that state,
so a revoked token is refused on every replica at once. Each revocation also deletes the user's
security stamps once committed, which ends whatever principals replicas remember for them
(libkoiki.auth.principals).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.dml import Insert

from libkoiki.accounts.models import Role, User
from libkoiki.audit.service import AuditSource
from libkoiki.auth.models import (
    IP_MAX_LENGTH,
    USER_AGENT_MAX_LENGTH,
    AuthSession,
    RefreshToken,
    RevokedAccessToken,
    UserTokenCutoff,
)
from libkoiki.auth.principals import principal_changed
from libkoiki.auth.tokens import AccessClaims, hash_opaque_token, new_opaque_token
from libkoiki.config import Settings
from libkoiki.db import utcnow


class InvalidRefreshTokenError(Exception):
    """Unknown, expired, or belonging to an ended session."""


class TokenRevokedError(Exception):
    """The access token was valid once but has been revoked."""


class RefreshTokenReuseError(Exception):
    """A refresh token that was already rotated came back: its session has been ended."""

    def __init__(self, user_id: int, session_id: str) -> None:
        super().__init__("refresh token reuse")
        self.user_id = user_id
        self.session_id = session_id


def _upsert(db: AsyncSession, model: Any) -> Any:
    # Both dialects we support have INSERT ... ON CONFLICT; SQLAlchemy exposes it per dialect.
    if db.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    # Imported here: a server on PostgreSQL never loads the SQLite dialect (0.7 MB per worker).
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(model)


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


def _refresh_token_row(
    settings: Settings, session_id: str, now: datetime
) -> tuple[dict[str, Any], str]:
    """A new refresh token's row and the token itself (shown once; only its hash is stored)."""
    token = new_opaque_token()
    row = {
        "token_hash": hash_opaque_token(token),
        "session_id": session_id,
        "created_at": now,
        "expires_at": now + timedelta(days=settings.refresh_token_expire_days),
    }
    return row, token


def _add_refresh_token(db: AsyncSession, settings: Settings, auth_session: AuthSession) -> str:
    row, token = _refresh_token_row(settings, auth_session.id, utcnow())
    db.add(RefreshToken(**row))
    auth_session.expires_at = row["expires_at"]
    return token


def new_session_rows(
    settings: Settings, *, user_id: int, client: AuditSource
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A new session's row, its first refresh token's row, and that token (shown only once)."""
    now = utcnow()
    session_id = str(uuid.uuid4())
    token_row, token = _refresh_token_row(settings, session_id, now)
    session_row = {
        "id": session_id,
        "user_id": user_id,
        "created_at": now,
        "last_used_at": now,
        "expires_at": token_row["expires_at"],
        "user_agent": _clip(client.user_agent, USER_AGENT_MAX_LENGTH),
        "ip": _clip(client.ip, IP_MAX_LENGTH),
    }
    return session_row, token_row, token


async def create_session(
    db: AsyncSession, settings: Settings, *, user_id: int, client: AuditSource
) -> tuple[AuthSession, str]:
    """Start a session; returns it and its first refresh token. Caller commits."""
    session_row, token_row, token = new_session_rows(settings, user_id=user_id, client=client)
    auth_session = AuthSession(**session_row)
    db.add(auth_session)
    db.add(RefreshToken(**token_row))
    await db.flush()
    return auth_session, token


async def rotate_refresh_token(
    db: AsyncSession, settings: Settings, presented: str, *, client: AuditSource
) -> tuple[AuthSession, str]:
    """Exchange a refresh token for a new one in the same session. Caller commits.

    Raises RefreshTokenReuseError (after ending the session; the caller must still commit) or
    InvalidRefreshTokenError.
    """
    token_hash = hash_opaque_token(presented)
    row = (
        await db.execute(
            select(RefreshToken, AuthSession)
            .join(AuthSession, AuthSession.id == RefreshToken.session_id)
            .where(RefreshToken.token_hash == token_hash)
        )
    ).one_or_none()
    if row is None:
        raise InvalidRefreshTokenError
    refresh_token, auth_session = row
    now = utcnow()
    if refresh_token.used_at is not None:
        await end_session(db, auth_session, reason="refresh_reuse")
        raise RefreshTokenReuseError(auth_session.user_id, auth_session.id)
    if auth_session.revoked_at is not None or refresh_token.expires_at <= now:
        raise InvalidRefreshTokenError
    # The conditional update lets exactly one of two concurrent refreshes with the same token
    # win; the loser is a reuse, as if it had come later.
    claimed = await db.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await end_session(db, auth_session, reason="refresh_reuse")
        raise RefreshTokenReuseError(auth_session.user_id, auth_session.id)
    auth_session.last_used_at = now
    auth_session.ip = _clip(client.ip, IP_MAX_LENGTH) or auth_session.ip
    auth_session.user_agent = (
        _clip(client.user_agent, USER_AGENT_MAX_LENGTH) or auth_session.user_agent
    )
    token = _add_refresh_token(db, settings, auth_session)
    await db.flush()
    return auth_session, token


async def find_session_by_refresh_token(db: AsyncSession, presented: str) -> AuthSession | None:
    return await db.scalar(
        select(AuthSession)
        .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
        .where(RefreshToken.token_hash == hash_opaque_token(presented))
    )


async def get_user_session(db: AsyncSession, user_id: int, session_id: str) -> AuthSession | None:
    return await db.scalar(
        select(AuthSession).where(AuthSession.id == session_id, AuthSession.user_id == user_id)
    )


async def end_session(db: AsyncSession, auth_session: AuthSession, *, reason: str) -> None:
    """End one session: its refresh tokens and the access tokens issued in it stop working."""
    if auth_session.revoked_at is None:
        auth_session.revoked_at = utcnow()
        auth_session.revoked_reason = reason
        principal_changed(db, auth_session.user_id)
    await db.flush()


async def list_active_sessions(db: AsyncSession, user_id: int) -> list[AuthSession]:
    rows = await db.scalars(
        select(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > utcnow(),
        )
        .order_by(AuthSession.last_used_at.desc())
    )
    return list(rows)


async def revoke_all_sessions(
    db: AsyncSession, user_id: int, *, reason: str, keep_session_id: str | None = None
) -> None:
    """End every session of the user. Caller commits.

    Without `keep_session_id`, every access token issued until now is refused as well (the
    per-user cutoff). With it (password change: the caller stays signed in) the other sessions
    end and with them their access tokens, through the session check.
    """
    now = utcnow()
    principal_changed(db, user_id)
    condition = and_(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if keep_session_id is not None:
        condition = and_(condition, AuthSession.id != keep_session_id)
    await db.execute(
        update(AuthSession).where(condition).values(revoked_at=now, revoked_reason=reason)
    )
    if keep_session_id is None:
        statement: Insert = _upsert(db, UserTokenCutoff).values(user_id=user_id, not_before=now)
        await db.execute(
            statement.on_conflict_do_update(  # type: ignore[attr-defined]
                index_elements=[UserTokenCutoff.user_id], set_={"not_before": now}
            )
        )


async def deny_access_token(db: AsyncSession, claims: AccessClaims) -> None:
    """Put one access token on the deny-list until it expires. Caller commits."""
    now = utcnow()
    principal_changed(db, claims.user_id)
    # Rows of expired tokens are removed by `purge_expired_auth_state`, not on every logout.
    statement: Insert = _upsert(db, RevokedAccessToken).values(
        jti=claims.jti,
        user_id=claims.user_id,
        revoked_at=now,
        expires_at=datetime.fromtimestamp(claims.expires_at, UTC),
    )
    await db.execute(statement.on_conflict_do_nothing())  # type: ignore[attr-defined]


# Built once: constructing the statement cost more CPU than running it. The token's values are
# bound per call.
_TOKEN_USER = (
    select(
        User,
        AuthSession.revoked_at,
        AuthSession.id,
        RevokedAccessToken.jti,
        UserTokenCutoff.not_before,
    )
    .outerjoin(
        AuthSession,
        and_(AuthSession.id == bindparam("session_id"), AuthSession.user_id == User.id),
    )
    .outerjoin(RevokedAccessToken, RevokedAccessToken.jti == bindparam("jti"))
    .outerjoin(UserTokenCutoff, UserTokenCutoff.user_id == User.id)
    .where(User.id == bindparam("user_id"))
    .options(joinedload(User.roles).joinedload(Role.permissions))
)


async def load_token_user(db: AsyncSession, claims: AccessClaims) -> User | None:
    """The token's user (None if the account is gone); TokenRevokedError if it was revoked.

    One query, roles and permissions included (joined instead of the models' selectin loads,
    which would cost two more round trips on every authenticated request).
    """
    values = {"session_id": claims.session_id, "jti": claims.jti, "user_id": claims.user_id}
    # Joined collections repeat the user's row once per role and permission.
    row = (await db.execute(_TOKEN_USER, values)).unique().one_or_none()
    if row is None:
        return None
    user, session_revoked_at, session_id, denied_jti, not_before = row
    if session_id is None or session_revoked_at is not None or denied_jti is not None:
        raise TokenRevokedError
    if not_before is not None and claims.issued_at < not_before.timestamp():
        raise TokenRevokedError
    return user
