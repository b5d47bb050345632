"""Request and response bodies of /api/v1/auth/sso."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from libkoiki.auth.schemas import PASSWORD_FIELD, PasswordInput, TokenPair

SHA256_HEX = Field(default=None, pattern=r"^[0-9a-f]{64}$")
SECRET_FIELD = Field(default=None, min_length=16, max_length=256)


def check_redirect_to(value: str) -> str:
    """A path of the frontend: never another site (`//host`, `\\\\host`, `https:`)."""
    if not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        raise ValueError("must be a path of this site starting with /")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError("must not contain control characters")
    return value


class ProviderRead(BaseModel):
    name: str
    display_name: str


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    redirect_to: str = Field(default="/profile", max_length=512)
    binding: str | None = SHA256_HEX

    _redirect = field_validator("redirect_to")(check_redirect_to)


class AuthorizationURL(BaseModel):
    authorization_url: str


class CallbackRequest(BaseModel):
    """What the provider sent back to the browser, relayed by the BFF with its cookie's secret."""

    model_config = ConfigDict(extra="forbid")

    state: str = Field(min_length=1, max_length=256)
    code: str | None = Field(default=None, min_length=1, max_length=2048)
    error: str | None = Field(default=None, max_length=128)
    error_description: str | None = Field(default=None, max_length=512)
    # RFC 9207: the issuer that answered, when the provider says (mix-up defence).
    iss: str | None = Field(default=None, max_length=255)
    binding_verifier: str | None = SECRET_FIELD


class CallbackResult(BaseModel):
    redirect_to: str
    linked: bool = Field(description="A signed-in user linked a provider account: no new tokens")
    tokens: TokenPair | None


class IdentityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider: str
    display_name: str
    email: str | None
    created_at: datetime
    last_login_at: datetime | None


class EndSessionURL(BaseModel):
    end_session_url: str | None = Field(
        description="Where to send the browser to sign out at the provider too (null: nowhere)"
    )


class LinkWithPasswordRequest(BaseModel):
    """The token of a 409 `sso_link_required`, the account's password, the browser's secret."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=16, max_length=256)
    password: PasswordInput = PASSWORD_FIELD
    binding_verifier: str = Field(min_length=16, max_length=256)
