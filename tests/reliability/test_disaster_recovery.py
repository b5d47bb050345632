"""The disaster-recovery runbook (docs/operations.md, 災害復旧手順), run end to end on real servers:
a PostgreSQL cluster that archives its WAL, the real app in uvicorn processes, the real `ops`
commands in subprocesses, exactly as an operator types them.

Data written, a base backup, more writes, a time T, a destructive change (the todos table
dropped) and a write after it; maintenance on (API 503, /health 200, /health/ready 503); the app
and the database stopped; `ops restore --to-time T` into a new data directory; PostgreSQL started
on it; `ops doctor` passes; one replica resumes and `ops smoke` passes through the operator token
while the public is still refused; maintenance off; every row written before T is there, the
write after the destructive change is not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REDIS_SERVER_URL
from tests.ops.support import ops_env, wait_until
from tests.reliability.conftest import AppServerFactory
from tests.support.pitr import ArchivingPostgres, QueryablePostgres, start_on

pytestmark = pytest.mark.postgres_only

OPERATOR_TOKEN = "runbook-operator-token-0123456789"
PASSWORD = "Runbook-Pa55word-correct-horse-battery"
TODOS_BEFORE_BASE = 20
TODOS_AFTER_BASE = 30
DATABASE = "koiki"


@pytest.fixture
def cluster() -> Iterator[ArchivingPostgres]:
    server = ArchivingPostgres()
    server.init_and_start()
    yield server
    server.cleanup()


class Runbook:
    """The operator's shell: the same environment for every `python -m ops` command."""

    def __init__(self, cluster: ArchivingPostgres, workdir: Path) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.env = {
            "DATABASE_URL": self.database_url(cluster.port),
            "BASE_BACKUP_DIR": str(cluster.base_backups),
            "WAL_ARCHIVE_DIR": str(cluster.wal_archive),
            "BACKUP_DIR": str(workdir / "dumps"),
            "MAINTENANCE_FILE": str(workdir / "maintenance.json"),
            "MAINTENANCE_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "MAINTENANCE_POLL_SECONDS": "0.2",
            "REDIS_KEY_PREFIX": f"koiki-runbook-{uuid.uuid4().hex[:8]}:",
            "RATE_LIMIT_ENABLED": "false",
        }
        if REDIS_SERVER_URL:
            self.env["REDIS_URL"] = REDIS_SERVER_URL
        self.timings: list[tuple[str, float]] = []

    @staticmethod
    def database_url(port: int) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"

    def ops(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        run = subprocess.run(
            [sys.executable, "-m", "ops", *args],
            env=ops_env(**self.env), cwd=self.workdir,
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert run.returncode == expect, f"ops {' '.join(args)}:\n{run.stdout}\n{run.stderr}"
        return run

    def timed(self, name: str, started: float) -> None:
        self.timings.append((name, time.monotonic() - started))


def _register(client: httpx.Client, email: str) -> dict[str, str]:
    assert (
        client.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
        ).status_code
        == 201
    )
    token = client.post(
        "/api/v1/auth/login", data={"username": email, "password": PASSWORD}
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _create_todos(client: httpx.Client, auth: dict[str, str], first: int, count: int) -> None:
    for number in range(first, first + count):
        created = client.post("/api/v1/todos", json={"title": f"todo {number}"}, headers=auth)
        assert created.status_code == 201, created.text


def test_the_runbook_recovers_every_row_written_before_t(
    cluster: ArchivingPostgres, app_server: AppServerFactory, tmp_path: Path
) -> None:
    book = Runbook(cluster, tmp_path)
    cluster.sql(f"CREATE DATABASE {DATABASE}")
    book.ops("migrate")
    replica = app_server(**book.env)
    owner = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    with httpx.Client(base_url=replica.url, timeout=30) as client:
        auth = _register(client, owner)
        _create_todos(client, auth, 1, TODOS_BEFORE_BASE)

        started = time.monotonic()
        book.ops("backup", "--base")
        book.timed("ops backup --base", started)

        _create_todos(client, auth, TODOS_BEFORE_BASE + 1, TODOS_AFTER_BASE)
        target = cluster.sql("SELECT now()")
        time.sleep(0.05)  # the destructive commit must carry a later time than T
        cluster.sql("DROP TABLE todos CASCADE", DATABASE)  # the disaster
        late = f"late-{uuid.uuid4().hex[:6]}@example.com"
        _register(client, late)  # written after the disaster: must not come back

        # Step 1: maintenance on; every replica refuses the public, probes behave.
        started = time.monotonic()
        switched = book.ops(
            "maintenance", "on", "--message", "復旧作業中 / restoring", "--retry-after", "600",
            "--reason", "todos dropped", "--by", "runbook",
        )  # fmt: skip
        assert "maintenance: on" in switched.stdout
        assert wait_until(
            lambda: client.get("/api/v1/auth/me", headers=auth).status_code == 503, timeout=10
        )
        book.timed("maintenance on, obeyed", started)
        refused = client.get("/api/v1/auth/me", headers=auth)
        assert refused.json()["code"] == "maintenance"
        assert refused.headers["retry-after"] == "600"
        assert client.get("/health").status_code == 200
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["maintenance"] == "on: 復旧作業中 / restoring"

    # The archive must hold everything up to T (the WAL the live server has not archived yet).
    cluster.switch_wal()
    replica.process.terminate()
    replica.process.wait(timeout=30)
    cluster.stop()

    # Step 2: restore to T into a new data directory; PostgreSQL replays the WAL when it starts.
    started = time.monotonic()
    data_dir = cluster.dir / "restored"
    owner_args = ["--owner", "postgres"] if os.geteuid() == 0 else []
    restore = book.ops("restore", "--to-time", target, "--data-dir", str(data_dir), *owner_args)
    assert "replays the archived WAL" in restore.stderr
    book.timed("ops restore --to-time (new data directory)", started)
    started = time.monotonic()
    restored: QueryablePostgres = start_on(data_dir)
    try:
        book.timed("PostgreSQL replay to T and promote", started)
        book.env["DATABASE_URL"] = book.database_url(restored.port)

        # Step 3: settings and database checked.
        started = time.monotonic()
        doctor = book.ops("doctor")
        assert "[FAIL]" not in doctor.stdout
        book.timed("ops doctor", started)

        # Step 4 and 5: one replica, smoked as an operator while the public is still refused.
        started = time.monotonic()
        resumed = app_server(**book.env)
        book.timed("one replica started", started)
        with httpx.Client(base_url=resumed.url, timeout=30) as client:
            assert wait_until(lambda: client.get("/api/v1/todos").status_code == 503, timeout=10)
            started = time.monotonic()
            smoke = book.ops("smoke", resumed.url)
            book.timed("ops smoke (operator token, maintenance on)", started)
            assert "13/13 steps passed" in smoke.stdout, smoke.stdout

            started = time.monotonic()
            book.ops("maintenance", "off", "--reason", "restored to T", "--by", "runbook")
            assert wait_until(lambda: client.get("/api/v1/todos").status_code == 401, timeout=10)
            book.timed("maintenance off, obeyed", started)

            # Every row written before T, nothing after the disaster.
            token = client.post(
                "/api/v1/auth/login", data={"username": owner, "password": PASSWORD}
            ).json()["access_token"]
            listed = client.get(
                "/api/v1/todos", params={"limit": 100}, headers={"Authorization": f"Bearer {token}"}
            ).json()
            titles = sorted(item["title"] for item in listed["items"])
            expected = TODOS_BEFORE_BASE + TODOS_AFTER_BASE
            assert listed["total"] == expected
            assert titles == sorted(f"todo {n}" for n in range(1, expected + 1))
            gone = client.post("/api/v1/auth/login", data={"username": late, "password": PASSWORD})
            assert gone.status_code == 401
        assert restored.sql("SELECT count(*) FROM todos", DATABASE) == str(expected)
        events = restored.sql(
            "SELECT action || ' ' || (details->>'by') FROM audit_events "
            "WHERE action LIKE 'maintenance.%' ORDER BY id",
            DATABASE,
        )
        # The "on" event was written after T, so the restore took it away with the rest; the
        # "off" event is in the restored database.
        assert events.splitlines() == ["maintenance.off runbook"]
    finally:
        restored.cleanup()

    print("\nrunbook figures:")
    for name, seconds in book.timings:
        print(f"  {name:<45} {seconds:6.2f} s")
    print(f"  rows recovered: {expected} of {expected} todos written before T")
