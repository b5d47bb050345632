"""/api/v1/auth/sso: HTTP only. Each route parses, calls `libkoiki.sso.service`, and returns.

The browser never calls these: the BFF does (frontend/README.md). It starts a sign-in with
`/authorize` (following no redirect, it sends the browser to the provider), and when the provider
sends the browser back to the BFF's callback it posts what came back to `/callback`, with the
secret of its cookie, and receives our token pair as after a password login.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from fastapi.responses import RedirectResponse

from libkoiki.audit.service import AuditSourceDep
from libkoiki.auth.dependencies import CurrentAuth, CurrentUser, SettingsDep
from libkoiki.db import SessionDep
from libkoiki.errors import error_responses, field_error
from libkoiki.ratelimit import rate_limit
from libkoiki.sso import identities as linked
from libkoiki.sso import service
from libkoiki.sso.schemas import (
    AuthorizationURL,
    CallbackRequest,
    CallbackResult,
    EndSessionURL,
    IdentityRead,
    LinkRequest,
    LinkWithPasswordRequest,
    ProviderRead,
    check_redirect_to,
)


async def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


router = APIRouter(prefix="/api/v1/auth/sso", tags=["sso"], dependencies=[Depends(_no_store)])

ProviderName = Annotated[str, Path(max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
SSO_FAILURES = error_responses(
    400,
    403,
    409,
    502,
    503,
    descriptions={
        400: "Expired or reused sign-in (`sso_invalid_state`), cancelled at the provider "
        "(`sso_access_denied`), refused code (`sso_code_rejected`), ID token failing a check "
        "(`sso_invalid_id_token`), UserInfo about another subject (`sso_invalid_userinfo`), other "
        "provider error (`sso_provider_error`)",
        403: "Email not verified by the provider (`sso_email_not_verified`), domain not allowed "
        "(`sso_domain_not_allowed`), no account and no auto-creation (`sso_no_account`), "
        "deactivated account (`sso_account_inactive`)",
        409: "An account has this email (`sso_link_required`): link it while signed in, or with "
        "its password once (`link_token`, `provider`, `expires_in` in the body, for "
        "`POST /sso/link-with-password`); the "
        "provider account is linked to another user (`sso_identity_taken`)",
        502: "The provider refused our client credentials: a configuration error "
        "(`sso_client_rejected`)",
        503: "The provider cannot be reached (`sso_provider_unavailable`)",
    },
)


@router.get("/providers", response_model=list[ProviderRead])
async def providers(settings: SettingsDep) -> list[ProviderRead]:
    """The configured identity providers, for the login page's buttons."""
    return service.list_providers(settings)


@router.get(
    "/{name}/authorize",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    dependencies=[rate_limit("20/minute", scope="sso-authorize", per="ip")],
    responses={
        302: {"description": "To the provider's authorization endpoint"},
        **error_responses(404, 503),
    },
)
async def authorize(
    name: ProviderName,
    session: SessionDep,
    settings: SettingsDep,
    redirect_to: Annotated[str, Query(max_length=512)] = "/",
    binding: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9a-f]{64}$",
            description="SHA-256 (hex) of a secret the BFF keeps in the browser's cookie; "
            "`/callback` then needs the secret itself",
        ),
    ] = None,
) -> RedirectResponse:
    """Start a sign-in: 302 to the provider (code flow, PKCE S256, state, nonce)."""
    provider = service.get_provider(settings, name)
    try:
        check_redirect_to(redirect_to)
    except ValueError as exc:
        raise _query_error("redirect_to", str(exc)) from None
    url = await service.start(session, settings, provider, redirect_to=redirect_to, binding=binding)
    return RedirectResponse(url, status_code=status.HTTP_302_FOUND)


def _query_error(field: str, message: str) -> Exception:
    error = field_error(field, message)
    error.detail[0]["loc"] = ["query", field]
    return error


@router.post(
    "/{name}/link",
    response_model=AuthorizationURL,
    dependencies=[rate_limit("10/minute", scope="sso-link", per="user")],
    responses=error_responses(404, 503),
)
async def link(
    name: ProviderName,
    data: LinkRequest,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> AuthorizationURL:
    """Start linking a provider account to the signed-in user; send the browser to the URL."""
    provider = service.get_provider(settings, name)
    user_id = user.id
    url = await service.start(
        session,
        settings,
        provider,
        redirect_to=data.redirect_to,
        binding=data.binding,
        link_user_id=user_id,
    )
    return AuthorizationURL(authorization_url=url)


@router.post(
    "/callback",
    response_model=CallbackResult,
    dependencies=[rate_limit("20/minute", scope="sso-callback", per="ip")],
    responses=SSO_FAILURES,
)
async def callback(
    data: CallbackRequest, session: SessionDep, settings: SettingsDep, source: AuditSourceDep
) -> CallbackResult:
    """Finish a sign-in with what the provider sent back: our tokens (or the link made)."""
    return await service.finish(
        session,
        settings,
        state=data.state,
        code=data.code,
        error=data.error,
        error_description=data.error_description,
        issuer=data.iss,
        binding_verifier=data.binding_verifier,
        source=source,
    )


@router.post(
    "/link-with-password",
    response_model=CallbackResult,
    dependencies=[rate_limit("20/minute", scope="sso-link-password", per="ip")],
    responses=error_responses(
        400,
        401,
        403,
        409,
        429,
        descriptions={
            400: "The token is unknown, expired, used, or from another browser "
            "(`sso_link_expired`)",
            401: "Wrong password (`invalid_credentials`): the token stays usable until it expires",
            403: "The account is deactivated or its email unconfirmed",
            409: "The provider account is linked to another user (`sso_identity_taken`)",
            429: "Too many failed logins for the account (`login_locked`)",
        },
    ),
)
async def link_with_password(
    data: LinkWithPasswordRequest,
    session: SessionDep,
    settings: SettingsDep,
    source: AuditSourceDep,
) -> CallbackResult:
    """Finish a first sign-in answered 409 `sso_link_required` with its `link_token`: the
    account's password links the provider account to it, once, and signs in."""
    return await service.link_with_password(
        session,
        settings,
        token=data.token,
        password=data.password,
        binding_verifier=data.binding_verifier,
        source=source,
    )


@router.get("/identities", response_model=list[IdentityRead])
async def identities(
    user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> list[IdentityRead]:
    """The provider accounts linked to the signed-in user."""
    return await linked.list_identities(session, settings, user)


@router.delete(
    "/identities/{identity_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(
        400, 404, descriptions={400: "The last way to sign in (`last_sign_in_method`)"}
    ),
)
async def unlink(
    identity_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    user: CurrentUser,
    session: SessionDep,
    source: AuditSourceDep,
) -> None:
    await linked.unlink(session, user, identity_id, source=source)


@router.get("/end-session", response_model=EndSessionURL)
async def end_session(
    auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> EndSessionURL:
    """Call before logging out: the provider's sign-out page when this session came from one."""
    return EndSessionURL(end_session_url=await linked.end_session_url(session, settings, auth))
