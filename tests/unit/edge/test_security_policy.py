"""The docs CSP hashes, limit parsing and the rate-limit settings refusals."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
from pydantic import ValidationError

from libkoiki.config import Settings
from libkoiki.http.security_headers import docs_csp, inline_script_hashes
from libkoiki.ratelimit.limiter import Window, parse_limit, window_headers


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_inline_scripts_are_hashed_external_ones_are_not() -> None:
    page = (
        b'<script src="/docs-assets/a.js"></script>\n'
        b"<script>\n  start();\n</script>\n"
        b'<SCRIPT type="module">go()</SCRIPT>'
    )
    assert inline_script_hashes(page) == [sha256_source("\n  start();\n"), sha256_source("go()")]


def test_docs_csp_lists_each_hash_once_and_no_unsafe_inline_script() -> None:
    page = b"<script>a()</script><script>a()</script>"
    policy = docs_csp(page)
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    assert script_src.split() == ["script-src", "'self'", sha256_source("a()")]


def test_limits_use_the_limits_notation() -> None:
    item = parse_limit("3/2 seconds")
    assert (item.amount, item.get_expiry()) == (3, 2)
    assert parse_limit("10 per minute").get_expiry() == 60
    with pytest.raises(ValueError, match="couldn't parse"):
        parse_limit("10 a minute")


def test_window_headers_and_retry_after() -> None:
    now = time.time()
    window = Window(allowed=False, limit=5, remaining=0, reset_at=now + 12.2)
    assert window.retry_after(now) == 13
    assert Window(False, 5, 0, now - 1).retry_after(now) == 1  # never 0: "retry now" loops
    headers = window_headers(window)
    assert headers["X-RateLimit-Limit"] == "5"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert int(headers["X-RateLimit-Reset"]) == int(now + 12.2) + 1


def test_a_malformed_default_limit_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="RATE_LIMIT_DEFAULT"):
        Settings(_env_file=None, rate_limit_default="100/minuet")  # type: ignore[call-arg]


def test_redis_strategy_without_redis_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="REDIS_URL"):
        Settings(_env_file=None, rate_limit_strategy="redis", redis_url="")  # type: ignore[call-arg]
