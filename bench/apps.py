"""The two apps the benchmark compares, serving the same trivial route.

`bare_app`: FastAPI alone. `koiki_app`: the full KOIKI stack as deployed in production (request
id and access log, client IP, metrics, security headers, CORS, trusted hosts, body limit, rate
limit, error guard). Settings come from BENCH_* variables set by `middleware_overhead.py`;
BENCH_WITHOUT (comma list of access-log, metrics, rate-limit) switches layers off to show what
each one costs.
"""

from __future__ import annotations

import os
import tempfile

from fastapi import APIRouter, FastAPI

from libkoiki.app_factory import create_app
from libkoiki.config import Settings

PATH = "/api/v1/bench/ping"
CLIENTS = 10_000


def client_address(n: int) -> str:
    """The n-th simulated client, in the benchmarking range 198.18.0.0/15."""
    n %= CLIENTS
    return f"198.18.{n // 256}.{n % 256}"


async def ping() -> dict[str, bool]:
    return {"ok": True}


bare_app = FastAPI()
bare_app.add_api_route(PATH, ping, methods=["GET"])

_router = APIRouter()
_router.add_api_route(PATH, ping, methods=["GET"])


def _koiki_settings() -> Settings:
    redis_url = os.environ.get("BENCH_REDIS_URL") or None
    without = set(filter(None, os.environ.get("BENCH_WITHOUT", "").split(",")))
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        app_env="production",
        # Strong enough for the production checks, and protecting nothing.
        secret_key="bench-secret-key-0123456789abcdef0123456789",  # noqa: S106
        jwt_secret="bench-jwt-secret-0123456789abcdef0123456789",  # noqa: S106
        database_url=f"sqlite+aiosqlite:///{tempfile.gettempdir()}/koiki-bench.db",
        redis_url=redis_url,
        redis_key_prefix=f"koiki-bench-{os.getpid()}:",
        rate_limit_strategy="redis" if redis_url else "memory",
        # The load comes from 10,000 client addresses (X-Forwarded-For from loopback, a trusted
        # proxy): every request is counted in a realistically small window, none is refused.
        rate_limit_default="1000/minute",
        cors_origins=["https://app.example.com"],
        trusted_hosts=["127.0.0.1", "localhost"],
        log_level="WARNING" if "access-log" in without else "INFO",
        metrics_enabled="metrics" not in without,
        rate_limit_enabled="rate-limit" not in without,
        log_format="json",
    )


koiki_app = create_app(_koiki_settings(), routers=[_router])
