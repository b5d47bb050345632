"""Throughput of the KOIKI middleware stack against a bare FastAPI app, measured in one run.

Both apps run in their own uvicorn process on loopback (one worker each, one at a time) and serve
the same trivial JSON route; the load comes from `wrk` when installed, else from a small asyncio
HTTP/1.1 keep-alive client, spread over 10,000 client addresses sent as X-Forwarded-For (the
loopback peer is a trusted proxy, as nginx would be). Rounds alternate bare/KOIKI so drift
(CPU frequency, other load) hits both. Bounded: `--duration` seconds per round (wrk) or
`--requests` per round (python).

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
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.apps import CLIENTS, PATH, client_address

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(app: str, redis_url: str | None, without: str = "") -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "BENCH_REDIS_URL": redis_url or "", "BENCH_WITHOUT": without}
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


WRK_SCRIPT = f"""
counter = 0
request = function()
  counter = counter + 1
  local n = counter % {CLIENTS}
  local address = "198.18." .. math.floor(n / 256) .. "." .. (n % 256)
  return wrk.format("GET", nil, {{["X-Forwarded-For"] = address}})
end
"""


def run_wrk(port: int, duration: float, connections: int) -> tuple[float, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT)
        script.flush()
        result = subprocess.run(
            [
                "wrk", "-t", "1", "-c", str(connections), "-d", f"{duration:g}s",
                "-s", script.name, f"http://127.0.0.1:{port}{PATH}",
            ],
            capture_output=True, text=True, check=True, timeout=duration + 30,
        )  # fmt: skip
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", result.stdout)
    if rate is None:
        raise RuntimeError(f"unexpected wrk output:\n{result.stdout}")
    return float(rate.group(1)), int(bad.group(1)) if bad else 0


async def _python_load(port: int, requests: int, connections: int) -> tuple[float, int]:
    failures = 0
    sent = 0

    async def worker(count: int) -> None:
        nonlocal failures, sent
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(count):
            sent += 1
            writer.write(
                f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"X-Forwarded-For: {client_address(sent)}\r\n\r\n".encode()
            )
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


def measure(args: argparse.Namespace, app: str, without: str = "") -> tuple[float, int]:
    with server(app, args.redis_url, without) as port:
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
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also measure KOIKI without the access log, metrics, rate limiting",
    )
    args = parser.parse_args()
    args.tool = args.tool or ("wrk" if shutil.which("wrk") else "python")
    args.rounds = max(1, min(args.rounds, 10))
    args.duration = max(1.0, min(args.duration, 30.0))
    args.requests = max(100, min(args.requests, 200_000))

    limiter = f"redis ({args.redis_url})" if args.redis_url else "memory"
    print(f"load: {args.tool}, {args.connections} connections; KOIKI rate limiter: {limiter}")
    variants = [("bare", "bench.apps:bare_app", ""), ("koiki", "bench.apps:koiki_app", "")]
    if args.breakdown:
        variants += [
            (f"koiki -{layer}", "bench.apps:koiki_app", layer)
            for layer in ("access-log", "metrics", "rate-limit")
        ]
    results: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    for round_number in range(1, args.rounds + 1):
        for name, app, without in variants:
            rate, failures = measure(args, app, without)
            if failures:
                raise SystemExit(f"{name}: {failures} non-200 responses; the numbers are void")
            results[name].append(rate)
            print(f"round {round_number}  {name:18} {rate:9.0f} req/s")
    best = {name: max(rates) for name, rates in results.items()}
    bare = best["bare"]
    print(f"best of {args.rounds}:")
    for name, rate in best.items():
        cost = (1 / rate - 1 / bare) * 1e6
        print(f"  {name:18} {rate:9.0f} req/s  ratio {rate / bare:4.2f}  +{cost:5.0f} us/request")
    print(f"koiki/bare throughput ratio: {best['koiki'] / bare:.2f}")


if __name__ == "__main__":
    main()
