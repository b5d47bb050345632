"""Request and response bodies of the accounts API. No response model carries a password hash."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
)

from libkoiki.accounts.emails import normalize_email
from libkoiki.accounts.models import EMAIL_MAX_LENGTH, User
from libkoiki.fields import NoNul


def _normalize_email(value: object) -> object:
    return normalize_email(value) if isinstance(value, str) else value


# Normalised (NFKC, case-folded) before the syntax check as well as after it: NFKC can turn a
# character into an `@` or a dot, so only the normalised form is checked.
Email = Annotated[
    EmailStr,
    BeforeValidator(_normalize_email),
    Field(max_length=EMAIL_MAX_LENGTH),
    AfterValidator(_normalize_email),
]
FullName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), NoNul
]


def _normalize_name(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


# Normalised before the pattern is checked, so "Auditor " is accepted as "auditor".
RoleName = Annotated[
    str,
    BeforeValidator(_normalize_name),
    StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{1,63}$"),
]
PermissionCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoNul
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255), NoNul]


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True)

    id: int
    email: str
    full_name: str | None
    is_active: bool
    is_superuser: bool
    email_verified_at: datetime | None
    created_at: datetime
    updated_at: datetime
    roles: list[str] = Field(validation_alias="role_names")


class UserMe(UserRead):
    permissions: list[str]
    # The deployment's REQUIRE_EMAIL_VERIFICATION: whether an unconfirmed address matters at all
    # (the admin list marks unconfirmed accounts only then).
    email_verification_required: bool = False
    # False for an account made by single sign-on: it has no password to change or reset.
    has_password: bool = True

    @classmethod
    def from_user(cls, user: User, *, email_verification_required: bool = False) -> UserMe:
        profile = UserRead.model_validate(user).model_dump()
        return cls.model_validate(
            {
                **profile,
                "permissions": sorted(user.permission_codes),
                "email_verification_required": email_verification_required,
                "has_password": user.hashed_password is not None,
            }
        )


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: str = Field(max_length=128)
    full_name: FullName | None = None
    is_active: StrictBool = True
    is_superuser: StrictBool = False
    # An administrator may vouch for the address (they created the account for its owner).
    email_verified: StrictBool = False
    roles: list[RoleName] = Field(default_factory=lambda: ["user"], max_length=50)


class UserUpdate(BaseModel):
    """Administrative update. An omitted (or null) field is left as it is."""

    model_config = ConfigDict(extra="forbid")

    full_name: FullName | None = None
    is_active: StrictBool | None = None
    is_superuser: StrictBool | None = None
    # Only `true`: an administrator marks the address proven (audited); nothing un-proves it.
    email_verified: StrictBool | None = None
    roles: list[RoleName] | None = Field(default=None, max_length=50)


class ProfileUpdate(BaseModel):
    """What a user may change about themselves: profile fields only, never access or password."""

    model_config = ConfigDict(extra="forbid")

    full_name: FullName | None = None


class PermissionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    description: str | None


class RoleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    permissions: list[str] = Field(validation_alias="permission_codes")
    is_builtin: bool


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RoleName
    description: Description | None = None
    permissions: list[PermissionCode] = Field(default_factory=list, max_length=100)


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RoleName | None = None
    description: Description | None = None


class RolePermissionsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    permissions: list[PermissionCode] = Field(max_length=100)
