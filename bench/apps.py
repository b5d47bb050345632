"""The two apps the benchmark compares, serving the same trivial route.

`bare_app`: FastAPI alone. `koiki_app`: the full KOIKI stack as deployed in production (request
id and access log, client IP, metrics, security headers, CORS, trusted hosts, body limit, rate
limit, error guard). Settings come from BENCH_* variables set by `middleware_overhead.py`.
"""

from __future__ import annotations

import os
import tempfile

from fastapi import APIRouter, FastAPI

from libkoiki.app_factory import create_app
from libkoiki.config import Settings

PATH = "/api/v1/bench/ping"


async def ping() -> dict[str, bool]:
    return {"ok": True}


bare_app = FastAPI()
bare_app.add_api_route(PATH, ping, methods=["GET"])

_router = APIRouter()
_router.add_api_route(PATH, ping, methods=["GET"])


def _koiki_settings() -> Settings:
    redis_url = os.environ.get("BENCH_REDIS_URL") or None
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
        # Every request is counted, none refused: the cost of counting is what is measured.
        rate_limit_default="100000000/minute",
        cors_origins=["https://app.example.com"],
        trusted_hosts=["127.0.0.1", "localhost"],
        log_level="INFO",
        log_format="json",
    )


koiki_app = create_app(_koiki_settings(), routers=[_router])
