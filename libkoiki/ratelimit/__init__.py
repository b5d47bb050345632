"""Rate limiting: Redis-backed (shared by replicas) or in-process, via the `limits` library.

- `RATE_LIMIT_DEFAULT` applies to every `/api/` route, per client (the user of a valid bearer
  token, else the client address resolved from `TRUSTED_PROXIES`); `rate_limit(...)` and
  `check_rate_limit(...)` add stricter budgets next to the routes that need them.
- Responses counted in a budget carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
  `X-RateLimit-Reset` (epoch seconds when the oldest counted request leaves the moving window);
  a refusal is 429 `rate_limited` with `Retry-After` (seconds).
- A Redis outage serves requests unlimited (`RATE_LIMIT_FAIL_OPEN=true`, counted in
  `koiki_ratelimit_backend_errors_total`) or answers 503 `rate_limit_unavailable`.
"""

from libkoiki.ratelimit.dependencies import check_rate_limit, rate_limit
from libkoiki.ratelimit.limiter import RateLimiter, Window
from libkoiki.ratelimit.middleware import RateLimitMiddleware

__all__ = ["RateLimitMiddleware", "RateLimiter", "Window", "check_rate_limit", "rate_limit"]
