"""`make dev`: the API (uvicorn --reload) and the UI (next dev) together, stopped cleanly.

Each server runs in a process group of its own, so a Ctrl-C in the terminal reaches only this
launcher. It sends each group one SIGTERM, waits a bounded time, then kills whatever is left with
SIGKILL: no child (uvicorn's reloader, its worker, Next.js's server) outlives it, and no burst of
signals reaches a server twice from the terminal and from a parent at once (which deadlocked
uvicorn's reloader). Ctrl-C or SIGTERM exits 0; a server that stops on its own stops the other and
makes the launcher exit 1.

The UI is pointed at this API's port, so `make dev BACKEND_PORT=8810 FRONTEND_PORT=3010` works.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
STOP_SECONDS = 8.0


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/dev.py", description=__doc__.split("\n")[0])
    parser.add_argument("--backend-port", type=int, default=8000)
    parser.add_argument("--frontend-port", type=int, default=3000)
    parser.add_argument(
        "--host",
        default=os.environ.get("DEV_HOST") or "127.0.0.1",
        help="address both servers listen on (default: DEV_HOST, else 127.0.0.1)",
    )
    parser.add_argument("--no-frontend", action="store_true", help="run the API only")
    return parser.parse_args(argv)


def _configured(name: str) -> bool:
    """Set in the environment or in .env: the developer's choice wins over ours."""
    from dotenv import dotenv_values

    return name in os.environ or name in dotenv_values(ROOT / ".env")


def _api_command(args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "main:app",
        "--reload",
        "--host",
        args.host,
        "--port",
        str(args.backend_port),
    ]


def _api_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    if not _configured("FRONTEND_URL"):
        # Password-reset links must point at the UI this command starts.
        env["FRONTEND_URL"] = f"http://localhost:{args.frontend_port}"
    return env


def _reachable(host: str) -> str:
    """Where this machine reaches a server listening on `host` (all addresses: loopback)."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (read, not bound)
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _ui_command(args: argparse.Namespace) -> list[str]:
    # next itself, not `npm run dev`: npm and sh in between would each relay the signal again.
    next_bin = FRONTEND / "node_modules" / ".bin" / "next"
    return [str(next_bin), "dev", "--hostname", args.host, "--port", str(args.frontend_port)]


def _ui_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    # The BFF calls the API from the Next.js server: always the one started here (a value in
    # frontend/.env loses to the process environment).
    env["NEXT_PUBLIC_API_BASE_URL"] = f"http://{_reachable(args.host)}:{args.backend_port}/api/v1"
    env.setdefault("NEXT_TELEMETRY_DISABLED", "1")
    env["PORT"] = str(args.frontend_port)
    return env


_stop_requested: list[int] = []


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    # Only noted here: raising from a handler could interrupt Popen between fork and return.
    _stop_requested.append(signum)


def _start(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, cwd=cwd, env=env, process_group=0)  # noqa: S603


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """One SIGTERM per group, a bounded wait, then SIGKILL to what is left."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline:
        for process in processes:
            process.poll()  # reap the leader: a zombie would keep its group "alive"
        if not any(_group_alive(process.pid) for process in processes):
            return
        time.sleep(0.1)
    for process in processes:
        if _group_alive(process.pid):
            print(
                f"dev: {process.args[0]} did not stop in {STOP_SECONDS:.0f}s; killed",
                file=sys.stderr,
            )
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    with_ui = not args.no_frontend and (FRONTEND / "package.json").is_file()
    if with_ui and not (FRONTEND / "node_modules" / ".bin" / "next").exists():
        print("dev: frontend/node_modules is missing; run `make install`", file=sys.stderr)
        return 2
    # Signals are handled from here on: a Ctrl-C during the start-up still stops what started.
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    # process_group=0: each server leads a group of its own, which the terminal's Ctrl-C skips.
    processes = [_start(_api_command(args), ROOT, _api_env(args))]
    if with_ui and not _stop_requested:
        processes.append(_start(_ui_command(args), FRONTEND, _ui_env(args)))
    print(
        f"dev: API http://{args.host}:{args.backend_port}"
        + (f", UI http://{args.host}:{args.frontend_port}" if with_ui else "")
        + " (Ctrl-C stops both)",
        file=sys.stderr,
        flush=True,
    )
    while not _stop_requested and all(process.poll() is None for process in processes):
        time.sleep(0.2)
    if _stop_requested:
        _stop(processes)
        return 0
    ended = next(process for process in processes if process.poll() is not None)
    print(f"dev: {ended.args[0]} exited with {ended.returncode}; stopping", file=sys.stderr)
    _stop(processes)
    return 1


if __name__ == "__main__":
    sys.exit(main())
