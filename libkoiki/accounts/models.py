"""Users and role-based access control: users hold roles, roles hold permissions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, true
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from libkoiki.db import Base, TimestampMixin, UTCDateTime

EMAIL_MAX_LENGTH = 320
ROLE_NAME_MAX_LENGTH = 64
PERMISSION_CODE_MAX_LENGTH = 64

user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    # Looking up "who holds this role" (role deletion, admin filters) needs its own index.
    Column(
        "role_id", Integer, ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)

role_permissions = Table(
    "role_permissions",
    Base.metadata,
    Column("role_id", Integer, ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "permission_id",
        Integer,
        ForeignKey("permissions.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Permission(Base):
    __tablename__ = "permissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(PERMISSION_CODE_MAX_LENGTH), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))

    def __repr__(self) -> str:
        return f"Permission({self.code!r})"


class Role(TimestampMixin, Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(ROLE_NAME_MAX_LENGTH), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))
    # Built-in roles are seeded by the migration and referenced by code ("user" for new accounts).
    is_builtin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    permissions: Mapped[list[Permission]] = relationship(
        secondary=role_permissions, lazy="selectin", order_by=Permission.code
    )

    @property
    def permission_codes(self) -> list[str]:
        return sorted(permission.code for permission in self.permissions)

    def __repr__(self) -> str:
        return f"Role({self.name!r})"


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised (NFKC, case-folded) by the service, so the unique constraint is
    # case-insensitive in effect.
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH), unique=True)
    # SHA-256 of the address's confusable skeleton (libkoiki.accounts.emails; hashed because a
    # skeleton can be longer than the address): unique, so no second account can look like this
    # one. NULL only for look-alikes that existed before the column did.
    email_skeleton: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    # When someone proved they read this address: the verification link, an administrator, or
    # an identity provider that vouches for it (SSO sets it at sign-in). NULL: not proven.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # NULL: the account signs in only through single sign-on (libkoiki.sso) and has no password.
    hashed_password: Mapped[str | None] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    roles: Mapped[list[Role]] = relationship(
        secondary=user_roles, lazy="selectin", order_by=Role.name
    )

    @property
    def role_names(self) -> list[str]:
        return sorted(role.name for role in self.roles)

    @property
    def permission_codes(self) -> set[str]:
        return {permission.code for role in self.roles for permission in role.permissions}

    def has_permission(self, code: str) -> bool:
        return self.is_superuser or code in self.permission_codes

    def __repr__(self) -> str:
        # No email or hash: reprs end up in logs and tracebacks.
        return f"User(id={self.id!r})"
