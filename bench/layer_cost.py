"""CPU time per request of each middleware layer, in-process: robust on a busy machine.

`middleware_overhead.py` measures throughput over real sockets, which is what users feel but
swings with whatever else the machine runs. This script calls the ASGI apps directly, many times,
and reads the process CPU clock, so other processes barely move the numbers. Each variant is the
production KOIKI stack with one layer switched off; the difference to the full stack is that
layer's cost. Bounded: `--requests` per variant and round.

    .venv/bin/python -m bench.layer_cost [--redis-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import time
from typing import Any

from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp, Message

from bench.apps import PATH, _koiki_settings, bare_app, client_address
from libkoiki.app_factory import create_app

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": PATH,
    "raw_path": PATH.encode(),
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"bench"), (b"accept", b"*/*")],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


async def _call(app: ASGIApp, n: int) -> None:
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    headers = [*SCOPE["headers"], (b"x-forwarded-for", client_address(n).encode())]
    await app(dict(SCOPE, headers=headers), receive, send)
    if status != 200:
        raise SystemExit(f"unexpected status {status}: the numbers would be void")


async def cpu_per_request(app: ASGIApp, requests: int) -> float:
    for n in range(min(300, requests)):
        await _call(app, n)
    started = time.process_time()
    for n in range(requests):
        await _call(app, n)
    return (time.process_time() - started) / requests * 1e6


def koiki(without: str = "") -> Any:
    os.environ["BENCH_WITHOUT"] = without
    from bench.apps import _router

    return create_app(_koiki_settings(), routers=[_router])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    requests = max(100, min(args.requests, 50_000))
    os.environ["BENCH_REDIS_URL"] = args.redis_url or ""

    variants = {
        "bare FastAPI": None,
        "koiki (full)": "",
        "koiki -access-log": "access-log",
        "koiki -metrics": "metrics",
        "koiki -rate-limit": "rate-limit",
        "koiki -all three": "access-log,metrics,rate-limit",
    }
    best: dict[str, float] = {}
    # The access log is produced (its cost counts) but not shown.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for _ in range(max(1, min(args.rounds, 10))):
            for name, without in variants.items():
                if without is None:
                    cost = await cpu_per_request(bare_app, requests)
                else:
                    # Logging is configured per app, process-wide: build each just before use.
                    app = koiki(without)
                    async with LifespanManager(app):
                        cost = await cpu_per_request(app, requests)
                best[name] = min(best.get(name, cost), cost)
    full = best["koiki (full)"]
    limiter = "redis" if args.redis_url else "memory"
    print(f"CPU per request, best of {args.rounds} x {requests} (rate limiter: {limiter}):")
    for name, cost in best.items():
        note = f"   layer ~{full - cost:4.0f} us" if name.startswith("koiki -") else ""
        print(f"  {name:20} {cost:6.0f} us{note}")
    print(f"koiki/bare CPU ratio: {full / best['bare FastAPI']:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
