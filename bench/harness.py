"""`make bench`: KOIKI-FW against bare baselines, in one run, on loopback.

Targets, each its own uvicorn process with one worker (uvloop, httptools, --ws none as in the
image), each run by a virtual environment installed from requirements/runtime.txt alone, as the
Docker image is (the dev lock's extras, rich and pygments among them, would change K's memory and
imports):
  K  the reference app in its production configuration: PostgreSQL, Redis rate limiting (limits
     high enough never to refuse), JSON access log written to a file, metrics, all middleware;
  K2 the same with two uvicorn workers (scenarios 1 and 2: req/s and RSS per worker);
  A  bare Starlette answering /health;
  B  bare Starlette + asyncpg answering the same 20 todos in one query;
  F  bare FastAPI + an SQLAlchemy session, the same page and query (the common way, reported).
Scenarios (wrk, one thread, fixed connections, after a warm-up; rounds alternate targets so
drift hits all of them):
  1 GET /health, K vs A           2 GET /api/v1/todos?limit=20 with a token, K vs B
  3 POST /api/v1/todos, K alone   4 GET /health on K while 8 clients log in without pause
  4b the same while logins arrive at a set pace (10 a second), whatever K answers
  5 100,000 mixed requests on K: RSS after 50,000 and after 100,000.
RSS after `import main` in a fresh interpreter is reported for the runtime and the dev install.
The median round is reported. Results: RESULTS.md and results.png in the output directory.

It creates (and drops) its own database and uses its own Redis database index and key prefix;
Ctrl-C stops every process it started.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from redis import Redis

from bench import report
from bench.load import MIXED, PACED_FLOOD_RATE, WrkResult, run_wrk
from bench.seed import PASSWORD, SeedFiles, seed
from libkoiki.config import Settings

ROOT = Path(__file__).resolve().parent.parent
PROTECTED_DATABASES = frozenset({"postgres", "test", "template0", "template1"})
PROTECTED_REDIS_DATABASES = frozenset({0, 1})
FLOOD_CONCURRENCY = 8


@dataclass
class Options:
    database_url: str
    redis_url: str
    duration: float
    rounds: int
    connections: int
    mixed_requests: int
    users: int
    output: Path
    warmup: float = 2.0

    @property
    def database(self) -> str:
        return urlsplit(self.database_url).path.lstrip("/")


def parse_options(argv: list[str] | None = None) -> Options:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--database-url",
        default=env("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/koiki_bench"),
        help="created at start and dropped at the end (BENCH_DATABASE_URL)",
    )
    parser.add_argument(
        "--redis-url",
        default=env("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        help="a database index of the benchmark's own (BENCH_REDIS_URL)",
    )
    parser.add_argument("--duration", type=float, default=float(env("BENCH_DURATION", "15")))
    parser.add_argument("--rounds", type=int, default=int(env("BENCH_ROUNDS", "3")))
    parser.add_argument("--connections", type=int, default=int(env("BENCH_CONNECTIONS", "32")))
    parser.add_argument(
        "--mixed-requests", type=int, default=int(env("BENCH_MIXED_REQUESTS", "100000"))
    )
    parser.add_argument("--users", type=int, default=int(env("BENCH_USERS", "500")))
    parser.add_argument(
        "--output", type=Path, default=Path(env("BENCH_OUTPUT", str(ROOT / "bench")))
    )
    args = parser.parse_args(argv)
    options = Options(
        database_url=args.database_url,
        redis_url=args.redis_url,
        duration=max(1.0, args.duration),
        rounds=max(1, args.rounds),
        connections=max(1, args.connections),
        mixed_requests=max(2000, args.mixed_requests),
        users=max(10, args.users),
        output=args.output,
    )
    if options.database in PROTECTED_DATABASES:
        parser.error(f"refusing to create and drop the database {options.database!r}")
    redis_db = int(urlsplit(options.redis_url).path.lstrip("/") or 0)
    if redis_db in PROTECTED_REDIS_DATABASES:
        parser.error(f"Redis database {redis_db} belongs to development and tests; use another")
    return options


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    workers: int = 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serving_pids(self) -> list[int]:
        """The processes that answer requests: uvicorn itself, or its workers with --workers."""
        if self.workers == 1:
            return [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = [int(pid) for pid in children.read_text().split()]
        # The supervisor also starts a multiprocessing resource tracker, which serves nothing.
        return [pid for pid in pids if b"spawn_main" in _cmdline(pid)]

    def cpu_seconds(self) -> float:
        """User + system CPU time of the serving processes so far (all their threads)."""
        return sum(_cpu_seconds(pid) for pid in self.serving_pids())

    def rss_mb(self) -> float:
        """RSS of the serving process; with several workers, the largest worker's."""
        return max(self.worker_rss_mb())

    def worker_rss_mb(self) -> list[float]:
        return [_rss_mb(pid) for pid in self.serving_pids()]


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"process {pid}: no VmRSS")


# Part of the cache key: a change to how the environment is made installs it afresh.
_INSTALL_RECIPE = b"pip --require-hashes --only-binary; compileall optimize=2"


def runtime_python() -> Path:
    """The interpreter of a virtual environment holding requirements/runtime.txt and nothing else,
    installed as the Dockerfile does; made once per version of the lock and reused."""
    lock = ROOT / "requirements" / "runtime.txt"
    digest = hashlib.sha256(lock.read_bytes() + _INSTALL_RECIPE).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "koiki-bench"
    venv = cache / f"runtime-{sys.version_info.major}.{sys.version_info.minor}-{digest}"
    python = venv / "bin" / "python"
    # Written last: an interrupted install is never taken for a finished one.
    installed = venv / ".installed"
    if installed.exists():
        return python
    print(f"installing requirements/runtime.txt into {venv} (once per lock)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = subprocess.run(
        [
            str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--require-hashes", "--only-binary=:all:", "--no-deps", "-r", str(lock),
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if pip.returncode != 0:
        raise SystemExit(f"installing requirements/runtime.txt failed:\n{pip.stdout}{pip.stderr}")
    # As the Dockerfile does: bytecode for servers without docstrings too, so that no run of K
    # compiles it (and measures the compiler's garbage).
    compile_all = "import compileall, sys; compileall.compile_dir(sys.argv[1], quiet=2, optimize=2)"
    subprocess.run([str(python), "-c", compile_all, str(venv / "lib")], check=True)
    installed.touch()
    return python


# Every server runs as docker-entrypoint.sh starts the image's: without docstrings and asserts.
SERVER_ENV = {"PYTHONOPTIMIZE": "2"}


@contextmanager
def uvicorn(
    name: str,
    app: str,
    env: dict[str, str],
    log: Path,
    python: Path,
    workers: int = 1,
    checkout: Path = ROOT,
) -> Iterator[Server]:
    """`app` served from `checkout` (a copy of this repository; bench.compare runs others)."""
    port = free_port()
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                str(python), "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
                "--ws", "none", "--no-access-log", "--log-level", "warning",
            ],
            cwd=checkout, env={**os.environ, **SERVER_ENV, **env}, stdout=log_file,
            stderr=log_file,
        )  # fmt: skip
    server = Server(name, port, process, workers)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    if len(server.serving_pids()) == workers:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {log}") from None
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def login_flood(server: Server, emails: Path, log: Path, rate: float = 0.0) -> Iterator[list[str]]:
    """Eight clients logging in without pause until the block ends, or `rate` logins a second;
    yields the status counts."""
    outcome: list[str] = []
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "bench.load", "flood", "--url", server.url,
                "--emails", str(emails), "--password", PASSWORD,
                "--concurrency", str(FLOOD_CONCURRENCY), "--rate", str(rate),
            ],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=log_file,
        )  # fmt: skip
    try:
        time.sleep(1.0)  # logins are hashing before the measurement starts
        yield outcome
    finally:
        process.terminate()
        stdout, _ = process.communicate(timeout=60)
        outcome.append(stdout.decode().strip())


# --- database and Redis ---------------------------------------------------------------------


async def _admin(options: Options, statement: str) -> None:
    parts = urlsplit(options.database_url)
    # CREATE/DROP DATABASE must run from another database; nothing else is done there.
    connection = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def create_database(options: Options) -> None:
    asyncio.run(_admin(options, f'DROP DATABASE IF EXISTS "{options.database}" WITH (FORCE)'))
    asyncio.run(_admin(options, f'CREATE DATABASE "{options.database}"'))


def drop_database(options: Options) -> None:
    asyncio.run(_admin(options, f'DROP DATABASE IF EXISTS "{options.database}" WITH (FORCE)'))


def seeded_database(
    stack: ExitStack, options: Options, env: dict[str, str], prefix: str, work: Path
) -> SeedFiles:
    """The bench's database created, migrated and seeded (files in `work`); it is dropped, and
    the Redis keys under `prefix` deleted, when `stack` closes."""
    create_database(options)
    stack.callback(drop_database, options)
    stack.callback(delete_redis_keys, options, prefix)
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True,
    )  # fmt: skip
    settings = Settings(_env_file=None, **{key.lower(): value for key, value in env.items()})  # type: ignore[arg-type]
    return asyncio.run(seed(settings, options.users, work))


def compile_bytecode(python: Path, checkout: Path = ROOT) -> None:
    """The app's bytecode, as the image holds it: no server compiles it at start."""
    subprocess.run(
        [str(python), "-m", "compileall", "-q", "-o", "0", "-o", "2", "main.py", "libkoiki",
         "app", "bench"],
        cwd=checkout, check=True,
    )  # fmt: skip


def delete_redis_keys(options: Options, prefix: str) -> None:
    client = Redis.from_url(options.redis_url)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
    finally:
        client.close()


def koiki_env(options: Options, prefix: str) -> dict[str, str]:
    return {
        "APP_ENV": "production",
        # Production-strength secrets protecting nothing but a throwaway database.
        "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
        "JWT_SECRET": "bench-jwt-secret-0123456789abcdef0123456789",
        "ACCESS_TOKEN_EXPIRE_MINUTES": "1440",
        "DATABASE_URL": options.database_url,
        "REDIS_URL": options.redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_STRATEGY": "redis",
        # Counted on every API request, never refused: the cost is measured, not the refusal.
        "RATE_LIMIT_DEFAULT": "100000/minute",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "METRICS_ENABLED": "true",
        "CORS_ORIGINS": "https://app.example.com",
        "TRUSTED_HOSTS": "127.0.0.1,localhost",
    }


# --- the run --------------------------------------------------------------------------------


@dataclass
class Results:
    options: Options
    runs: dict[tuple[str, str], list[WrkResult]] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)
    k2_rss: list[float] = field(default_factory=list)  # per worker, after scenarios 1 and 2
    import_rss: dict[str, float] = field(default_factory=dict)  # "runtime"/"dev": after import
    served: dict[str, int] = field(default_factory=dict)  # mixed requests at each RSS reading
    flood: list[str] = field(default_factory=list)
    paced_flood: list[str] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    versions: dict[str, str] = field(default_factory=dict)

    def add(self, scenario: str, target: str, result: WrkResult) -> None:
        if result.failures:
            raise SystemExit(
                f"{scenario}/{target}: {result.failures} failed requests; the figures are void."
                f" wrk said:\n{result.output}\nThe servers' logs are in var/bench/."
            )
        self.runs.setdefault((scenario, target), []).append(result)
        print(
            f"  {scenario:8} {target:2} {result.requests_per_second:9.0f} req/s"
            f"  p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms",
            flush=True,
        )

    def median(self, scenario: str, target: str) -> WrkResult:
        runs = self.runs[(scenario, target)]
        return sorted(runs, key=lambda run: run.requests_per_second)[len(runs) // 2]


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def measured_wrk(
    server: Server, kinds: tuple[str, ...] | None, seconds: float, connections: int, seed: Path
) -> WrkResult:
    """One wrk run on `server` (`/health` when `kinds` is None), with its CPU per request."""
    url = server.url + ("/health" if kinds is None else "")
    started = server.cpu_seconds()
    result = run_wrk(url, duration=seconds, connections=connections, kinds=kinds, seed=seed)
    cpu_ms = (server.cpu_seconds() - started) * 1000 / max(1, result.requests)
    return replace(result, cpu_ms_per_request=cpu_ms)


def measure(options: Options, results: Results, k: Server, k2: Server, a: Server, b: Server,
            f: Server, seed_file: Path, emails: Path, logs: Path) -> None:  # fmt: skip
    def wrk(server: Server, kinds: tuple[str, ...] | None, seconds: float) -> WrkResult:
        return measured_wrk(server, kinds, seconds, options.connections, seed_file)

    print(f"warm-up: {options.warmup:g} s per target and request kind", flush=True)
    for server, kinds in ((a, None), (k, None), (k2, None), (b, ("list_bare",)),
                          (f, ("list_bare",)), (k, ("list",)), (k2, ("list",)),
                          (k, ("create",))):  # fmt: skip
        wrk(server, kinds, options.warmup)
    for round_number in range(1, options.rounds + 1):
        print(f"round {round_number}/{options.rounds}", flush=True)
        results.add("health", "A", wrk(a, None, options.duration))
        results.add("health", "K", wrk(k, None, options.duration))
        results.add("health", "K2", wrk(k2, None, options.duration))
        results.add("list", "B", wrk(b, ("list_bare",), options.duration))
        results.add("list", "F", wrk(f, ("list_bare",), options.duration))
        results.add("list", "K", wrk(k, ("list",), options.duration))
        results.add("list", "K2", wrk(k2, ("list",), options.duration))
        results.add("create", "K", wrk(k, ("create",), options.duration))
        with login_flood(k, emails, logs / "flood.log") as outcome:
            results.add("flood", "K", wrk(k, None, options.duration))
        results.flood.append(outcome[0])
        print(f"  login flood answers (status:count): {outcome[0]}", flush=True)
        # The attack's pace set, not the server's: a server that answers logins faster is not
        # handed more of them (scenario 4b).
        with login_flood(k, emails, logs / "flood.log", rate=PACED_FLOOD_RATE) as outcome:
            results.add("paced_flood", "K", wrk(k, None, options.duration))
        results.paced_flood.append(outcome[0])
        print(f"  {PACED_FLOOD_RATE:g} logins/s answers (status:count): {outcome[0]}", flush=True)
    results.k2_rss = k2.worker_rss_mb()
    # wrk counts time, not requests: whole runs until each half of the total has been served.
    half = options.mixed_requests // 2
    print(f"mixed: 2 x {half} requests", flush=True)
    results.rss["start"] = k.rss_mb()
    served = 0
    for mark, goal in (("half", half), ("end", 2 * half)):
        while served < goal:
            run = wrk(k, MIXED, options.duration)
            results.add("mixed", "K", run)
            served += run.requests
        results.rss[mark] = k.rss_mb()
        results.served[mark] = served
        print(f"  K RSS after {served} requests: {results.rss[mark]:.1f} MB", flush=True)
    results.rss["A"], results.rss["B"] = a.rss_mb(), b.rss_mb()


def import_rss_mb(python: Path, env: dict[str, str]) -> float:
    """RSS of a fresh interpreter after `import main`, before a single request."""
    probe = (
        "import main, pathlib; print(next(l.split()[1] for l in"
        " pathlib.Path('/proc/self/status').read_text().splitlines() if l.startswith('VmRSS:')))"
    )
    output = subprocess.run(
        [str(python), "-c", probe], cwd=ROOT, env={**os.environ, **env}, check=True,
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    return int(output.split()[-1]) / 1024


def main() -> None:
    options = parse_options()
    if shutil.which("wrk") is None:
        raise SystemExit("make bench needs wrk (apt install wrk)")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    prefix = f"koiki-bench-{os.getpid()}:"
    env = koiki_env(options, prefix)
    results = Results(options)
    python = runtime_python()
    results.import_rss = {
        "runtime": import_rss_mb(python, {**env, **SERVER_ENV}),
        "dev": import_rss_mb(Path(sys.executable), env),
    }
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="koiki-bench-") as scratch:
        work = Path(scratch)
        print(
            f"database {options.database}: create, migrate, seed {options.users} users", flush=True
        )
        files = seeded_database(stack, options, env, prefix, work)
        settings = Settings(_env_file=None, **{key.lower(): value for key, value in env.items()})  # type: ignore[arg-type]
        logs = ROOT / "var" / "bench"
        logs.mkdir(parents=True, exist_ok=True)
        compile_bytecode(python)
        dsn = options.database_url.replace("postgresql+asyncpg://", "postgresql://")
        k = stack.enter_context(uvicorn("K", "main:app", env, logs / "koiki-access.log", python))
        # As a deployment with several workers runs: metrics summed over them (metrics.py).
        multiprocess = work / "metrics-k2"
        multiprocess.mkdir()
        k2_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(multiprocess)}
        k2 = stack.enter_context(
            uvicorn("K2", "main:app", k2_env, logs / "koiki2-access.log", python, workers=2)
        )
        a = stack.enter_context(
            uvicorn("A", "bench.baselines:health_app", {}, logs / "a.log", python)
        )
        b = stack.enter_context(
            uvicorn(
                "B", "bench.baselines:todos_app", {"BENCH_ASYNCPG_DSN": dsn}, logs / "b.log", python
            )
        )
        # The driver-qualified URL KOIKI's settings derive from the same database URL.
        floor_env = {"BENCH_SQLALCHEMY_URL": settings.database_url}
        f = stack.enter_context(
            uvicorn("F", "bench.floor:floor_app", floor_env, logs / "f.log", python)
        )
        installed = report.installed_versions(python)
        results.versions = asyncio.run(
            report.versions(installed, options.database_url, options.redis_url)
        )
        measure(options, results, k, k2, a, b, f, files.users, files.emails, logs)
    report.write(results)


if __name__ == "__main__":
    main()
