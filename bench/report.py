"""RESULTS.md and results.png: the figures, the ratios against the targets, and their origin."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
from redis.asyncio import Redis

from bench.load import PACED_FLOOD_RATE

if TYPE_CHECKING:
    from bench.harness import Results
    from bench.load import WrkResult

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {
    "health": "1. GET /health",
    "list": "2. GET /api/v1/todos?limit=20 (token)",
    "create": "3. POST /api/v1/todos",
    "flood": "4. GET /health during a login flood",
    "paced_flood": "4b. GET /health during logins at a set pace",
    "mixed": "5. mixed (list, get, health, create)",
}
TARGET_NAMES = {
    "K": "KOIKI-FW",
    "A": "bare Starlette",
    "B": "Starlette + asyncpg",
    "F": "FastAPI + SQLAlchemy session",
    "K2": "KOIKI-FW, 2 workers",
}
ORDER = ("A", "B", "F", "K", "K2")
PACKAGES = ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "sqlalchemy", "asyncpg",
            "redis", "hiredis", "structlog", "prometheus-client")  # fmt: skip


def installed_versions(python: Path) -> dict[str, str]:
    """Of the interpreter and the packages the servers run on, and of wrk."""
    probe = (
        "import importlib.metadata as m, json, platform, sys;"
        " print(json.dumps({'python': platform.python_version(),"
        " **{n: m.version(n) for n in sys.argv[1:]}}))"
    )
    installed = subprocess.run([str(python), "-c", probe, *PACKAGES], capture_output=True,
                               text=True, check=True).stdout  # fmt: skip
    packages = json.loads(installed)
    return {"python": packages.pop("python"), "wrk": wrk_version(), **packages}


async def versions(installed: dict[str, str], database_url: str, redis_url: str) -> dict[str, str]:
    """`installed` plus the services' own versions."""
    found = dict(installed)
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        found["PostgreSQL"] = str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()
    redis = Redis.from_url(redis_url)
    try:
        found["Redis"] = str((await redis.info("server"))["redis_version"])
    finally:
        await redis.aclose()
    return found


def wrk_version() -> str:
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return (wrk.stdout or wrk.stderr).split()[1]


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({model}),"
        f" {memory_kb / 1024 / 1024:.1f} GiB"
    )


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()  # fmt: skip

    # The run's own outputs (RESULTS.md and the chart, written first) do not make it dirty.
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/RESULTS.md",
                  ":!bench/results.png")  # fmt: skip
    dirty = " (with uncommitted changes)" if changed else ""
    return (git("rev-parse", "--short", "HEAD") or "unknown") + dirty


def targets(results: Results) -> list[tuple[str, str, str, bool, bool]]:
    """(target, measured, goal, floor met, goal met) for the four targets: README's floors and
    the goals behind them."""
    health_k, health_a = results.median("health", "K"), results.median("health", "A")
    list_k, list_b = results.median("list", "K"), results.median("list", "B")
    r1 = health_k.requests_per_second / health_a.requests_per_second
    r2 = list_k.requests_per_second / list_b.requests_per_second
    r4 = flood_ratio(results, "flood")
    half, end = results.rss["half"], results.rss["end"]
    k_most = max(half, end)
    growth = (end - half) / half
    return [
        ("1. K >= 0.40 x A req/s on /health", f"{r1:.2f} x", ">= 0.60 x", r1 >= 0.40, r1 >= 0.60),
        ("2. K >= 0.30 x B req/s on the todo list", f"{r2:.2f} x", ">= 0.45 x", r2 >= 0.30,
         r2 >= 0.45),
        ("4. /health p99 during the flood <= 3 x without (median round)", f"{r4:.2f} x",
         "<= 2.0 x", r4 <= 3.0, r4 <= 2.0),
        ("5. K RSS <= 120 MB (after 50k and 100k)", f"{k_most:.1f} MB", "<= 100 MB",
         k_most <= 120.0, k_most <= 100.0),
        ("5. RSS growth 50k -> 100k < 5 %", f"{growth * 100:+.1f} %", "< 5 %", growth < 0.05,
         growth < 0.05),
    ]  # fmt: skip


def flood_ratio(results: Results, scenario: str) -> float:
    """The median round's /health p99 during the flood over the same round's quiet one (both
    rounds saw the same machine)."""
    per_round = sorted(
        flood.p99_ms / quiet.p99_ms
        for flood, quiet in zip(
            results.runs[(scenario, "K")], results.runs[("health", "K")], strict=True
        )
    )
    return per_round[len(per_round) // 2]


def _cpu_ratio(baseline: WrkResult, koiki: WrkResult) -> str:
    """How K compares by CPU per request: baseline CPU / K CPU, like the req/s ratios."""
    if not baseline.cpu_ms_per_request or not koiki.cpu_ms_per_request:
        return "n/a"
    return f"{baseline.cpu_ms_per_request / koiki.cpu_ms_per_request:.2f}"


def _yes(met: bool) -> str:
    return "yes" if met else "**no**"


def _per_worker(results: Results, scenario: str) -> str:
    one, two = results.median(scenario, "K"), results.median(scenario, "K2")
    return (
        f"{SCENARIOS[scenario].split(' ', 1)[1]} {two.requests_per_second:,.0f} req/s"
        f" ({two.requests_per_second / one.requests_per_second:.2f} x one worker)"
    )


def chart(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(scenario, target) for scenario in SCENARIOS for target in ORDER
            if (scenario, target) in results.runs]  # fmt: skip
    labels = [f"{SCENARIOS[s].split(' ', 1)[0]} {TARGET_NAMES[t]}" for s, t in rows]
    colours = [{"K": "#2b6cb0", "K2": "#63b3ed"}.get(t, "#8c8c8c") for _, t in rows]
    medians = [results.median(s, t) for s, t in rows]
    figure, (rate_axis, p99_axis) = plt.subplots(1, 2, figsize=(12, 0.45 * len(rows) + 1.6))
    positions = list(range(len(rows)))[::-1]
    rate_axis.barh(positions, [m.requests_per_second for m in medians], color=colours)
    rate_axis.set_title("requests/s (higher is better)")
    p99_axis.barh(positions, [m.p99_ms for m in medians], color=colours)
    p99_axis.set_title("p99 latency, ms (lower is better)")
    for axis in (rate_axis, p99_axis):
        axis.set_yticks(positions, labels if axis is rate_axis else [""] * len(rows))
        axis.grid(axis="x", alpha=0.3)
    options = results.options
    figure.suptitle(
        f"KOIKI-FW vs bare baselines, same run: wrk -t1 -c{options.connections}"
        f" -d{options.duration:g}s, median of {options.rounds} rounds",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(results: Results) -> None:
    options = results.options
    options.output.mkdir(parents=True, exist_ok=True)
    chart(results, options.output / "results.png")
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/harness.py); do not edit by hand. Ratios compare targets"
        " measured in the same run, so they travel between machines better than the absolute"
        " figures do.",
        "",
        f"- date: {results.started:%Y-%m-%d %H:%M} UTC"
        f" (took {(datetime.now(UTC) - results.started).total_seconds() / 60:.1f} min)",
        f"- commit: {commit()}",
        f"- machine: {machine()}",
        f"- load: wrk -t1 -c{options.connections} -d{options.duration:g}s after a"
        f" {options.warmup:g} s warm-up, median of {options.rounds} rounds;"
        f" {options.users} users rotated, each with 20 todos",
        "- versions: " + ", ".join(f"{name} {value}" for name, value in results.versions.items()),
        "",
        "Every server runs from a virtual environment installed from requirements/runtime.txt"
        " alone and without docstrings or asserts (PYTHONOPTIMIZE=2), as the Docker image runs"
        " its server. K: KOIKI-FW in production configuration (one uvicorn"
        " worker, uvloop, httptools, no WebSocket, PostgreSQL, Redis rate limiting, JSON access"
        " log to a file, metrics, all middleware); K2 the same with two workers. A: bare"
        " Starlette. B: bare Starlette + asyncpg, one query. F: bare FastAPI + an"
        " SQLAlchemy session, the same Core query and Pydantic page as K (no authentication,"
        " rate limiting or middleware): the page served the common FastAPI way.",
        "",
        "![requests/s and p99 per scenario](results.png)",
        "",
        "## Targets",
        "",
        "| target (floor) | measured | floor met | goal | goal met |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {name} | {value} | {_yes(floor)} | {goal} | {_yes(met)} |"
              for name, value, goal, floor, met in targets(results)]  # fmt: skip
    floor, bare = results.median("list", "F"), results.median("list", "B")
    koiki = results.median("list", "K")
    f_to_b = floor.requests_per_second / bare.requests_per_second
    lines += [
        "",
        f"Scenario 2 the common FastAPI way: F = {f_to_b:.2f}"
        f" x B; K = {koiki.requests_per_second / floor.requests_per_second:.2f} x F (K adds"
        " authentication, the revocation check, rate limiting and middleware, and reads through"
        " its Reader instead of a session)."
        f" By the servers' own CPU time per request (median round), K = {_cpu_ratio(bare, koiki)}"
        f" x B and {_cpu_ratio(floor, koiki)} x F.",
        "",
        "## Figures (median round)",
        "",
        "CPU ms/req: the server process's user + system time per request served (during the login"
        " flood it includes the password hashing).",
        "",
        "| scenario | target | req/s | p50 ms | p99 ms | CPU ms/req |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for scenario, title in SCENARIOS.items():
        for target in ORDER:
            if (scenario, target) in results.runs:
                m = results.median(scenario, target)
                cpu = "" if m.cpu_ms_per_request is None else f"{m.cpu_ms_per_request:.3f}"
                lines.append(
                    f"| {title} | {TARGET_NAMES[target]} | {m.requests_per_second:,.0f}"
                    f" | {m.p50_ms:.2f} | {m.p99_ms:.2f} | {cpu} |"
                )
    rss = results.rss
    lines += [
        "",
        f"RSS of K: {rss['start']:.1f} MB just after the scenarios 1-4 (the flood's last hashes"
        f" still in flight), {rss['half']:.1f} MB after"
        f" {results.served['half']:,} mixed requests, {rss['end']:.1f} MB after"
        f" {results.served['end']:,}. A: {rss['A']:.1f} MB, B: {rss['B']:.1f} MB.",
        "",
        "K2, two workers: "
        + ", ".join(f"{value:.1f} MB" for value in results.k2_rss)
        + " per worker after scenarios 1 and 2; "
        + _per_worker(results, "health")
        + "; "
        + _per_worker(results, "list")
        + ".",
        "",
        f"After `import main` in a fresh interpreter, before any request:"
        f" {results.import_rss['runtime']:.1f} MB from the runtime install (PYTHONOPTIMIZE=2),"
        f" {results.import_rss['dev']:.1f} MB from the dev install (no optimisation).",
        "",
        f"Login flood answers per round (status:count): {'; '.join(results.flood)}.",
        "",
        f"Scenario 4b, logins at a set pace of {PACED_FLOOD_RATE:g} a second from as many"
        " addresses, whatever K answers (an attack's pace, where scenario 4's clients wait for"
        f" each answer): /health p99 {flood_ratio(results, 'paced_flood'):.2f} x without"
        f" (median round); answers per round: {'; '.join(results.paced_flood)}.",
        "",
    ]
    (options.output / "RESULTS.md").write_text("\n".join(lines))
    print("\n".join(lines))
