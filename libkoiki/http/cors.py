"""CORS from `CORS_ORIGINS`: credentials only for origins listed by name, never for `*`.

A wildcard with credentials would let any site call the API with the user's cookies; Starlette
would even reflect the caller's origin in that case. `*` (development only; production refuses it)
therefore means "any origin, no credentials".
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from libkoiki.errors import error_response

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Accept", "Accept-Language", "X-Request-ID")
# What the web app may read from responses: the request id it shows in error messages, and the
# numbers it needs to back off.
EXPOSED_HEADERS = (
    "X-Request-ID",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)
PREFLIGHT_MAX_AGE_SECONDS = 600
_VARY_ORIGIN = (b"vary", b"Origin")


class KoikiCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with refused preflights answered in the API's error shape.

    Starlette's refusal is plain text and still carries `Access-Control-Allow-Credentials` and
    the allowed methods; a refusal here says what was refused and grants nothing.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, _ in scope["headers"]:
            if name == b"origin":  # ASGI servers give header names in lower case
                break
        else:
            # No Origin (same-origin pages, servers, probes: most requests): no CORS header to
            # add, only `Vary: Origin`, since an answer to a request with one would differ.
            await self.app(scope, receive, self._varying_on_origin(scope, send))
            return
        if scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "access-control-request-method" in headers:
                response = self.preflight_response(request_headers=headers)
                if response.status_code != 200:
                    detail = bytes(response.body).decode()  # "Disallowed CORS origin, headers"
                    response = error_response(
                        Request(scope), 400, detail, "cors_rejected", {"Vary": "Origin"}
                    )
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _varying_on_origin(self, scope: Scope, send: Send) -> Send:
        # Appended raw unless the response already varies (then Starlette merges the values).
        async def send_with_vary(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if any(name.lower() == b"vary" for name, _ in headers):
                    await self.send(message, send, Headers(scope=scope))
                    return
                message["headers"] = [*headers, _VARY_ORIGIN]
            await send(message)

        return send_with_vary


def install_cors(app: FastAPI, origins: Sequence[str]) -> None:
    """Without configured origins, no CORS headers at all: the browser keeps same-origin rules."""
    if not origins:
        return
    wildcard = "*" in origins
    app.add_middleware(
        KoikiCORSMiddleware,
        allow_origins=["*"] if wildcard else [origin.rstrip("/") for origin in origins],
        allow_credentials=not wildcard,
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
    )
