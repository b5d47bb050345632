"""The operations commands with a multi-host DATABASE_URL: they act on the primary, whichever host
it is, and the doctor reports each server's role and replication state.

The standby is listed first on purpose when it has the lower port (the cluster's ports are fixed
for the session, its roles move with each failover): the commands must skip it either way.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
from pathlib import Path

import pytest

from tests.ops.support import ops_env, run_ops
from tests.support.replication import ReplicatedPostgres
from tests.support.servers import _postgres_bin

pytestmark = pytest.mark.postgres_only


def _env(cluster: ReplicatedPostgres, backup_dir: Path) -> dict[str, str]:
    return ops_env(
        DATABASE_URL=cluster.write_url,
        DATABASE_READ_URL=f"postgresql://postgres@127.0.0.1:{cluster.standby.port}/postgres",
        BACKUP_DIR=str(backup_dir),
    )


def test_ops_find_the_primary_and_the_doctor_reports_replication(
    replicated_postgres: ReplicatedPostgres, tmp_path: Path
) -> None:
    cluster = replicated_postgres
    env = _env(cluster, tmp_path / "backups")
    primary, standby = f"127.0.0.1:{cluster.primary.port}", f"127.0.0.1:{cluster.standby.port}"

    # The entrypoint's two steps, with a hung host (accepts TCP, never answers) listed first:
    # each host has its own connect timeout, so the primary behind it is still found.
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        hung_first = ops_env(
            DATABASE_URL=f"postgresql://postgres@127.0.0.1:{hung.getsockname()[1]},"
            + cluster.write_url.split("@", 1)[1],
            DB_WAIT_INTERVAL_SECONDS="1",
        )
        waited = run_ops("wait-for-db", env=hung_first, cwd=tmp_path)
        migrated = run_ops("migrate", env=hung_first, cwd=tmp_path)
    assert waited.returncode == 0, waited.stderr
    assert "is up" in waited.stderr
    assert migrated.returncode == 0, migrated.stderr
    assert "already at head" in migrated.stderr

    # pg_dump gets libpq's multi-host form and target_session_attrs: the dump is the primary's.
    cluster.sql(cluster.primary, "CREATE TABLE IF NOT EXISTS ops_marker (x int)")
    backup = run_ops("backup", env=env, cwd=tmp_path)
    assert backup.returncode == 0, backup.stderr
    (dump,) = (tmp_path / "backups").glob("*.dump")
    checksum = (dump.parent / (dump.name + ".sha256")).read_text().split()[0]
    assert hashlib.sha256(dump.read_bytes()).hexdigest() == checksum
    contents = subprocess.run(
        [_postgres_bin("pg_restore"), "--list", str(dump)], capture_output=True, text=True
    )
    assert "TABLE public ops_marker" in contents.stdout, contents.stdout[-2000:]

    doctor = run_ops("doctor", env=env, cwd=tmp_path)
    line = next(row for row in doctor.stdout.splitlines() if " replication " in row)
    assert line.startswith("[  ok ]"), doctor.stdout
    assert f"{primary} primary, " in line
    assert f"{standby} standby, streaming from" in line
    assert "slot koiki_standby active" in line

    cluster.sql(cluster.standby, "SELECT pg_wal_replay_pause()")
    try:
        paused = run_ops("doctor", env=env, cwd=tmp_path)
    finally:
        cluster.sql(cluster.standby, "SELECT pg_wal_replay_resume()")
    line = next(row for row in paused.stdout.splitlines() if " replication " in row)
    assert line.startswith("[ WARN]"), paused.stdout
    assert "replay paused" in line
