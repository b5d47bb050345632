"""Point-in-time recovery: build a new PostgreSQL data directory from the newest base backup
before the target time, with PostgreSQL told to replay the archived WAL up to that time.

Nothing here touches a running server: the data directory must be new (or empty); an existing
one is replaced only with `--confirm <its path>`, and even then it is moved aside, not deleted,
and never while a server runs in it. PostgreSQL itself does the replay when it starts on the
new directory (it reads `recovery.signal` and the settings appended to postgresql.auto.conf),
then promotes itself and serves.
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from ops.base_backup import BaseBackup, list_base_backups

RECOVERY_MARK = "# --- koiki ops restore: point-in-time recovery ---"


class RecoveryError(RuntimeError):
    pass


class RecoveryUsageError(RecoveryError):
    """Bad input: an unparsable time, a live directory without confirmation."""


@dataclass(frozen=True)
class RecoveryPlan:
    backup: BaseBackup
    target_time: datetime | None  # None: the latest archived WAL
    data_dir: Path
    wal_dir: Path
    newest_wal_at: datetime | None


def parse_target_time(text: str) -> datetime:
    """ISO 8601 with an offset: "2026-12-01 10:15:00+09", "2026-12-01T01:15:00Z"."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RecoveryUsageError(
            f'--to-time {text!r} is not a time; write it like "2026-12-01 10:15:00+09"'
        ) from None
    if value.tzinfo is None:
        raise RecoveryUsageError(
            f'--to-time {text!r} has no time zone; add one ("+09", "Z"), so it cannot be '
            "read in the wrong zone"
        )
    return value.astimezone(UTC)


def _newest_wal(wal_dir: Path) -> datetime | None:
    """When the newest WAL segment was archived: everything committed before that is in it."""
    newest: float | None = None
    if wal_dir.is_dir():
        for path in wal_dir.iterdir():
            if len(path.name) == 24 and path.is_file():
                mtime = path.stat().st_mtime
                newest = mtime if newest is None or mtime > newest else newest
    return None if newest is None else datetime.fromtimestamp(newest, UTC)


def plan_recovery(
    base_dir: Path, wal_dir: Path, data_dir: Path, target_time: datetime | None
) -> RecoveryPlan:
    backups = list_base_backups(base_dir)
    if not backups:
        raise RecoveryError(f"no complete base backup in {base_dir} (run `ops backup --base`)")
    newest_wal_at = _newest_wal(wal_dir)
    if target_time is None:
        return RecoveryPlan(backups[-1], None, data_dir, wal_dir, newest_wal_at)
    usable = [backup for backup in backups if backup.finished_at <= target_time]
    if not usable:
        raise RecoveryError(
            f"{target_time:%Y-%m-%d %H:%M:%S}Z is before the oldest base backup, which can be "
            f"recovered from {backups[0].finished_at:%Y-%m-%d %H:%M:%S}Z at the earliest"
        )
    if newest_wal_at is None or target_time > newest_wal_at:
        last = (
            "no WAL archived"
            if newest_wal_at is None
            else (f"the last WAL was archived at {newest_wal_at:%Y-%m-%d %H:%M:%S}Z")
        )
        raise RecoveryError(
            f"{target_time:%Y-%m-%d %H:%M:%S}Z is after the archived WAL ({last} in {wal_dir}); "
            "later changes are not in the archive: on a live server run "
            "`SELECT pg_switch_wal()` and retry, or use --to-latest"
        )  # fmt: skip
    return RecoveryPlan(usable[-1], target_time, data_dir, wal_dir, newest_wal_at)


def _prepare_directory(data_dir: Path, confirm: str | None, out: TextIO) -> None:
    if (data_dir / "postmaster.pid").exists():
        raise RecoveryUsageError(
            f"{data_dir} belongs to a running PostgreSQL (postmaster.pid): stop it first; "
            "nothing was changed"
        )
    if data_dir.exists() and any(data_dir.iterdir()):
        if confirm is None or Path(confirm).resolve() != data_dir.resolve():
            raise RecoveryUsageError(
                f"{data_dir} is not empty: restore into a new directory, or replace this one "
                f"with --confirm {data_dir} (it is moved aside, not deleted); nothing was changed"
            )
        aside = data_dir.with_name(
            f"{data_dir.name}.before-restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        )
        data_dir.rename(aside)
        print(f"restore: moved the old {data_dir} to {aside}", file=out, flush=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)  # PostgreSQL refuses a data directory others can read


def _extract(archive: Path, into: Path) -> None:
    # "data": nothing outside `into`, no device files, no absolute or escaping links. A base
    # backup never needs more (tablespaces, which are links, are not used by this project).
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")


def _recovery_settings(wal_dir: Path, target_time: datetime | None) -> str:
    archive = str(wal_dir.resolve()).replace("'", "''")
    lines = [
        "",
        RECOVERY_MARK,
        f'restore_command = \'cp "{archive}/%f" "%p"\'',
        "recovery_target_action = 'promote'",
    ]
    if target_time is not None:
        lines += [
            f"recovery_target_time = '{target_time.isoformat()}'",
            "recovery_target_inclusive = on",
        ]
    else:
        lines.append("recovery_target_timeline = 'latest'")
    return "\n".join(lines) + "\n"


def build_data_directory(
    plan: RecoveryPlan, *, confirm: str | None, owner: str | None, out: TextIO = sys.stderr
) -> None:
    _prepare_directory(plan.data_dir, confirm, out)
    backup = plan.backup
    print(
        f"restore: base backup {backup.path.name} (recoverable from "
        f"{backup.finished_at:%Y-%m-%d %H:%M:%S}Z), extracting into {plan.data_dir}",
        file=out,
        flush=True,
    )
    _extract(backup.path / "base.tar.gz", plan.data_dir)
    wal_tar = backup.path / "pg_wal.tar.gz"
    if wal_tar.exists():
        _extract(wal_tar, plan.data_dir / "pg_wal")
    for stale in ("postmaster.pid", "postmaster.opts"):
        (plan.data_dir / stale).unlink(missing_ok=True)
    with (plan.data_dir / "postgresql.auto.conf").open("a") as conf:
        conf.write(_recovery_settings(plan.wal_dir, plan.target_time))
    (plan.data_dir / "recovery.signal").touch()
    if owner is not None:
        # A name, or a uid ("999", the postgres image's) that may have no name in this container.
        user: str | int = int(owner) if owner.isdigit() else owner
        for root, dirs, files in os.walk(plan.data_dir):
            for name in (*dirs, *files):
                shutil.chown(os.path.join(root, name), user=user, group=user)
        shutil.chown(plan.data_dir, user=user, group=user)
    target = (
        "the end of the archived WAL"
        if plan.target_time is None
        else f"{plan.target_time:%Y-%m-%d %H:%M:%S}Z"
    )
    print(
        f"restore: ready. Start PostgreSQL on {plan.data_dir}: it replays the archived WAL to "
        f"{target}, then promotes itself and accepts connections",
        file=out,
        flush=True,
    )
