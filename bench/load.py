"""Load generation: `wrk` for every measured side, a small asyncio client for the login flood.

`wrk` runs with one thread and a fixed number of connections; a generated Lua script rotates the
seeded users (each request carries one of their bearer tokens), so rate-limit windows stay as
small as real users keep them. `python -m bench.load flood ...` is the flood client, run as its
own process so its CPU never counts against the measured server's event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

# Per request kind: how the Lua `request()` builds it. `i` is the rotating user index (1-based),
# `tokens[i]`, `owners[i]` and `todos[i]` come from the seed file.
_REQUESTS = {
    "health": 'wrk.format("GET", "/health")',
    "list": 'wrk.format("GET", "/api/v1/todos?limit=20", auth(i))',
    "list_bare": 'wrk.format("GET", "/api/v1/todos?limit=20&owner=" .. owners[i])',
    "get": 'wrk.format("GET", "/api/v1/todos/" .. todos[i], auth(i))',
    "create": 'wrk.format("POST", "/api/v1/todos", auth(i, true), body)',
}
# The mixed load of scenario 5, one request per entry, in this order, over and over.
MIXED = ("list", "health", "get", "list", "create", "get", "list", "health", "get", "list")

_LUA = """
local tokens, owners, todos = {{}}, {{}}, {{}}
for line in io.lines("{seed}") do
  local owner, todo, token = line:match("(%d+)\\t(%d+)\\t(%S+)")
  owners[#owners + 1] = owner
  todos[#todos + 1] = todo
  tokens[#tokens + 1] = token
end
local body = '{{"title": "benchmark todo", "description": "written by make bench"}}'
local function auth(i, json)
  local headers = {{["Authorization"] = "Bearer " .. tokens[i]}}
  if json then headers["Content-Type"] = "application/json" end
  return headers
end
local kinds = {{{kinds}}}
local n = 0
request = function()
  n = n + 1
  -- One user per cycle of kinds: with n alone, a kind would always meet the same few users
  -- (every 10th of 500) and hit their per-user write limit.
  local i = math.floor(n / #kinds) % #tokens + 1
  local kind = kinds[n % #kinds + 1]
  {dispatch}
end
"""


def lua_script(kinds: tuple[str, ...], seed: Path) -> str:
    dispatch = "\n  ".join(
        f'{"if" if n == 0 else "elseif"} kind == "{kind}" then return {_REQUESTS[kind]}'
        for n, kind in enumerate(dict.fromkeys(kinds))
    )
    return _LUA.format(
        seed=seed,
        kinds=", ".join(f'"{kind}"' for kind in kinds),
        dispatch=dispatch + "\n  end",
    )


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int  # non-2xx/3xx answers plus socket errors
    output: str
    # The server process's own CPU time (user + system) per request served; steadier than req/s
    # on a machine whose speed drifts, since it does not count waiting for a busy core.
    cpu_ms_per_request: float | None = None


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> WrkResult:
    def find(pattern: str) -> re.Match[str] | None:
        return re.search(pattern, output, re.MULTILINE)

    rate = find(r"Requests/sec:\s+([\d.]+)")
    p50, p99 = find(r"^\s+50%\s+(\S+)\s*$"), find(r"^\s+99%\s+(\S+)\s*$")
    total = find(r"(\d+) requests in")
    if rate is None or p50 is None or p99 is None or total is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    failures = 0
    if bad := find(r"Non-2xx or 3xx responses:\s+(\d+)"):
        failures += int(bad.group(1))
    if errors := find(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"):
        failures += sum(int(count) for count in errors.groups())
    return WrkResult(
        float(rate.group(1)),
        _ms(p50.group(1)),
        _ms(p99.group(1)),
        int(total.group(1)),
        failures,
        output,
    )


def run_wrk(
    url: str,
    *,
    duration: float,
    connections: int,
    kinds: tuple[str, ...] | None = None,
    seed: Path | None = None,
) -> WrkResult:
    """One wrk run; `kinds` None is a plain GET of `url` (no Lua, wrk's fastest path)."""
    # A 30 s timeout: a slow answer belongs in the latency figures, not among the errors.
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--timeout",
        "30s",
        "--latency",
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if kinds is not None:
            assert seed is not None
            script.write(lua_script(kinds, seed))
            script.flush()
            command += ["-s", script.name]
        result = subprocess.run(
            [*command, url], capture_output=True, text=True, check=True, timeout=duration + 60
        )
    return parse_wrk(result.stdout)


# --- the login flood --------------------------------------------------------------------------


# Scenario 4b's attack: below what one hashing thread answers on the machines seen so far
# (20-40 logins a second), so every run of every commit meets the same pace.
PACED_FLOOD_RATE = 10.0


def client_address(n: int) -> str:
    """The n-th client in the benchmarking range 198.18.0.0/15: each login from a fresh address,
    so the per-address login limit (10/minute) never answers instead of the password hash."""
    n %= 2**17
    return f"198.{18 + n // 65536}.{n // 256 % 256}.{n % 256}"


async def flood(
    base_url: str, emails: list[str], password: str, concurrency: int, rate: float = 0.0
) -> None:
    """Log in until SIGTERM: `concurrency` clients without pause, or with `rate`, that many logins
    a second whatever the answers take (an attack's pace, not the server's)."""
    counts: dict[str, int] = {}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    sent = 0

    async def login(client: httpx.AsyncClient, n: int) -> None:
        try:
            response = await client.post(
                "/api/v1/auth/login",
                data={"username": emails[n % len(emails)], "password": password},
                headers={"X-Forwarded-For": client_address(n)},
            )
            outcome = str(response.status_code)
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        counts[outcome] = counts.get(outcome, 0) + 1

    async def without_pause(client: httpx.AsyncClient) -> None:
        nonlocal sent
        while not stop.is_set():
            sent += 1
            await login(client, sent)

    async def at_rate(client: httpx.AsyncClient) -> None:
        nonlocal sent
        started = loop.time()
        while not stop.is_set():
            sent += 1
            in_flight.append(asyncio.create_task(login(client, sent)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), started + sent / rate - loop.time())

    in_flight: list[asyncio.Task[None]] = []
    limits = httpx.Limits(max_connections=None if rate else concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        if rate:
            await at_rate(client)
        else:
            in_flight = [asyncio.create_task(without_pause(client)) for _ in range(concurrency)]
            await stop.wait()
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
    print(" ".join(f"{status}:{count}" for status, count in sorted(counts.items())), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="login flood until SIGTERM")
    parser.add_argument("command", choices=["flood"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--emails", required=True, help="file with one e-mail address a line")
    parser.add_argument("--password", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0.0, help="logins a second; 0: without pause")
    args = parser.parse_args()
    emails = Path(args.emails).read_text().split()
    asyncio.run(flood(args.url, emails, args.password, args.concurrency, args.rate))


if __name__ == "__main__":
    main()
