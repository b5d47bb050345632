"""Base backups for point-in-time recovery: `pg_basebackup` into `BASE_BACKUP_DIR`, and a
retention sweep over base backups and the archived WAL.

A base backup is a folder `base-<UTC time>/` holding pg_basebackup's `base.tar.gz`,
`pg_wal.tar.gz` and `backup_manifest`, plus `koiki-base.json`: the server's time when the copy
was complete (the earliest moment it can be recovered to) and the first WAL file it needs.
Only a complete backup has that file; a folder without it is unfinished and never used.

Retention keeps the newest `BASE_BACKUP_KEEP` complete backups (the newest is never deleted,
whatever the setting) and deletes archived WAL older than the oldest one kept, which no kept
backup can need (the same rule as pg_archivecleanup).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from ops.backup import BackupError, human_size, require_tool
from ops.database import PgTarget, connect, describe_error

META_FILE = "koiki-base.json"
_BASE_NAME = re.compile(r"^base-\d{8}T\d{6}Z$")
_WAL_SEGMENT = re.compile(r"^[0-9A-F]{24}(\.partial)?$")


@dataclass(frozen=True)
class BaseBackup:
    path: Path
    finished_at: datetime
    start_wal: str

    @classmethod
    def load(cls, path: Path) -> BaseBackup | None:
        try:
            meta = json.loads((path / META_FILE).read_text())
            return cls(
                path=path,
                finished_at=datetime.fromisoformat(meta["finished_at"]),
                start_wal=str(meta["start_wal"]),
            )
        except (FileNotFoundError, KeyError, ValueError):
            return None


def list_base_backups(base_dir: Path) -> list[BaseBackup]:
    """Complete base backups, oldest first."""
    if not base_dir.is_dir():
        return []
    found = [
        backup
        for path in base_dir.iterdir()
        if path.is_dir() and _BASE_NAME.match(path.name)
        if (backup := BaseBackup.load(path)) is not None
    ]
    return sorted(found, key=lambda backup: backup.finished_at)


def wal_file_name(timeline: int, lsn: str, segment_size: int) -> str:
    """PostgreSQL's name for the WAL file holding `lsn` ("0/2000028"), as pg_walfile_name."""
    high, low = (int(part, 16) for part in lsn.split("/"))
    segment = ((high << 32) | low) // segment_size
    per_id = 0x100000000 // segment_size
    return f"{timeline:08X}{segment // per_id:08X}{segment % per_id:08X}"


async def _server_facts(target: PgTarget) -> tuple[datetime, int]:
    connection = await connect(target)
    try:
        now = await connection.fetchval("SELECT now()")
        size = await connection.fetchval(
            "SELECT setting::bigint * CASE unit WHEN '8kB' THEN 8192 WHEN 'MB' THEN 1048576 "
            "ELSE 1 END FROM pg_settings WHERE name = 'wal_segment_size'"
        )
    finally:
        await connection.close()
    return now.astimezone(UTC), int(size)


def _start_wal(folder: Path, segment_size: int) -> str:
    manifest = json.loads((folder / "backup_manifest").read_text())
    first = manifest["WAL-Ranges"][0]
    return wal_file_name(int(first["Timeline"]), first["Start-LSN"], segment_size)


def run_base_backup(
    target: PgTarget,
    base_dir: Path,
    wal_dir: Path,
    *,
    keep: int,
    out: TextIO = sys.stderr,
) -> BaseBackup:
    pg_basebackup = require_tool("pg_basebackup")
    started = time.monotonic()
    folder = base_dir / f"base-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    if folder.exists():
        raise BackupError(f"{folder} already exists; wait a second and try again")
    base_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"backup --base: pg_basebackup of {target.describe()} into {folder}", file=out, flush=True
    )
    # Tar, compressed, with the WAL the copy needs streamed alongside: the backup restores on
    # its own even if the archive lost a file; the archive carries it forward from there.
    run = subprocess.run(
        [pg_basebackup, "--no-password", "-D", str(folder), "-Ft", "-z", "-X", "stream",
         "--checkpoint=fast", "--label=koiki-ops", "--progress"],
        env=target.libpq_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if run.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        message = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "no output"
        raise BackupError(f"pg_basebackup failed (exit {run.returncode}): {message}")
    try:
        finished_at, segment_size = asyncio.run(_server_facts(target))
    except (OSError, ValueError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise BackupError(f"cannot read the server's time: {describe_error(exc)}") from exc
    meta = {
        "finished_at": finished_at.isoformat(),
        "start_wal": _start_wal(folder, segment_size),
        "wal_segment_size": segment_size,
        "database": target.describe(),
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    size = sum(path.stat().st_size for path in folder.iterdir())
    seconds = time.monotonic() - started
    print(
        f"backup --base: done, {folder.name} {human_size(size)} in {seconds:.1f}s; "
        f"recoverable from {finished_at:%Y-%m-%d %H:%M:%S}Z (WAL from {meta['start_wal']})",
        file=out,
        flush=True,
    )
    backup = BaseBackup(folder, finished_at, str(meta["start_wal"]))
    prune_base_backups(base_dir, wal_dir, keep=keep, out=out)
    return backup


def prune_base_backups(
    base_dir: Path, wal_dir: Path, *, keep: int, dry_run: bool = False, out: TextIO = sys.stderr
) -> list[Path]:
    backups = list_base_backups(base_dir)
    if not backups:
        print("prune --base: no complete base backup; nothing deleted", file=out)
        return []
    kept = backups[-max(keep, 1) :]  # the newest always stays
    deleted: list[Path] = []
    verb = "would delete" if dry_run else "deleted"
    for backup in backups[: len(backups) - len(kept)]:
        if not dry_run:
            shutil.rmtree(backup.path)
        print(f"prune --base: {verb} {backup.path.name}", file=out)
        deleted.append(backup.path)
    oldest_needed = kept[0].start_wal
    if wal_dir.is_dir():
        for path in sorted(wal_dir.iterdir()):
            # Timelines aside (the first 8 characters), older segments sort first.
            if _WAL_SEGMENT.match(path.name) and path.name[8:24] < oldest_needed[8:24]:
                if not dry_run:
                    path.unlink()
                deleted.append(path)
        wal_count = sum(1 for path in deleted if path.parent == wal_dir)
        print(f"prune --base: {verb} {wal_count} WAL file(s) older than {oldest_needed}", file=out)
    return deleted
