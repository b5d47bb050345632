"""Throughput of the KOIKI middleware stack against a bare FastAPI app, measured in one run.

Both apps run in their own uvicorn process on loopback (one worker each, one at a time) and serve
the same trivial JSON route; the load comes from `wrk` when installed, else from a small asyncio
HTTP/1.1 keep-alive client. Rounds alternate bare/KOIKI so drift (CPU frequency, other load)
hits both. Bounded: `--duration` seconds per round (wrk) or `--requests` per round (python).

    .venv/bin/python -m bench.middleware_overhead                  # memory rate limiter
    .venv/bin/python -m bench.middleware_overhead --redis-url redis://127.0.0.1:6379/0

The access log goes to /dev/null but is still produced: it is part of the stack's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.apps import PATH

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(app: str, redis_url: str | None) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "BENCH_REDIS_URL": redis_url or ""}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", app,
            "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{app} did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)


def run_wrk(port: int, duration: float, connections: int) -> tuple[float, int]:
    result = subprocess.run(
        [
            "wrk", "-t", "1", "-c", str(connections), "-d", f"{duration:g}s",
            f"http://127.0.0.1:{port}{PATH}",
        ],
        capture_output=True, text=True, check=True, timeout=duration + 30,
    )  # fmt: skip
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", result.stdout)
    if rate is None:
        raise RuntimeError(f"unexpected wrk output:\n{result.stdout}")
    return float(rate.group(1)), int(bad.group(1)) if bad else 0


async def _python_load(port: int, requests: int, connections: int) -> tuple[float, int]:
    request = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    failures = 0

    async def worker(count: int) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(count):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                failures += 1
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
        writer.close()

    per_connection = max(1, requests // connections)
    started = time.perf_counter()
    await asyncio.gather(*(worker(per_connection) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return per_connection * connections / elapsed, failures


def measure(args: argparse.Namespace, app: str) -> tuple[float, int]:
    with server(app, args.redis_url) as port:
        if args.tool == "wrk":
            run_wrk(port, 1, args.connections)  # warm-up: imports, first connections
            return run_wrk(port, args.duration, args.connections)
        asyncio.run(_python_load(port, min(500, args.requests), args.connections))
        return asyncio.run(_python_load(port, args.requests, args.connections))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round (wrk)")
    parser.add_argument("--requests", type=int, default=5000, help="requests per round (python)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--redis-url", default=None, help="measure the Redis rate limiter")
    parser.add_argument("--tool", choices=("wrk", "python"), default=None)
    args = parser.parse_args()
    args.tool = args.tool or ("wrk" if shutil.which("wrk") else "python")
    args.rounds = max(1, min(args.rounds, 10))
    args.duration = max(1.0, min(args.duration, 30.0))
    args.requests = max(100, min(args.requests, 200_000))

    limiter = f"redis ({args.redis_url})" if args.redis_url else "memory"
    print(f"load: {args.tool}, {args.connections} connections; KOIKI rate limiter: {limiter}")
    results: dict[str, list[float]] = {"bare": [], "koiki": []}
    for round_number in range(1, args.rounds + 1):
        for name, app in (("bare", "bench.apps:bare_app"), ("koiki", "bench.apps:koiki_app")):
            rate, failures = measure(args, app)
            if failures:
                raise SystemExit(f"{name}: {failures} non-200 responses; the numbers are void")
            results[name].append(rate)
            print(f"round {round_number}  {name:5}  {rate:9.0f} req/s")
    bare, koiki = max(results["bare"]), max(results["koiki"])
    print(f"best of {args.rounds}: bare {bare:.0f} req/s, koiki {koiki:.0f} req/s")
    print(f"koiki/bare throughput ratio: {koiki / bare:.2f}")
    print(f"added cost per request: {(1 / koiki - 1 / bare) * 1e6:.0f} us")


if __name__ == "__main__":
    main()
