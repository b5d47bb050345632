"""Rate limiting: Redis-backed (shared by replicas) or in-process, via the `limits` library."""

from libkoiki.ratelimit.dependencies import check_rate_limit, rate_limit
from libkoiki.ratelimit.limiter import RateLimiter, Window
from libkoiki.ratelimit.middleware import RateLimitMiddleware

__all__ = ["RateLimitMiddleware", "RateLimiter", "Window", "check_rate_limit", "rate_limit"]
