"""The default limit for every `/api` route, and the `X-RateLimit-*` headers of every response.

Route-level limits (`rate_limit`, `check_rate_limit`) record their window in the request state;
the headers report the most restrictive window the request was counted in.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libkoiki.auth.principals import STAMP_STATE, SecurityStamps
from libkoiki.config import Settings
from libkoiki.errors import AppError, error_response
from libkoiki.ratelimit.identity import bearer_claims, client_identity
from libkoiki.ratelimit.limiter import (
    LIMITED,
    RateLimiter,
    RateLimitExceededError,
    Window,
    window_headers,
)

STATE_KEY = "ratelimit_window"
DEFAULT_SCOPE = "default"
API_PREFIX = "/api/"


def record_window(scope: Scope, window: Window) -> None:
    state = scope.setdefault("state", {})
    current: Window | None = state.get(STATE_KEY)
    if current is None or (window.remaining, window.limit) < (current.remaining, current.limit):
        state[STATE_KEY] = window


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        settings: Settings,
        path_prefix: str = API_PREFIX,
        exempt_paths: frozenset[str] = frozenset(),
        stamps: SecurityStamps | None = None,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.stamps = stamps  # read along with the default limit, for `CurrentPrincipal`
        self.settings = settings
        self.path_prefix = path_prefix
        self.exempt_paths = exempt_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in self.exempt_paths:
            # Probes: never counted, and no route limit to report either.
            await self.app(scope, receive, send)
            return
        if path.startswith(self.path_prefix):
            item = self.limiter.default
            claims = bearer_claims(scope, self.settings)
            key = client_identity(scope, claims)  # the claims serve the stamps too
            stamp_keys = (
                self.stamps.keys(claims.user_id)
                if self.stamps is not None and claims is not None
                else ()
            )
            refusal: AppError | None = None
            try:
                counted = await self.limiter.hit(item, DEFAULT_SCOPE, key, stamp_keys)
            except AppError as unavailable:  # fail-closed and the backend is down
                counted, refusal = None, unavailable
            if counted is None and self.stamps is not None:
                # Redis is unreachable: a change made meanwhile may not have reached the stamps.
                self.stamps.forget_all()
            if refusal is not None:
                await self._reject(scope, receive, send, refusal)
                return
            if counted is not None:
                window, stamp = counted
                if stamp is not None:
                    scope.setdefault("state", {})[STAMP_STATE] = stamp
                record_window(scope, window)
                if not window.allowed:
                    LIMITED.labels(scope=DEFAULT_SCOPE).inc()
                    await self._reject(scope, receive, send, RateLimitExceededError(window, item))
                    return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                window = scope.get("state", {}).get(STATE_KEY)
                if window is not None:
                    headers = MutableHeaders(scope=message)
                    for name, value in window_headers(window).items():
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, error: AppError) -> None:
        response = error_response(
            Request(scope), error.status_code, error.detail, error.code, error.headers
        )
        await response(scope, receive, send)
