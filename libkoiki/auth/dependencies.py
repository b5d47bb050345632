"""Route dependencies: who is calling, and may they.

@router.get("/things")
async def things(user: CurrentUser): ...

@router.delete("/things/{id}")
async def delete(user: Annotated[User, require_permission("things:write")]): ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.security import OAuth2PasswordBearer

from libkoiki.accounts.models import User
from libkoiki.auth.sessions import TokenRevokedError, load_token_user
from libkoiki.auth.tokens import AccessClaims, InvalidTokenError, decode_access_token
from libkoiki.config import Settings
from libkoiki.db import SessionDep
from libkoiki.errors import AppError

LOGIN_PATH = "/api/v1/auth/login"
BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}

# auto_error=False: the missing-token answer must have our error shape, not FastAPI's.
bearer_scheme = OAuth2PasswordBearer(tokenUrl=LOGIN_PATH, auto_error=False)


def unauthorized(detail: str, code: str) -> AppError:
    return AppError(401, detail, code, BEARER_CHALLENGE)


@dataclass(frozen=True, slots=True)
class Authenticated:
    user: User
    claims: AccessClaims


# async: a plain `def` dependency would cost a thread-pool hop per request.
async def request_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(request_settings)]


async def _authenticate(
    request: Request, session: SessionDep, settings: SettingsDep, token: str
) -> Authenticated:
    try:
        claims = decode_access_token(settings, token)
    except InvalidTokenError:
        raise unauthorized("Invalid or expired token", "invalid_token") from None
    try:
        user = await load_token_user(session, claims)
    except TokenRevokedError:
        raise unauthorized("Token has been revoked", "token_revoked") from None
    if user is None or not user.is_active:
        raise unauthorized("Invalid or expired token", "invalid_token")
    request.state.user_id = user.id
    return Authenticated(user=user, claims=claims)


async def get_authenticated(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(bearer_scheme)],
) -> Authenticated:
    if not token:
        raise unauthorized("Not authenticated", "not_authenticated")
    return await _authenticate(request, session, settings, token)


async def get_current_user(
    auth: Annotated[Authenticated, Depends(get_authenticated)],
) -> User:
    return auth.user


async def get_optional_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(bearer_scheme)],
) -> User | None:
    """None without a token; a token that is present must be valid (401 otherwise)."""
    if not token:
        return None
    return (await _authenticate(request, session, settings, token)).user


CurrentAuth = Annotated[Authenticated, Depends(get_authenticated)]
CurrentUser = Annotated[User, Depends(get_current_user)]
OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def require_permission(code: str) -> DependsParam:
    """A dependency returning the current user if they hold `code` (superusers hold all)."""

    async def dependency(user: CurrentUser) -> User:
        if not user.has_permission(code):
            raise AppError(403, f"Missing permission: {code}", "permission_denied")
        return user

    marker: DependsParam = Depends(dependency)
    return marker
