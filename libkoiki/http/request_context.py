"""Request id and the access log line, as one pure-ASGI middleware (the outermost one).

The request id comes from the client's `X-Request-ID` when it is short and made of safe characters,
otherwise it is generated. It is bound to every log line of the request and returned on every
response, errors included.
"""

from __future__ import annotations

import random
import re
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_logger = structlog.get_logger("koiki.access")


def sane_request_id(value: str | None) -> str:
    if value and _SAFE_REQUEST_ID.fullmatch(value):
        return value
    # A correlation id, not a secret: the process's random generator, without a system call per
    # request (the module reseeds itself in forked children, so replicas never share a sequence).
    return f"{random.getrandbits(128):032x}"  # nosec B311


def route_template(scope: Scope) -> str | None:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, quiet_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        # Probes hit these every few seconds; logging each one drowns the useful lines.
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        header_value = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                header_value = value.decode("latin-1")
                break
        request_id = sane_request_id(header_value)
        request_id_header = (_REQUEST_ID_KEY, request_id.encode("latin-1"))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        status_code = 500
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = message.get("headers", ())
                # A plain loop: a response rarely sets the header itself, and this runs on every
                # request (a generator over every header cost more).
                for name, _ in headers:
                    if name.lower() == _REQUEST_ID_KEY:
                        headers = [h for h in headers if h[0].lower() != _REQUEST_ID_KEY]
                        break
                message["headers"] = [*headers, request_id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            if scope["path"] not in self.quiet_paths or status_code >= 400:
                client = scope.get("client")
                access_logger.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    route=route_template(scope),
                    status=status_code,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    client_ip=state.get("client_ip") or (client[0] if client else None),
                    user_id=state.get("user_id"),
                )
            structlog.contextvars.clear_contextvars()
