"""`make dev` as a newcomer runs it: both servers on the ports given, the UI calling that API,
and a stop (Ctrl-C to the terminal's process group, or SIGTERM to make) that leaves nothing
behind, prints no error and exits 0.

The Makefile's own recipe runs (`-o install -o migrate` only skips the prerequisites, which the
rest of the suite covers), so a regression in the recipe is caught too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.servers import REPO_ROOT, free_port

pytestmark = [
    pytest.mark.skipif(
        not (REPO_ROOT / "frontend" / "node_modules" / ".bin" / "next").exists(),
        reason="frontend/node_modules is missing (`make install`; CI installs it before the tests)",
    ),
    pytest.mark.skipif(
        bool(os.environ.get("KOIKI_TEST_DATABASE_URL")),
        reason="make dev runs on the embedded default whatever the suite's backend: it runs once,"
        " in the embedded pass",
    ),
]

START_SECONDS = 180.0
STOP_SECONDS = 30.0  # a bound for a hung stop, not a timing assertion: the launcher's own is 8 s
# Not a bare "error": uvicorn's own logger is called "uvicorn.error".
ERROR_MARKERS = ("Traceback", "Error", "ERROR", "[error", "Segmentation", "make: ***", "killed")


@dataclass
class DevRun:
    process: subprocess.Popen[bytes]
    api_port: int
    ui_port: int
    stderr_path: Path

    @property
    def session(self) -> int:
        return self.process.pid  # started with start_new_session: make leads the session

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def _session_members(session: int) -> list[str]:
    """Every live process of the session, as "pid command"; zombies count as gone."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp session ...": comm may hold spaces, so split after ")".
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == session:
            found.append(f"{entry.name} {stat.split('(', 1)[1].split(')', 1)[0]}")
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_until_serving(run: DevRun) -> None:
    deadline = time.monotonic() + START_SECONDS
    api = f"http://127.0.0.1:{run.api_port}/health"
    # Through the UI's BFF to the API: without a session the API answers 401, which the BFF
    # turns into session_expired; an API it cannot reach would be a 503.
    bff = f"http://127.0.0.1:{run.ui_port}/api/bff/auth/me"
    last = ""
    while time.monotonic() < deadline:
        if run.process.poll() is not None:
            pytest.fail(f"make dev exited with {run.process.returncode}:\n{run.stderr()}")
        try:
            if httpx.get(api, timeout=5).status_code == 200:
                answer = httpx.get(bff, timeout=60)
                assert answer.status_code == 401, answer.text
                assert answer.json()["code"] == "session_expired"
                return
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.5)
    pytest.fail(f"make dev did not serve in {START_SECONDS:.0f}s ({last}):\n{run.stderr()}")


@pytest.fixture
def dev_run(tmp_path: Path) -> Iterator[DevRun]:
    api_port, ui_port = free_port(), free_port()
    stderr_path = tmp_path / "stderr.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}",
        "APP_ENV": "development",
        "LOG_FORMAT": "console",
        "NEXT_TELEMETRY_DISABLED": "1",
    }
    for name in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS"):  # as from a terminal, even under `make test`
        env.pop(name, None)
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [
                "make",
                "--no-print-directory",
                "-o",
                "install",
                "-o",
                "migrate",
                "dev",
                f"BACKEND_PORT={api_port}",
                f"FRONTEND_PORT={ui_port}",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    run = DevRun(process, api_port, ui_port, stderr_path)
    try:
        _wait_until_serving(run)
        yield run
    finally:
        if run.process.poll() is None or _session_members(run.session):
            # The test failed half-way: leave the machine as we found it.
            for member in _session_members(run.session):
                pid = int(member.split()[0])
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            run.process.wait(timeout=STOP_SECONDS)


def _assert_stopped_cleanly(run: DevRun, *, expected_code: int = 0) -> None:
    try:
        code = run.process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"make dev still running {STOP_SECONDS:.0f}s after the signal")
    deadline = time.monotonic() + STOP_SECONDS
    while _session_members(run.session) and time.monotonic() < deadline:
        time.sleep(0.2)
    stderr = run.stderr()
    assert _session_members(run.session) == [], stderr
    assert code == expected_code, stderr
    assert not [marker for marker in ERROR_MARKERS if marker in stderr], stderr
    assert _port_free(run.api_port)
    assert _port_free(run.ui_port)
    # The API saw the BFF's call: the UI was wired to the port make dev was given.
    assert "/api/v1/auth/me" in stderr


def test_ctrl_c_stops_api_ui_and_every_child(dev_run: DevRun) -> None:
    # What a terminal does on Ctrl-C: SIGINT to every process of the foreground group.
    os.killpg(dev_run.process.pid, signal.SIGINT)
    # make got the SIGINT too: once its recipe has ended (with 0) make ends by that signal, as
    # POSIX asks of an interrupted program, and prints nothing (nor does a shell).
    _assert_stopped_cleanly(dev_run, expected_code=-signal.SIGINT)


def test_sigterm_to_make_stops_api_ui_and_every_child(dev_run: DevRun) -> None:
    dev_run.process.send_signal(signal.SIGTERM)
    # make passes the SIGTERM to its recipe (the launcher), waits for it, then ends by the same
    # signal, silently.
    _assert_stopped_cleanly(dev_run, expected_code=-signal.SIGTERM)


def test_the_launcher_itself_exits_0_on_sigterm(tmp_path: Path) -> None:
    api_port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}"}
    process = subprocess.Popen(
        [
            str(REPO_ROOT / ".venv/bin/python"),
            "scripts/dev.py",
            "--no-frontend",
            "--backend-port",
            str(api_port),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    run = DevRun(process, api_port, api_port, tmp_path / "unused")
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        pytest.fail("the API did not start")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=STOP_SECONDS)
    assert process.returncode == 0, stderr
    assert _session_members(run.session) == []
    assert _port_free(api_port)
    assert b"Traceback" not in stderr
