"""K from several checkouts side by side, against the same bare baseline, in alternating rounds.

    git worktree add ../koiki-before <commit>
    .venv/bin/python -m bench.compare ../koiki-before . [--kind list] [--rounds 3] [--duration 8]

Each CHECKOUT is a copy of this repository; its K runs from this checkout's runtime install, as
`make bench` runs K, on one seeded database, each with its own Redis key prefix. Rounds alternate
the targets, so a machine that drifts moves all of them alike: a change of a few per cent, which
two runs of `make bench` cannot tell from noise, shows here. Kinds: `list` (scenario 2, against
B) and `health` (scenario 1, against A) print each round, then each target's median req/s and
server CPU per request, and its ratio to the baseline by each; `flood` (scenario 4) prints each
K's /health p99 during a login flood against its p99 just before, and the median ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from bench.harness import (
    ROOT,
    Server,
    compile_bytecode,
    koiki_env,
    login_flood,
    measured_wrk,
    parse_options,
    runtime_python,
    seeded_database,
    uvicorn,
)
from bench.load import WrkResult

WARM_UP_SECONDS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("checkouts", nargs="+", type=Path, metavar="CHECKOUT")
    parser.add_argument("--kind", choices=["list", "health", "flood"], default="list")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    args = parser.parse_args()
    options = parse_options([])  # the servers of `make bench` (BENCH_* variables)
    options.database_url += "_compare"  # never the data of a `make bench` running meanwhile
    prefix = f"koiki-compare-{os.getpid()}:"
    env = koiki_env(options, prefix)
    python = runtime_python()
    logs = ROOT / "var" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="koiki-compare-") as scratch:
        seeded = seeded_database(stack, options, env, prefix, Path(scratch))
        users = seeded.users
        targets: list[tuple[str, Server, tuple[str, ...] | None]] = []
        for number, checkout in enumerate(args.checkouts):
            checkout = checkout.resolve()
            compile_bytecode(python, checkout)
            name = f"K{number} ({checkout.name})"
            server_env = {**env, "REDIS_KEY_PREFIX": f"{prefix}{number}:"}
            log = logs / f"compare-k{number}.log"
            server = stack.enter_context(
                uvicorn(name, "main:app", server_env, log, python, checkout=checkout)
            )
            targets.append((name, server, ("list",) if args.kind == "list" else None))
        if args.kind == "list":
            dsn = options.database_url.replace("postgresql+asyncpg://", "postgresql://")
            baseline_env = {"BENCH_ASYNCPG_DSN": dsn}
            baseline = uvicorn(
                "B", "bench.baselines:todos_app", baseline_env, logs / "compare-b.log", python
            )
            targets.append(("B", stack.enter_context(baseline), ("list_bare",)))
        elif args.kind == "health":
            log = logs / "compare-a.log"
            baseline = uvicorn("A", "bench.baselines:health_app", {}, log, python)
            targets.append(("A", stack.enter_context(baseline), None))

        def run(server: Server, kinds: tuple[str, ...] | None, seconds: float) -> WrkResult:
            result = measured_wrk(server, kinds, seconds, options.connections, users)
            if result.failures:
                raise SystemExit(f"{server.name}: {result.failures} failed requests")
            return result

        for _name, server, kinds in targets:
            run(server, kinds, WARM_UP_SECONDS)
        if args.kind == "flood":
            _compare_floods(targets, args.rounds, args.duration, run, seeded.emails, logs)
            return
        rounds: dict[str, list[WrkResult]] = {name: [] for name, _, _ in targets}
        for number in range(1, args.rounds + 1):
            for name, server, kinds in targets:
                result = run(server, kinds, args.duration)
                rounds[name].append(result)
                print(f"round {number} {name}: {result.requests_per_second:,.0f} req/s, "
                      f"{result.cpu_ms_per_request:.3f} ms CPU/req", flush=True)  # fmt: skip
    base_name = targets[-1][0]
    base_rate, base_cpu = _medians(rounds[base_name])
    for name, results in rounds.items():
        rate, cpu = _medians(results)
        print(f"{name}: {rate:,.0f} req/s ({rate / base_rate:.3f} x {base_name}), "
              f"{cpu:.3f} ms CPU/req ({base_cpu / cpu:.3f} x {base_name} by CPU)")  # fmt: skip


def _compare_floods(
    targets: list[tuple[str, Server, tuple[str, ...] | None]],
    rounds: int,
    duration: float,
    run: Callable[[Server, tuple[str, ...] | None, float], WrkResult],
    emails: Path,
    logs: Path,
) -> None:
    """Scenario 4 for each K: /health's p99 during a login flood, against its p99 just before."""
    ratios: dict[str, list[float]] = {name: [] for name, _, _ in targets}
    for number in range(1, rounds + 1):
        for name, server, _kinds in targets:
            quiet = run(server, None, duration)
            with login_flood(server, emails, logs / "compare-flood.log") as outcome:
                flooded = run(server, None, duration)
            ratios[name].append(flooded.p99_ms / quiet.p99_ms)
            print(f"round {number} {name}: /health p99 {quiet.p99_ms:.2f} ms, "
                  f"{flooded.p99_ms:.2f} ms in the flood ({ratios[name][-1]:.2f} x), "
                  f"logins answered {outcome[0]}", flush=True)  # fmt: skip
    for name, values in ratios.items():
        print(f"{name}: /health p99 in the flood {statistics.median(values):.2f} x without")


def _medians(results: list[WrkResult]) -> tuple[float, float]:
    return (
        statistics.median(result.requests_per_second for result in results),
        statistics.median(result.cpu_ms_per_request or 0.0 for result in results),
    )


if __name__ == "__main__":
    main()
