"""/api/v1/auth: HTTP only. Each route parses, calls `libkoiki.auth.service`, and returns."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Form, Path, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from libkoiki.accounts.schemas import UserMe, UserRead
from libkoiki.audit.service import AuditSourceDep
from libkoiki.auth import registration, service
from libkoiki.auth.dependencies import CurrentAuth, CurrentUser, SettingsDep
from libkoiki.auth.schemas import (
    EmailVerificationConfirm,
    EmailVerificationResend,
    LogoutRequest,
    PasswordChangeRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    RegisterRequest,
    RegistrationPending,
    ResetRequested,
    SessionRead,
    TokenPair,
)
from libkoiki.db import SessionDep
from libkoiki.errors import error_responses
from libkoiki.fields import CleanStr
from libkoiki.mail import get_mail_sender
from libkoiki.ratelimit import check_rate_limit, rate_limit


async def _no_store(response: Response) -> None:
    # Tokens and account data must not be kept by browsers or shared caches.
    response.headers["Cache-Control"] = "no-store"


router = APIRouter(prefix="/api/v1/auth", tags=["auth"], dependencies=[Depends(_no_store)])

# 401 on routes that take a bearer token, 413/422/429/503 everywhere: see libkoiki.openapi.
INVALID_TOKEN = error_responses(
    401, descriptions={401: "Unknown, expired, reused or revoked refresh token"}
)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead | RegistrationPending,
    dependencies=[rate_limit("5/minute", scope="auth-register", per="ip")],
    responses={
        202: {
            "model": RegistrationPending,
            "description": "Email verification on: the same answer for any address; the link "
            "(or, for a taken address, a notice to its owner) goes by mail",
        },
        **error_responses(
            409,
            descriptions={
                409: "Verification off only: email registered (`email_taken`) or looks like a "
                "registered one (`email_confusable`)"
            },
        ),
    },
)
async def register(
    data: RegisterRequest,
    response: Response,
    background: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
    source: AuditSourceDep,
) -> UserRead | RegistrationPending:
    """Create an account. With `REQUIRE_EMAIL_VERIFICATION` the answer is 202 for any address."""
    outcome = await registration.register(
        session,
        settings,
        email=data.email,
        password=data.password,
        full_name=data.full_name,
        source=source,
    )
    background.add_task(registration.send_after_response, get_mail_sender(settings), outcome.mail)
    if outcome.user is not None:
        return UserRead.model_validate(outcome.user)
    response.status_code = status.HTTP_202_ACCEPTED
    return RegistrationPending(detail=registration.CHECK_YOUR_MAIL)


@router.post(
    "/verify-email",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[rate_limit("10/minute", scope="auth-verify-email", per="ip")],
    responses=error_responses(
        400, descriptions={400: "Invalid, used or expired link (`invalid_verification_token`)"}
    ),
)
async def verify_email(
    data: EmailVerificationConfirm, session: SessionDep, source: AuditSourceDep
) -> None:
    """Confirm the address with the token from the mailed link (single use)."""
    await registration.confirm_email(session, token=data.token, source=source)


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ResetRequested,
    dependencies=[rate_limit("3/minute", scope="auth-verify-resend", per="ip")],
)
async def verify_email_resend(
    data: EmailVerificationResend,
    request: Request,
    background: BackgroundTasks,
    settings: SettingsDep,
    source: AuditSourceDep,
) -> ResetRequested:
    """Always the same answer; a new link goes only to an existing, unverified account."""
    await check_rate_limit(request, "5/hour", scope="auth-verify-resend-email", key=data.email)
    background.add_task(
        registration.resend_verification,
        request.app.state.sessionmaker,
        settings,
        get_mail_sender(settings),
        email=data.email,
        source=source,
    )
    return ResetRequested(detail=registration.RESEND_REQUESTED)


async def password_form(
    *,
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
    username: Annotated[str, Form()],
    password: Annotated[str, Form(json_schema_extra={"format": "password"})],
    scope: Annotated[str, Form()] = "",
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form(json_schema_extra={"format": "password"})] = None,
) -> OAuth2PasswordRequestForm:
    """The OAuth2 password form, the same fields as `Depends(OAuth2PasswordRequestForm)`, read on
    the event loop: FastAPI calls a class dependency in its thread pool, a thread hop per login
    and, after a burst, idle threads holding on to memory."""
    return OAuth2PasswordRequestForm(
        grant_type=grant_type,
        username=username,
        password=password,
        scope=scope,
        client_id=client_id,
        client_secret=client_secret,
    )


@router.post(
    "/login",
    response_model=TokenPair,
    dependencies=[rate_limit("10/minute", scope="auth-login", per="ip")],
    responses=error_responses(
        401,
        429,
        descriptions={
            401: "Wrong credentials or inactive account (`invalid_credentials`)",
            429: "Too many failures (`login_locked`) or requests (`rate_limited`)",
        },
    ),
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends(password_form)],
    session: SessionDep,
    settings: SettingsDep,
    source: AuditSourceDep,
) -> TokenPair:
    """OAuth2 password flow: `username` is the email address."""
    return await service.login(
        session, settings, email=form.username, password=form.password, source=source
    )


@router.post(
    "/refresh",
    response_model=TokenPair,
    # No route limit of its own: a refresh token cannot be guessed, and a backend-for-frontend
    # refreshing for all its users from one address must not be throttled as one client.
    responses=INVALID_TOKEN,
)
async def refresh(
    data: RefreshRequest, session: SessionDep, settings: SettingsDep, source: AuditSourceDep
) -> TokenPair:
    return await service.refresh(session, settings, refresh_token=data.refresh_token, source=source)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    auth: CurrentAuth,
    session: SessionDep,
    source: AuditSourceDep,
    data: Annotated[LogoutRequest | None, Body()] = None,
) -> None:
    await service.logout(
        session, auth, refresh_token=data.refresh_token if data else None, source=source
    )


@router.post("/revoke-all-tokens", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_all_tokens(user: CurrentUser, session: SessionDep, source: AuditSourceDep) -> None:
    await service.revoke_all(session, user, source=source)


@router.get("/me", response_model=UserMe)
async def me(user: CurrentUser, settings: SettingsDep) -> UserMe:
    return UserMe.from_user(user, email_verification_required=settings.email_verification_on)


@router.post(
    "/password-change",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[rate_limit("5/minute", scope="auth-password-change", per="user")],
    responses=error_responses(400, descriptions={400: "Wrong current password"}),
)
async def password_change(
    data: PasswordChangeRequest,
    auth: CurrentAuth,
    session: SessionDep,
    settings: SettingsDep,
    source: AuditSourceDep,
) -> None:
    await service.change_password(
        session,
        settings,
        auth,
        current_password=data.current_password,
        new_password=data.new_password,
        source=source,
    )


@router.post(
    "/password-reset/request",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ResetRequested,
    dependencies=[rate_limit("3/minute", scope="auth-reset-request", per="ip")],
)
async def password_reset_request(
    data: PasswordResetRequest,
    request: Request,
    background: BackgroundTasks,
    settings: SettingsDep,
    source: AuditSourceDep,
) -> ResetRequested:
    """Always the same answer; the email (if the account exists) is sent after the response."""
    await check_rate_limit(request, "3/minute", scope="auth-reset-request-email", key=data.email)
    background.add_task(
        service.request_password_reset,
        request.app.state.sessionmaker,
        settings,
        get_mail_sender(settings),
        email=data.email,
        source=source,
    )
    return ResetRequested(detail=service.RESET_REQUESTED)


@router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[rate_limit("10/minute", scope="auth-reset-confirm", per="ip")],
    responses=error_responses(
        400, descriptions={400: "Invalid, used or expired token (`invalid_reset_token`)"}
    ),
)
async def password_reset_confirm(
    data: PasswordResetConfirm, session: SessionDep, settings: SettingsDep, source: AuditSourceDep
) -> None:
    await service.confirm_password_reset(
        session, settings, token=data.token, new_password=data.new_password, source=source
    )


@router.get("/sessions", response_model=list[SessionRead])
async def sessions(auth: CurrentAuth, session: SessionDep) -> list[SessionRead]:
    return await service.list_sessions(session, auth)


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404, descriptions={404: "No such session of yours"}),
)
async def end_session(
    session_id: Annotated[CleanStr, Path(max_length=64)],
    auth: CurrentAuth,
    session: SessionDep,
    source: AuditSourceDep,
) -> None:
    await service.end_user_session(session, auth, session_id, source=source)
