"""Stricter limits declared next to the routes that need them.

    @router.post("/login", dependencies=[rate_limit("10/minute", scope="login", per="ip")])

and, for keys only the handler knows (an e-mail address in the body):

    await check_rate_limit(request, "3/minute", scope="password-reset-email", key=email)

Both answer 429 `rate_limited` with `Retry-After` once the limit is reached, and report their
window in the `X-RateLimit-*` headers. With `RATE_LIMIT_ENABLED=false` they do nothing.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from libkoiki.ratelimit.identity import Per, identity
from libkoiki.ratelimit.limiter import LIMITED, RateLimiter, RateLimitExceededError, parse_limit
from libkoiki.ratelimit.middleware import record_window


def _limiter(request: Request) -> RateLimiter | None:
    limiter = getattr(request.app.state, "rate_limiter", None)
    return limiter if isinstance(limiter, RateLimiter) else None


async def _check(request: Request, limit: str, scope: str, key: str) -> None:
    limiter = _limiter(request)
    if limiter is None:
        return
    item = parse_limit(limit)
    counted = await limiter.hit(item, scope, key)
    if counted is None:  # backend down, fail-open
        return
    window, _ = counted
    record_window(request.scope, window)
    if not window.allowed:
        LIMITED.labels(scope=scope).inc()
        raise RateLimitExceededError(window, item)


def rate_limit(limit: str, *, scope: str, per: Per = "client") -> DependsParam:
    """A dependency limiting a route to `limit` per client, per IP or per user.

    `scope` names the budget (routes sharing a scope share it); `per="user"` falls back to the IP
    address for requests without a valid bearer token.
    """
    parse_limit(limit)  # a malformed limit fails when the router is imported, not on a request

    async def dependency(request: Request) -> None:
        settings = request.app.state.settings
        await _check(request, limit, scope, identity(request.scope, settings, per))

    marker: DependsParam = Depends(dependency)
    return marker


async def check_rate_limit(request: Request, limit: str, *, scope: str, key: str) -> None:
    """Count one request against `limit` for an arbitrary key (e-mail addresses...).

    The key is compared trimmed and case-insensitively, and stored hashed.
    """
    await _check(request, limit, scope, f"key:{key.strip().lower()}")
