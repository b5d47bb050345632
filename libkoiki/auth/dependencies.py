"""Route dependencies: who is calling, and may they.

@router.get("/things")
async def things(user: CurrentUser): ...          # the account row, in the request's session

@router.get("/things")
async def things(caller: CurrentPrincipal): ...   # who calls and may do what; often no query

@router.delete("/things/{id}")
async def delete(user: Annotated[User, require_permission("things:write")]): ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import User
from libkoiki.auth.principals import (
    FROM_CACHE,
    FROM_DATABASE,
    Principal,
    SecurityStamps,
    request_stamp,
)
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


def _claims(settings: Settings, token: str | None) -> AccessClaims:
    if not token:
        raise unauthorized("Not authenticated", "not_authenticated")
    try:
        return decode_access_token(settings, token)
    except InvalidTokenError:
        raise unauthorized("Invalid or expired token", "invalid_token") from None


async def _load_user(request: Request, session: AsyncSession, claims: AccessClaims) -> User:
    try:
        user = await load_token_user(session, claims)
    except TokenRevokedError:
        raise unauthorized("Token has been revoked", "token_revoked") from None
    if user is None or not user.is_active:
        raise unauthorized("Invalid or expired token", "invalid_token")
    request.state.user_id = user.id
    return user


async def get_authenticated(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(bearer_scheme)],
) -> Authenticated:
    claims = _claims(settings, token)
    return Authenticated(user=await _load_user(request, session, claims), claims=claims)


async def get_current_user(
    auth: Annotated[Authenticated, Depends(get_authenticated)],
) -> User:
    return auth.user


class PrincipalBearer(OAuth2PasswordBearer):
    """`bearer_scheme` answering the caller's `Principal` itself.

    The caller, from this process's memory while their security stamps are unchanged, else from
    the database (see libkoiki.auth.principals); the same answers as `get_current_user`. One
    dependency where a function taking `Depends(bearer_scheme)` would be two: FastAPI works out
    the OAuth scopes of every dependency under a security scheme on every request, and that
    second level cost about 4 % of a list request's instructions (bench.instructions).
    """

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        claims = _claims(request.app.state.settings, await super().__call__(request))
        stamps: SecurityStamps | None = request.app.state.security_stamps
        stamp = request_stamp(request.scope)
        if stamps is not None and stamp is not None:
            principal = stamps.recall(claims.jti, stamp)
            if principal is not None:
                FROM_CACHE.inc()
                request.state.user_id = principal.id
                return principal
        # A session of its own, opened only here: a remembered principal needs no connection.
        async with request.app.state.sessionmaker() as session:
            principal = Principal.of(await _load_user(request, session, claims), claims)
        FROM_DATABASE.inc()
        if stamps is not None and stamp is not None:
            stamps.remember(stamp, principal)
        return principal


# The same OpenAPI security scheme as `bearer_scheme`: FastAPI lists schemes by name.
get_principal = PrincipalBearer(
    tokenUrl=LOGIN_PATH, auto_error=False, scheme_name=type(bearer_scheme).__name__
)


async def get_optional_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(bearer_scheme)],
) -> User | None:
    """None without a token; a token that is present must be valid (401 otherwise)."""
    if not token:
        return None
    return await _load_user(request, session, _claims(settings, token))


CurrentAuth = Annotated[Authenticated, Depends(get_authenticated)]
CurrentUser = Annotated[User, Depends(get_current_user)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def require_permission(code: str) -> DependsParam:
    """A dependency returning the current user if they hold `code` (superusers hold all)."""

    async def dependency(user: CurrentUser) -> User:
        if not user.has_permission(code):
            raise AppError(403, f"Missing permission: {code}", "permission_denied")
        return user

    marker: DependsParam = Depends(dependency)
    return marker
