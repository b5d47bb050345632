"""Point-in-time recovery on a throwaway cluster that archives its WAL: `ops backup --base`,
`ops restore --to-time/--to-latest` into a new data directory, retention, and the refusals."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ops.base_backup import list_base_backups
from tests.ops.support import ops_env
from tests.support.pitr import ArchivingPostgres, start_on

pytestmark = pytest.mark.postgres_only
OWNER = "postgres" if os.geteuid() == 0 else None


@pytest.fixture
def archiving_pg() -> Iterator[ArchivingPostgres]:
    server = ArchivingPostgres()
    server.init_and_start()
    yield server
    server.cleanup()


def run_ops(
    server: ArchivingPostgres, *args: str, keep: int = 2
) -> subprocess.CompletedProcess[str]:
    env = ops_env(
        DATABASE_URL=server.url,
        BASE_BACKUP_DIR=str(server.base_backups),
        WAL_ARCHIVE_DIR=str(server.wal_archive),
        BASE_BACKUP_KEEP=str(keep),
    )
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        env=env, cwd=server.dir, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def restore_args(data_dir: Path, *more: str) -> list[str]:
    owner = ["--owner", OWNER] if OWNER else []
    return ["restore", *more, "--data-dir", str(data_dir), *owner]


def test_restore_to_a_time_before_a_destructive_change(archiving_pg: ArchivingPostgres) -> None:
    pg = archiving_pg
    pg.sql("CREATE TABLE notes (id int PRIMARY KEY, body text)")
    pg.sql("INSERT INTO notes SELECT n, 'before base' FROM generate_series(1, 100) n")
    base = run_ops(pg, "backup", "--base")
    assert base.returncode == 0, base.stderr
    assert "recoverable from" in base.stderr
    pg.sql("INSERT INTO notes SELECT n, 'after base' FROM generate_series(101, 250) n")
    target = pg.sql("SELECT now()")
    time.sleep(0.05)  # the drop's commit time must be after T, on any clock resolution
    pg.sql("DROP TABLE notes")
    pg.switch_wal()

    restored_dir = pg.dir / "restored"
    run = run_ops(pg, *restore_args(restored_dir, "--to-time", target))
    assert run.returncode == 0, run.stderr
    assert "replays the archived WAL" in run.stderr
    restored = start_on(restored_dir)
    try:
        assert restored.sql("SELECT count(*), max(id) FROM notes") == "250|250"
        assert restored.sql("SELECT count(*) FROM notes WHERE body = 'after base'") == "150"
    finally:
        restored.cleanup()
    assert pg.sql("SELECT to_regclass('notes') IS NULL") == "t"  # the live one is untouched


def test_refusals_change_nothing(archiving_pg: ArchivingPostgres) -> None:
    pg = archiving_pg
    pg.sql("CREATE TABLE notes (id int)")
    assert run_ops(pg, "backup", "--base").returncode == 0
    pg.switch_wal()
    oldest = list_base_backups(pg.base_backups)[0].finished_at
    target = pg.dir / "new"

    garbled = run_ops(pg, *restore_args(target, "--to-time", "yesterday at noon"))
    assert garbled.returncode == 2
    assert "'yesterday at noon' is not a time" in garbled.stderr
    naive = run_ops(pg, *restore_args(target, "--to-time", "2026-12-01 10:15:00"))
    assert naive.returncode == 2
    assert "no time zone" in naive.stderr

    early = (oldest - timedelta(hours=1)).isoformat()
    before = run_ops(pg, *restore_args(target, "--to-time", early))
    assert before.returncode == 1
    assert "before the oldest base backup" in before.stderr

    late = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    after = run_ops(pg, *restore_args(target, "--to-time", late))
    assert after.returncode == 1
    assert "after the archived WAL" in after.stderr
    assert not target.exists()

    live = run_ops(pg, *restore_args(pg.data, "--to-latest"))
    assert live.returncode == 2
    assert "running PostgreSQL" in live.stderr
    assert (pg.data / "postmaster.pid").exists()
    assert "recovery.signal" not in os.listdir(pg.data)

    occupied = pg.dir / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    refused = run_ops(pg, *restore_args(occupied, "--to-latest"))
    assert refused.returncode == 2
    assert f"--confirm {occupied}" in refused.stderr
    assert os.listdir(occupied) == ["keep.txt"]

    replaced = run_ops(pg, *restore_args(occupied, "--to-latest"), "--confirm", str(occupied))
    assert replaced.returncode == 0, replaced.stderr
    assert (occupied / "recovery.signal").exists()
    aside = [path for path in pg.dir.iterdir() if path.name.startswith("occupied.before-restore-")]
    assert (aside[0] / "keep.txt").read_text() == "mine"


def test_retention_keeps_the_newest_base_backup_and_its_wal(
    archiving_pg: ArchivingPostgres,
) -> None:
    pg = archiving_pg
    pg.sql("CREATE TABLE notes (id int)")
    assert run_ops(pg, "backup", "--base", keep=1).returncode == 0
    pg.sql("INSERT INTO notes SELECT generate_series(1, 10)")
    pg.switch_wal()
    time.sleep(1.1)  # base backup folders are named by the second
    second = run_ops(pg, "backup", "--base", keep=1)
    assert second.returncode == 0, second.stderr
    backups = list_base_backups(pg.base_backups)
    assert len(backups) == 1  # the first one is gone, the newest stays
    assert "deleted base-" in second.stderr
    needed = backups[0].start_wal
    segments = sorted(p.name for p in pg.wal_archive.iterdir() if len(p.name) == 24)
    assert segments, "the WAL the newest backup needs was deleted"
    assert all(name[8:] >= needed[8:] for name in segments)

    pg.sql("INSERT INTO notes SELECT generate_series(11, 20)")
    pg.switch_wal()
    restored_dir = pg.dir / "latest"
    assert run_ops(pg, *restore_args(restored_dir, "--to-latest")).returncode == 0
    restored = start_on(restored_dir)
    try:
        assert restored.sql("SELECT count(*) FROM notes") == "20"
    finally:
        restored.cleanup()
