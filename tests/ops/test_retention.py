"""Backup retention: only our own backups older than the period go, each database keeps its
newest one, and nothing else in the folder is touched. Plain files, no database needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ops.backup import backup_name
from tests.ops.support import ops_env, run_ops


def _make(folder: Path, database: str, age_days: float) -> Path:
    path = folder / backup_name(database, datetime.now(UTC) - timedelta(days=age_days))
    path.write_bytes(b"dump")
    path.with_name(path.name + ".sha256").write_text("0" * 64 + f"  {path.name}\n")
    return path


def test_prune_deletes_only_backups_past_retention(tmp_path: Path, workdir: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    expired = [_make(folder, "koiki", days) for days in (45, 31)]
    kept = [_make(folder, "koiki", days) for days in (29, 1, 0.01)]
    # Another database whose only backups are old: its newest one survives.
    other_old = _make(folder, "other", 60)
    other_newest = _make(folder, "other", 40)
    strangers = [folder / "notes.txt", folder / "koiki-koiki-2020.dump", folder / "x.dump.partial"]
    for stranger in strangers:
        stranger.write_text("not ours")

    env = ops_env(BACKUP_DIR=str(folder), BACKUP_RETENTION_DAYS="30")
    dry = run_ops("prune-backups", "--dry-run", env=env, cwd=workdir)
    assert dry.returncode == 0, dry.stderr
    assert dry.stderr.count("would delete") == 3
    assert all(p.exists() for p in [*expired, other_old])

    completed = run_ops("prune-backups", env=env, cwd=workdir)
    assert completed.returncode == 0, completed.stderr
    for path in [*expired, other_old]:
        assert not path.exists(), path.name
        assert not path.with_name(path.name + ".sha256").exists()
    for path in [*kept, other_newest, *strangers]:
        assert path.exists(), path.name
    assert completed.stderr.count("deleted") == 3

    listing = run_ops("list-backups", env=env, cwd=workdir)
    assert listing.returncode == 0
    assert [line.split()[0] for line in listing.stdout.splitlines()] == sorted(
        [p.name for p in [*kept, other_newest]],
        key=lambda name: name.rsplit("-", 1)[1],
    )


def test_retention_period_comes_from_the_option_or_the_setting(
    tmp_path: Path, workdir: Path
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    week_old = _make(folder, "koiki", 8)
    _make(folder, "koiki", 0.5)
    env = ops_env(BACKUP_DIR=str(folder), BACKUP_RETENTION_DAYS="30")
    assert run_ops("prune-backups", env=env, cwd=workdir).returncode == 0
    assert week_old.exists()
    assert run_ops("prune-backups", "--retention-days", "7", env=env, cwd=workdir).returncode == 0
    assert not week_old.exists()
