"""Single sign-on (OpenID Connect).

- `user_identities`: provider accounts (issuer + sub) linked to users.
- `sso_login_states`: sign-ins started and not yet finished (single use, short-lived).
- `users.hashed_password` may be NULL: an account made by SSO has no password.
- `auth_sessions.sso_provider`: the provider a session signed in through.

Revision ID: 0005_sso
Revises: 0004_email_verification
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_sso"
down_revision: str | None = "0004_email_verification"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False, now: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.func.now() if now else None,
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "user_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        _timestamp("created_at", now=True),
        _timestamp("last_login_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_identities")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_user_identities_issuer")),
    )
    op.create_index(op.f("ix_user_identities_user_id"), "user_identities", ["user_id"])
    op.create_table(
        "sso_login_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_to", sa.String(length=512), nullable=False),
        sa.Column("binding_hash", sa.String(length=64), nullable=True),
        sa.Column("link_user_id", sa.Integer(), nullable=True),
        _timestamp("created_at", now=True),
        _timestamp("expires_at"),
        sa.ForeignKeyConstraint(
            ["link_user_id"],
            ["users.id"],
            name=op.f("fk_sso_login_states_link_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_sso_login_states")),
    )
    op.create_index(op.f("ix_sso_login_states_expires_at"), "sso_login_states", ["expires_at"])
    with op.batch_alter_table("users") as batch:
        batch.alter_column("hashed_password", existing_type=sa.String(255), nullable=True)
    op.add_column("auth_sessions", sa.Column("sso_provider", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # Accounts without a password cannot exist before this revision: they go, with their data.
    op.execute("DELETE FROM users WHERE hashed_password IS NULL")
    with op.batch_alter_table("auth_sessions") as batch:
        batch.drop_column("sso_provider")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("hashed_password", existing_type=sa.String(255), nullable=False)
    op.drop_index(op.f("ix_sso_login_states_expires_at"), table_name="sso_login_states")
    op.drop_table("sso_login_states")
    op.drop_index(op.f("ix_user_identities_user_id"), table_name="user_identities")
    op.drop_table("user_identities")
