"""Auth: refresh sessions and tokens, access-token revocations, login attempts, reset tokens.

Revision ID: 0002_auth
Revises: 0001_accounts
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_auth"
down_revision: str | None = "0001_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False, now: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.func.now() if now else None,
        nullable=nullable,
    )


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _timestamp("created_at", now=True),
        _timestamp("last_used_at", now=True),
        _timestamp("expires_at"),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        _timestamp("revoked_at", nullable=True),
        sa.Column("revoked_reason", sa.String(length=32), nullable=True),
        _user_fk("auth_sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
    )
    op.create_index(
        "ix_auth_sessions_user_id_revoked_at", "auth_sessions", ["user_id", "revoked_at"]
    )

    op.create_table(
        "auth_refresh_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        _timestamp("created_at", now=True),
        _timestamp("expires_at"),
        _timestamp("used_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_sessions.id"],
            name=op.f("fk_auth_refresh_tokens_session_id_auth_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_auth_refresh_tokens")),
    )
    op.create_index(
        op.f("ix_auth_refresh_tokens_session_id"), "auth_refresh_tokens", ["session_id"]
    )

    op.create_table(
        "auth_revoked_access_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _timestamp("revoked_at", now=True),
        _timestamp("expires_at"),
        _user_fk("auth_revoked_access_tokens"),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_auth_revoked_access_tokens")),
    )
    op.create_index(
        op.f("ix_auth_revoked_access_tokens_expires_at"),
        "auth_revoked_access_tokens",
        ["expires_at"],
    )
    op.create_index(
        op.f("ix_auth_revoked_access_tokens_user_id"), "auth_revoked_access_tokens", ["user_id"]
    )

    op.create_table(
        "auth_user_token_cutoffs",
        sa.Column("user_id", sa.Integer(), nullable=False),
        _timestamp("not_before"),
        _user_fk("auth_user_token_cutoffs"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_auth_user_token_cutoffs")),
    )

    op.create_table(
        "auth_login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        _timestamp("attempted_at", now=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_login_attempts")),
    )
    op.create_index(
        "ix_auth_login_attempts_email_attempted_at",
        "auth_login_attempts",
        ["email", "attempted_at"],
    )
    op.create_index(
        "ix_auth_login_attempts_ip_attempted_at", "auth_login_attempts", ["ip", "attempted_at"]
    )

    op.create_table(
        "auth_password_reset_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _timestamp("created_at", now=True),
        _timestamp("expires_at"),
        _timestamp("used_at", nullable=True),
        _user_fk("auth_password_reset_tokens"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_auth_password_reset_tokens")),
    )
    op.create_index(
        op.f("ix_auth_password_reset_tokens_user_id"), "auth_password_reset_tokens", ["user_id"]
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_auth_password_reset_tokens_user_id"), table_name="auth_password_reset_tokens"
    )
    op.drop_table("auth_password_reset_tokens")
    op.drop_index("ix_auth_login_attempts_ip_attempted_at", table_name="auth_login_attempts")
    op.drop_index("ix_auth_login_attempts_email_attempted_at", table_name="auth_login_attempts")
    op.drop_table("auth_login_attempts")
    op.drop_table("auth_user_token_cutoffs")
    op.drop_index(
        op.f("ix_auth_revoked_access_tokens_user_id"), table_name="auth_revoked_access_tokens"
    )
    op.drop_index(
        op.f("ix_auth_revoked_access_tokens_expires_at"), table_name="auth_revoked_access_tokens"
    )
    op.drop_table("auth_revoked_access_tokens")
    op.drop_index(op.f("ix_auth_refresh_tokens_session_id"), table_name="auth_refresh_tokens")
    op.drop_table("auth_refresh_tokens")
    op.drop_index("ix_auth_sessions_user_id_revoked_at", table_name="auth_sessions")
    op.drop_table("auth_sessions")
