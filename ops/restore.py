"""Restore a backup into an empty (or new) database, after checking its SHA-256.

Never into a database that holds tables: a restore over live data mixes two states. To replace a
database, restore into a new one, check it, then point DATABASE_URL at it (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import asyncpg

from ops.backup import BackupError, list_backups, read_checksum, require_tool, sha256_of
from ops.database import PgTarget, connect, quote_ident

_USER_RELATIONS = """
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
"""


class RestoreError(RuntimeError):
    pass


class ConfirmationRequired(RestoreError):
    pass


@dataclass(frozen=True)
class RestoreResult:
    backup: Path
    database: str
    created: bool
    seconds: float
    revision: str | None


def resolve_backup(name: str, backup_dir: Path) -> Path:
    candidate = Path(name)
    if candidate.is_file():
        return candidate
    in_dir = backup_dir / name
    if in_dir.is_file():
        return in_dir
    available = [b.path.name for b in list_backups(backup_dir)][-5:]
    hint = f" Latest in {backup_dir}: {', '.join(available)}" if available else ""
    raise RestoreError(f"backup {name!r} not found (as a path or in {backup_dir}).{hint}")


def verify_checksum(backup: Path, out: TextIO) -> None:
    expected = read_checksum(backup)
    if expected is None:
        raise RestoreError(
            f"{backup.name}.sha256 is missing, so the backup cannot be verified; "
            "pass --skip-checksum only if you know where this file comes from"
        )
    print(f"restore: verifying checksum of {backup.name}", file=out, flush=True)
    actual = sha256_of(backup)
    if actual != expected:
        raise RestoreError(
            f"checksum mismatch for {backup.name}: expected {expected[:16]}..., "
            f"got {actual[:16]}...; the file is damaged or was changed. Nothing was restored."
        )
    print("restore: checksum ok", file=out)


async def _prepare_database(target: PgTarget) -> bool:
    """Create the target database when absent; refuse one that holds relations."""
    admin = await connect(target.with_database("postgres"))
    try:
        exists = await admin.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", target.database
        )
        if not exists:
            try:
                await admin.execute(f"CREATE DATABASE {quote_ident(target.database)}")
            except asyncpg.InsufficientPrivilegeError as exc:
                raise RestoreError(
                    f"cannot create database {target.database!r}: {exc}. Create it empty "
                    "(CREATE DATABASE ...) as an administrator and run restore again."
                ) from exc
            return True
    finally:
        await admin.close()
    connection = await connect(target)
    try:
        relations = await connection.fetchval(_USER_RELATIONS)
    finally:
        await connection.close()
    if relations:
        raise RestoreError(
            f"database {target.database!r} is not empty ({relations} tables/views/sequences); "
            "restore into a new database with --target-db NAME, or drop this one first"
        )
    return False


async def _drop_database(target: PgTarget) -> None:
    admin = await connect(target.with_database("postgres"))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(target.database)}")
    finally:
        await admin.close()


async def _alembic_revision(target: PgTarget) -> str | None:
    connection = await connect(target)
    try:
        table = await connection.fetchval("SELECT to_regclass('public.alembic_version')")
        if table is None:
            return None
        rows = await connection.fetch("SELECT version_num FROM alembic_version")
        return ", ".join(sorted(row["version_num"] for row in rows)) or None
    finally:
        await connection.close()


async def restore_backup(
    configured: PgTarget,
    backup_name: str,
    backup_dir: Path,
    *,
    target_db: str | None,
    confirm: str | None,
    skip_checksum: bool = False,
    out: TextIO = sys.stderr,
) -> RestoreResult:
    pg_restore = require_tool("pg_restore")
    backup = resolve_backup(backup_name, backup_dir)
    target = configured.with_database(target_db or configured.database)
    if confirm != target.database:
        raise ConfirmationRequired(
            f"this loads {backup.name} into database {target.describe()}. "
            f"Re-run with --confirm {target.database} to go ahead."
        )
    if skip_checksum:
        print("restore: checksum check skipped (--skip-checksum)", file=out)
    else:
        verify_checksum(backup, out)

    created = await _prepare_database(target)
    print(
        f"restore: {'created' if created else 'using empty'} database {target.describe()}",
        file=out,
        flush=True,
    )
    started = time.monotonic()
    # One transaction and stop at the first error: a failed restore leaves an empty database,
    # not half of one. Objects are owned by the restoring user (the app's), not the dump's.
    completed = await asyncio.to_thread(
        subprocess.run,
        [
            pg_restore,
            "--no-password",
            "--no-owner",
            "--no-acl",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={target.database}",
            str(backup),
        ],
        env=target.libpq_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        if created:
            await _drop_database(target)
        raise BackupError(
            f"pg_restore failed (exit {completed.returncode}); nothing was kept: "
            f"{completed.stderr.strip()}"
        )
    seconds = time.monotonic() - started
    revision = await _alembic_revision(target)
    print(
        f"restore: done in {seconds:.1f}s into {target.describe()} "
        f"(alembic revision {revision or 'none'})",
        file=out,
        flush=True,
    )
    return RestoreResult(backup, target.database, created, seconds, revision)
