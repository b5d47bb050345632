"""Where K spends a request: pyinstrument over in-process calls of one request kind.

    .venv/bin/python -m bench.profile list [--requests 2000]

Kinds: health, list, get, create, and login (the event loop's share of a login: the argon2 hash
itself runs in the hasher's threads, which the profile does not follow).

Same database, Redis and settings as `make bench` (the database is created, seeded and dropped
here too); the app is called through httpx's ASGI transport, so the profile holds the framework
and the drivers, not the server or the socket. An HTML report goes to var/bench/profile-<kind>.html.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys

import httpx
from asgi_lifespan import LifespanManager
from pyinstrument import Profiler

from bench.harness import (
    ROOT,
    create_database,
    delete_redis_keys,
    drop_database,
    koiki_env,
    parse_options,
)
from bench.load import client_address
from bench.seed import PASSWORD, seed
from libkoiki.config import Settings


async def profile(
    kind: str, requests: int, seed_line: str, email: str, env: dict[str, str]
) -> Profiler:
    os.environ.update(env)
    from app.main import create_app

    _owner, todo, token = seed_line.split("\t")
    headers = {"Authorization": f"Bearer {token}"}
    calls = {
        "health": ("GET", "/health", None),
        "list": ("GET", "/api/v1/todos?limit=20", None),
        "get": ("GET", f"/api/v1/todos/{todo}", None),
        "create": ("POST", "/api/v1/todos", {"title": "profiled", "description": "x"}),
    }
    if kind == "login":
        method, path, body = "POST", "/api/v1/auth/login", None
        headers = {}
    else:
        method, path, body = calls[kind]
    sent = 0
    app = create_app()
    profiler = Profiler(async_mode="enabled")
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:

            async def call() -> None:
                nonlocal sent
                sent += 1
                if kind == "login":  # a fresh client address each time: no per-IP lockout
                    response = await client.post(
                        path,
                        data={"username": email, "password": PASSWORD},
                        headers={"X-Forwarded-For": client_address(sent)},
                    )
                else:
                    response = await client.request(method, path, headers=headers, json=body)
                if response.status_code >= 400:
                    raise SystemExit(f"{kind}: {response.status_code} {response.text}")

            for _ in range(min(200, requests)):
                await call()
            with profiler:
                for _ in range(requests):
                    await call()
    return profiler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("kind", choices=["health", "list", "get", "create", "login"])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    kind, requests = args.kind, args.requests
    options = parse_options([])  # the servers of `make bench` (BENCH_* variables)
    # A database of its own: profiling while `make bench` runs must not drop the bench's data.
    options.database_url += "_profile"
    prefix = f"koiki-bench-{os.getpid()}:"
    env = koiki_env(options, prefix)
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    create_database(options)
    try:
        subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT,
                       env={**os.environ, **env}, check=True, capture_output=True)  # fmt: skip
        settings = Settings(_env_file=None, **{key.lower(): value for key, value in env.items()})  # type: ignore[arg-type]
        files = asyncio.run(seed(settings, 20, out))
        first_user = files.users.read_text().splitlines()[0]
        first_email = files.emails.read_text().split()[0]
        profiler = asyncio.run(profile(kind, requests, first_user, first_email, env))
    finally:
        delete_redis_keys(options, prefix)
        drop_database(options)
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    profiler.write_html(str(out / f"profile-{kind}.html"))


if __name__ == "__main__":
    main()
