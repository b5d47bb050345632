"""PostgreSQL backups: pg_dump in custom format (compressed, restorable table by table), written
atomically with a SHA-256 sidecar, and a retention sweep that only touches our own files.

File names carry the UTC time of the dump (`koiki-<db>-20261128T170501Z.dump`); retention reads
that time, not the file's mtime, which a copy or a restore from tape would reset.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from ops.database import PgTarget

BACKUP_SUFFIX = ".dump"
CHECKSUM_SUFFIX = ".sha256"
_NAME = re.compile(r"^koiki-(?P<db>[A-Za-z0-9_.-]+)-(?P<ts>\d{8}T\d{6}Z)\.dump$")
_CHUNK = 1024 * 1024
_PROGRESS_EVERY_SECONDS = 1.0


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True)
class BackupFile:
    path: Path
    database: str
    taken_at: datetime

    @property
    def checksum_path(self) -> Path:
        return self.path.with_name(self.path.name + CHECKSUM_SUFFIX)

    @classmethod
    def parse(cls, path: Path) -> BackupFile | None:
        match = _NAME.match(path.name)
        if match is None:
            return None
        taken_at = datetime.strptime(match["ts"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return cls(path=path, database=match["db"], taken_at=taken_at)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    sha256: str
    seconds: float
    pruned: tuple[Path, ...]


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def backup_name(database: str, when: datetime) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", database) or "db"
    return f"koiki-{safe}-{when.astimezone(UTC):%Y%m%dT%H%M%SZ}{BACKUP_SUFFIX}"


def list_backups(backup_dir: Path) -> list[BackupFile]:
    if not backup_dir.is_dir():
        return []
    found = (BackupFile.parse(p) for p in backup_dir.iterdir() if p.is_file())
    return sorted((b for b in found if b is not None), key=lambda b: b.taken_at)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_checksum(backup: Path) -> str | None:
    sidecar = backup.with_name(backup.name + CHECKSUM_SUFFIX)
    if not sidecar.is_file():
        return None
    # `sha256sum` format ("<hex>  <name>"), so `sha256sum -c` works on the host too.
    fields = sidecar.read_text().split()
    return fields[0].lower() if fields else None


def _write_private(path: Path, data: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def require_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found on PATH: install the PostgreSQL client "
            "(Debian: apt-get install postgresql-client; it is in the backend image)"
        )
    return found


def run_backup(
    target: PgTarget,
    backup_dir: Path,
    *,
    retention_days: int,
    now: datetime | None = None,
    out: TextIO = sys.stderr,
) -> BackupResult:
    pg_dump = require_tool("pg_dump")
    backup_dir.mkdir(parents=True, exist_ok=True)
    started_at = now or datetime.now(UTC)
    final = backup_dir / backup_name(target.database, started_at)
    if final.exists():
        raise BackupError(f"{final} already exists; wait a second and try again")
    partial = final.with_name(final.name + ".partial")
    print(f"backup: dumping {target.describe()} to {final}", file=out, flush=True)

    started = time.monotonic()
    digest = hashlib.sha256()
    written = 0
    with tempfile.TemporaryFile() as errors:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as sink:
                process = subprocess.Popen(
                    [pg_dump, "--format=custom", "--no-password"],
                    env=target.libpq_env(),
                    stdout=subprocess.PIPE,
                    stderr=errors,
                )
                assert process.stdout is not None
                last_report = started
                while chunk := process.stdout.read(_CHUNK):
                    sink.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
                    if time.monotonic() - last_report >= _PROGRESS_EVERY_SECONDS:
                        last_report = time.monotonic()
                        print(f"backup: {human_size(written)} written", file=out, flush=True)
                returncode = process.wait()
                sink.flush()
                os.fsync(sink.fileno())
            if returncode != 0:
                errors.seek(0)
                message = errors.read().decode(errors="replace").strip()
                raise BackupError(f"pg_dump failed (exit {returncode}): {message}")
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    checksum = digest.hexdigest()
    # Checksum first: a dump that is visible under its final name always has one.
    _write_private(final.with_name(final.name + CHECKSUM_SUFFIX), f"{checksum}  {final.name}\n")
    partial.replace(final)
    seconds = time.monotonic() - started
    print(
        f"backup: done, {final.name} {human_size(written)} in {seconds:.1f}s "
        f"(sha256 {checksum[:16]}...)",
        file=out,
        flush=True,
    )
    pruned = prune_backups(backup_dir, retention_days=retention_days, now=started_at, out=out)
    return BackupResult(final, written, checksum, seconds, tuple(pruned))


def prune_backups(
    backup_dir: Path,
    *,
    retention_days: int,
    now: datetime | None = None,
    dry_run: bool = False,
    out: TextIO = sys.stderr,
) -> list[Path]:
    """Delete our backups older than the retention period, always keeping each database's newest
    one, so a long outage of the backup job never leaves zero backups behind."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    backups = list_backups(backup_dir)
    newest: dict[str, BackupFile] = {}
    for backup in backups:
        newest[backup.database] = backup
    deleted: list[Path] = []
    for backup in backups:
        if backup.taken_at >= cutoff or newest[backup.database] is backup:
            continue
        verb = "would delete" if dry_run else "deleted"
        if not dry_run:
            backup.path.unlink(missing_ok=True)
            backup.checksum_path.unlink(missing_ok=True)
        print(
            f"prune: {verb} {backup.path.name} (older than {retention_days} days)",
            file=out,
            flush=True,
        )
        deleted.append(backup.path)
    if not deleted:
        print(f"prune: nothing older than {retention_days} days", file=out)
    return deleted
