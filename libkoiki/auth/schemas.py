"""Request and response bodies of /api/v1/auth (users are shown with the accounts schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from libkoiki.accounts.schemas import Email, FullName
from libkoiki.auth.password_policy import MAX_LENGTH

# Long enough for the policy to answer "at most 128 characters" itself; short enough that
# nobody posts a megabyte to the hasher.
PasswordInput = str
PASSWORD_FIELD = Field(min_length=1, max_length=MAX_LENGTH * 8)
OPAQUE_TOKEN_FIELD = Field(min_length=1, max_length=512)


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: PasswordInput = PASSWORD_FIELD
    full_name: FullName | None = None


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105  (the OAuth2 token type)
    expires_in: int = Field(description="Lifetime of the access token, in seconds")


class RefreshRequest(BaseModel):
    refresh_token: str = OPAQUE_TOKEN_FIELD


class LogoutRequest(BaseModel):
    refresh_token: str | None = Field(default=None, max_length=512)


class PasswordChangeRequest(BaseModel):
    current_password: PasswordInput = PASSWORD_FIELD
    new_password: PasswordInput = PASSWORD_FIELD


class PasswordResetRequest(BaseModel):
    email: Email


class PasswordResetConfirm(BaseModel):
    token: str = OPAQUE_TOKEN_FIELD
    new_password: PasswordInput = PASSWORD_FIELD


class ResetRequested(BaseModel):
    detail: str


class RegistrationPending(BaseModel):
    """With email verification on: the same answer for a new and for a taken address."""

    detail: str
    verification_required: Literal[True] = True


class EmailVerificationConfirm(BaseModel):
    token: str = OPAQUE_TOKEN_FIELD


class EmailVerificationResend(BaseModel):
    email: Email


class SessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool = False
