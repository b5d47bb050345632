"""One error shape for every failure: `{"detail", "code", "request_id"}`.

Services raise `AppError` (or a subclass); FastAPI's own HTTP and validation errors are reshaped to
the same body; a database that cannot be reached is a 503, not a 500; anything unexpected is a
generic 500 whose trace goes to the log only.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from typing import Any

import structlog
from asyncpg import TargetServerAttributeNotMatched
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = structlog.get_logger("koiki.errors")

_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    503: "service_unavailable",
}


class ErrorBody(BaseModel):
    detail: Any
    code: str
    request_id: str | None


_RESPONSE_DESCRIPTIONS = {
    400: "The request breaks a business rule",
    401: "Missing, invalid, expired or revoked bearer token",
    403: "The user lacks the required permission",
    404: "Not found (or not yours)",
    409: "Conflicts with existing data",
    413: "Request body too large",
    414: "URL too long",
    422: "Validation failed; `detail` lists the fields",
    429: "Rate limited; retry after `Retry-After` seconds",
    431: "Request headers too large",
    503: "The database or the rate limiter is unavailable",
}


# Headers every answer with this status carries.
_RESPONSE_HEADERS = {
    401: {"WWW-Authenticate": "The scheme to authenticate with: `Bearer`"},
    429: {"Retry-After": "Seconds to wait before trying again"},
    503: {"Retry-After": "Seconds to wait before trying again"},
}
ERROR_BODY_REF = "#/components/schemas/ErrorBody"


def _documented(status_code: int, description: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"description": description or _RESPONSE_DESCRIPTIONS[status_code]}
    if status_code in _RESPONSE_HEADERS:
        doc["headers"] = {
            name: {"description": text, "required": True, "schema": {"type": "string"}}
            for name, text in _RESPONSE_HEADERS[status_code].items()
        }
    return doc


def error_responses(
    *status_codes: int, descriptions: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """Route `responses=` entries documenting the error body for these status codes.

    `descriptions` replaces the generic wording where a route knows more (the `code` it sends).
    """
    descriptions = descriptions or {}
    return {
        code: {"model": ErrorBody, **_documented(code, descriptions.get(code))}
        for code in status_codes
    }


def error_response_object(status_code: int) -> dict[str, Any]:
    """The same documentation as a raw OpenAPI response object, for editing a finished document."""
    content = {"application/json": {"schema": {"$ref": ERROR_BODY_REF}}}
    return {**_documented(status_code, None), "content": content}


def code_for_status(status_code: int) -> str:
    return _STATUS_CODES.get(status_code, "error")


class AppError(Exception):
    """An error the client should see, with a stable machine-readable `code`."""

    def __init__(
        self,
        status_code: int,
        detail: Any,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.code = code or code_for_status(status_code)
        self.headers = dict(headers) if headers else None
        # Fields beside detail/code/request_id for the client to act on (an SSO link token).
        self.extra: dict[str, Any] | None = None


class NotFoundError(AppError):
    def __init__(self, what: str = "Resource") -> None:
        super().__init__(404, f"{what} not found", "not_found")


class ConflictError(AppError):
    def __init__(self, detail: str, code: str = "conflict") -> None:
        super().__init__(409, detail, code)


def field_error(field: str, message: str) -> AppError:
    """A 422 shaped like FastAPI's own, for rules a schema cannot check (policy, the database)."""
    detail = [{"loc": ["body", field], "msg": message, "type": "value_error"}]
    return AppError(422, detail, "validation_error")


class DatabaseUnavailableError(AppError):
    def __init__(self) -> None:
        super().__init__(
            503,
            "The database is unavailable; try again shortly",
            "database_unavailable",
            {"Retry-After": "5"},
        )


class SchemaNotMigratedError(AppError):
    def __init__(self) -> None:
        super().__init__(
            503,
            "The service is being updated; try again shortly",
            "database_not_migrated",
            {"Retry-After": "30"},
        )


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def error_response(
    request: Request,
    status_code: int,
    detail: Any,
    code: str,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body = {"detail": detail, "code": code, "request_id": request_id_of(request)}
    if extra:
        body.update(extra)
    return JSONResponse(jsonable_encoder(body), status_code=status_code, headers=headers)


# Connection-level failures: the server is down, refusing, or the pool is exhausted. Constraint
# violations and SQL errors are programming or input errors and are not in this family.
_CONNECTION_ERRORS = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)
_SQLITE_UNAVAILABLE = re.compile(r"unable to open database|database is locked|disk I/O", re.I)
# PostgreSQL's own words for "not now": a connection exception (class 08), the server shutting
# down or still starting (57P01-57P03, e.g. "the database system is starting up" right after a
# restart), no free connection slot (53300) and a server no longer the primary, refusing writes
# (25006, libkoiki.db.failover). They arrive as plain DBAPIErrors.
_POSTGRES_UNAVAILABLE = ("08", "57P01", "57P02", "57P03", "53300", "25006")


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(getattr(exc, "orig", None), "sqlstate", None) or "")


def _no_primary_yet(exc: BaseException) -> bool:
    """None of a multi-host URL's servers is the primary: asyncpg's error, as it is or as
    SQLAlchemy's adapter translated it (an InternalError whose cause it is)."""
    cause: BaseException | None = exc
    for _ in range(3):
        if cause is None or isinstance(cause, TargetServerAttributeNotMatched):
            return cause is not None
        cause = getattr(cause, "orig", None) or cause.__cause__
    return False


def is_database_unavailable(exc: BaseException) -> bool:
    if _no_primary_yet(exc):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, DBAPIError) and _sqlstate(exc).startswith(_POSTGRES_UNAVAILABLE):
        return True
    if isinstance(exc, OperationalError) and "sqlite" in type(exc.orig).__module__:
        return bool(_SQLITE_UNAVAILABLE.search(str(exc.orig)))
    return isinstance(exc, _CONNECTION_ERRORS)


# A table or column the code expects is missing: the migrations have not run (or a replica runs
# code newer than the schema). PostgreSQL's undefined_table and undefined_column; SQLite's words.
_POSTGRES_SCHEMA_BEHIND = ("42P01", "42703")
_SQLITE_SCHEMA_BEHIND = re.compile(r"^no such (table|column)", re.I)


def is_schema_behind(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    if _sqlstate(exc) in _POSTGRES_SCHEMA_BEHIND:
        return True
    return "sqlite" in type(exc.orig).__module__ and bool(
        _SQLITE_SCHEMA_BEHIND.search(str(exc.orig))
    )


def is_unstorable_value(exc: BaseException) -> bool:
    """The database refused a value (SQLSTATE class 22, "data exception")."""
    if isinstance(exc, DataError):
        return True
    return isinstance(exc, DBAPIError) and _sqlstate(exc).startswith("22")


def _as_response(request: Request, error: AppError) -> JSONResponse:
    return error_response(
        request, error.status_code, error.detail, error.code, error.headers, error.extra
    )


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return _as_response(request, exc)


# FastAPI's and Starlette's 400s for a body they could not read at all. The cause is the client's
# input (bytes that are not UTF-8, JSON nested beyond the parser's depth, a form without its
# boundary), so it is answered like malformed JSON: a 422 naming the body and what is wrong.
_FASTAPI_UNREADABLE_BODY = "There was an error parsing the body"


def _unreadable_body(exc: StarletteHTTPException) -> list[dict[str, Any]] | None:
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, MultiPartException):
        message = f"The form could not be parsed: {cause.message}"
    elif exc.detail != _FASTAPI_UNREADABLE_BODY:
        return None
    elif isinstance(cause, UnicodeDecodeError):
        message = "The body is not valid UTF-8"
    elif isinstance(cause, RecursionError):
        message = "The body is nested too deeply"
    else:
        message = "The body could not be parsed"
    return [{"loc": ["body"], "msg": message, "type": "body_unreadable"}]


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and (unreadable := _unreadable_body(exc)):
        return error_response(request, 422, unreadable, "validation_error")
    code = getattr(exc, "code", None) or code_for_status(exc.status_code)
    return error_response(request, exc.status_code, exc.detail, code, exc.headers)


def _readable_errors(errors: Any) -> list[dict[str, Any]]:
    # The submitted value may be a password: keep the location, message and type only.
    return [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in errors
    ]


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(request, 422, _readable_errors(exc.errors()), "validation_error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


def _first_line(exc: BaseException) -> str:
    # Some connection errors have no message at all (a bare TimeoutError, ConnectionResetError).
    lines = str(exc).splitlines()
    return lines[0] if lines else type(exc).__name__


class UnhandledErrorMiddleware:
    """Innermost middleware: turns an exception into a 500 (or a 503 for a dead database).

    It sits inside the other middleware so the error response still gets the request id, the
    security headers and the access-log line; Starlette's own error page would bypass them.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            request = Request(scope)
            if is_unstorable_value(exc):
                # A value the schema let through but the database cannot store (a range or
                # encoding the field types do not know about): the client's input, not a bug.
                logger.warning("database_rejected_value", error=_first_line(exc))
                response = error_response(
                    request,
                    422,
                    "A value is out of range or contains characters that cannot be stored",
                    "invalid_value",
                )
            elif is_database_unavailable(exc):
                logger.warning("database_unavailable", error=_first_line(exc))
                response = _as_response(request, DatabaseUnavailableError())
            elif is_schema_behind(exc):
                # An operator's fix, not a bug: say which one, once per request, without a trace.
                logger.error(
                    "database_not_migrated",
                    error=_first_line(exc),
                    fix="apply the migrations: `python -m ops migrate` (or `make migrate`)",
                )
                response = _as_response(request, SchemaNotMigratedError())
            else:
                logger.exception("unhandled_error")
                response = error_response(request, 500, "Internal server error", "internal_error")
            await response(scope, receive, send)
