"""CPU instructions K executes per request, counted by valgrind: the same on a busy machine.

    .venv/bin/python -m bench.instructions list [--requests 200]

Kinds: health, list, get, and login (the event loop's thread only: the argon2 hash runs in the
hasher's threads, which are counted apart and left out; `--requests 30` is enough, since each
hash takes seconds under valgrind). The app runs in one process from the runtime install (as
`make bench` runs it), called in process through ASGI (no server, no socket): the figure is the
framework's, the middleware's, the drivers' and the app's work for one request, the server's not
included. Two runs under `valgrind --tool=callgrind`, one serving `--requests` requests after a
warm-up and one serving none; the difference divided by the requests is the answer. Wall-clock
figures from a shared machine vary by 2x; these by a few per cent, so they tell apart what wall
clocks cannot.

Same database, Redis and settings as `make bench` (created, seeded and dropped here).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import (
    ROOT,
    create_database,
    delete_redis_keys,
    drop_database,
    koiki_env,
    parse_options,
    runtime_python,
)
from bench.seed import PASSWORD, seed
from libkoiki.config import Settings

WARM_UP = 50
LOGIN_WARM_UP = 10  # each costs seconds of argon2 under valgrind

# Run by the runtime install's interpreter: argv is kind, requests, seed line, email.
_DRIVER = """
import asyncio, os, sys
from urllib.parse import urlencode
kind, requests, line, email = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
_owner, todo, token = line.split("\\t")
from app.main import create_app
from bench.load import client_address
from libkoiki.observability import logging as koiki_logging
app = create_app()
path = {"health": "/health", "list": "/api/v1/todos", "get": f"/api/v1/todos/{todo}",
        "login": "/api/v1/auth/login"}[kind]
body = urlencode({"username": email, "password": %(password)r}).encode() if kind == "login" else b""
headers = [(b"host", b"127.0.0.1")] + (
    [(b"content-length", str(len(body)).encode()),
     (b"content-type", b"application/x-www-form-urlencoded")]
    if kind == "login" else [(b"authorization", f"Bearer {token}".encode())]
)
scope = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
    "method": "POST" if kind == "login" else "GET",
    "scheme": "http", "path": path, "raw_path": path.encode(),
    "query_string": b"limit=20" if kind == "list" else b"", "root_path": "",
    "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
}
statuses = []
async def receive():
    return {"type": "http.request", "body": body, "more_body": False}
async def send(message):
    if message["type"] == "http.response.start":
        statuses.append(message["status"])
async def main():
    inbox, outbox = asyncio.Queue(), asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    koiki_logging._output[0] = open(os.devnull, "w")  # the access lines are written, not shown
    for n in range(%(warm_up)d + requests):
        if kind == "login":  # each from its own address, as in the flood: no limit answers
            scope["client"] = (client_address(n), 50000)
        await app(dict(scope), receive, send)
    assert set(statuses) == {200}, statuses[:5]
    await inbox.put({"type": "lifespan.shutdown"})
    await lifespan
asyncio.run(main())
"""


def count(
    python: Path, kind: str, requests: int, line: str, email: str, env: dict[str, str]
) -> int:
    """Instructions of the whole process; for a login, of its first thread only (the event
    loop's): callgrind counts the hasher's threads in files of their own."""
    warm_up = LOGIN_WARM_UP if kind == "login" else WARM_UP
    driver = _DRIVER % {"warm_up": warm_up, "password": PASSWORD}
    with tempfile.TemporaryDirectory(prefix="koiki-callgrind-") as scratch:
        out = Path(scratch) / "callgrind.out"
        completed = subprocess.run(
            [
                "valgrind", "--tool=callgrind", "--separate-threads=yes",
                f"--callgrind-out-file={out}", str(python), "-c", driver,
                kind, str(requests), line, email,
            ],
            cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, capture_output=True,
            text=True, check=False,
        )  # fmt: skip
        threads = sorted(Path(scratch).glob("callgrind.out-*"))[: 1 if kind == "login" else None]
        counts = [
            re.search(r"^(?:summary|totals): (\d+)", thread.read_text(), re.MULTILINE)
            for thread in threads
        ]
        if completed.returncode != 0 or not counts or not all(counts):
            raise SystemExit(f"{kind}: the counted run failed:\n{completed.stderr[-3000:]}")
        return sum(int(found.group(1)) for found in counts if found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("kind", choices=["health", "list", "get", "login"])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("bench.instructions needs valgrind (apt install valgrind)")
    python = runtime_python()
    options = parse_options([])
    # A database of its own: counting while `make bench` runs must not drop the bench's data.
    options.database_url += "_instructions"
    prefix = f"koiki-bench-{os.getpid()}:"
    env = koiki_env(options, prefix)
    create_database(options)
    try:
        subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT,
                       env={**os.environ, **env}, check=True, capture_output=True)  # fmt: skip
        settings = Settings(_env_file=None, **{key.lower(): value for key, value in env.items()})  # type: ignore[arg-type]
        with tempfile.TemporaryDirectory(prefix="koiki-instructions-") as scratch:
            files = asyncio.run(seed(settings, 20, Path(scratch)))
            line = files.users.read_text().splitlines()[0]
            email = files.emails.read_text().splitlines()[0]
        served = count(python, args.kind, args.requests, line, email, env)
        idle = count(python, args.kind, 0, line, email, env)
    finally:
        delete_redis_keys(options, prefix)
        drop_database(options)
    print(f"{args.kind}: {(served - idle) / args.requests:,.0f} instructions per request")


if __name__ == "__main__":
    main()
