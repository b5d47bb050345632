"""Email verification and confusable-address uniqueness.

- `users.email_verified_at`: when the address was proven. Every existing account is set to its
  creation time, so an upgrade that turns verification on locks nobody out.
- `users.email_skeleton`: SHA-256 of the address's TS #39 skeleton, under a unique index. Existing
  addresses are re-normalised (NFKC, case fold) where that collides with nothing; of existing
  look-alikes the oldest account gets the skeleton and the others keep NULL (a unique index allows
  several), so the upgrade never fails on old data and a new look-alike of any of them is refused.
- `auth_password_reset_tokens.purpose`: the table now also holds verification links.

The skeleton is computed with the application's own function: the stored values must equal what
the running code computes, or the unique index would compare two different things.

Revision ID: 0004_email_verification
Revises: 0003_todos
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libkoiki.accounts.emails import email_skeleton_key, normalize_email

revision: str = "0004_email_verification"
down_revision: str | None = "0003_todos"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

users = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("email", sa.String()),
    sa.column("email_skeleton", sa.String()),
)


def _fill_skeletons() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.email).order_by(users.c.id)).all()
    emails = {email for _, email in rows}
    seen: set[str] = set()
    for user_id, email in rows:
        normalized = normalize_email(email)
        if normalized != email and normalized not in emails:
            emails.add(normalized)
            emails.discard(email)
            email = normalized
        key = email_skeleton_key(email)
        values = {"email": email, "email_skeleton": None if key in seen else key}
        seen.add(key)
        connection.execute(sa.update(users).where(users.c.id == user_id).values(**values))


def upgrade() -> None:
    op.add_column("users", sa.Column("email_skeleton", sa.String(64), nullable=True))
    op.add_column(
        "users", sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE users SET email_verified_at = created_at")
    _fill_skeletons()
    op.create_index("ix_users_email_skeleton", "users", ["email_skeleton"], unique=True)
    op.add_column(
        "auth_password_reset_tokens",
        sa.Column("purpose", sa.String(32), server_default="password_reset", nullable=False),
    )


def downgrade() -> None:
    # Unused verification links would become reset links: they go first.
    op.execute("DELETE FROM auth_password_reset_tokens WHERE purpose <> 'password_reset'")
    with op.batch_alter_table("auth_password_reset_tokens") as batch:
        batch.drop_column("purpose")
    op.drop_index("ix_users_email_skeleton", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_verified_at")
        batch.drop_column("email_skeleton")
