"""`python -m ops backup` / `restore` for real: pg_dump and pg_restore against PostgreSQL."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from ops.backup import backup_name
from tests.conftest import ClientFactory
from tests.ops.support import ScratchDatabase, ops_env, run_ops
from tests.support.oidc import ForgingOP
from tests.support.population import (
    assert_every_table_has_rows,
    populate_every_table,
    population_settings,
    sequence_positions,
    table_fingerprints,
)

pytestmark = pytest.mark.postgres_only

PROBE_TABLE = """
CREATE TABLE ops_probe (
    id bigserial PRIMARY KEY,
    label text NOT NULL,
    note text,
    payload bytea,
    amount numeric(12, 2),
    seen_at timestamptz,
    tags text[],
    doc jsonb
)
"""


async def _fill(url: str, rows: int = 2000) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(PROBE_TABLE)
        base = datetime(2026, 1, 1, tzinfo=UTC)
        await connection.executemany(
            "INSERT INTO ops_probe (label, note, payload, amount, seen_at, tags, doc) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                (
                    f"行 {i} — ünïcødé 'quoted' \"double\"",
                    None if i % 7 == 0 else "line one\nline two\ttab",
                    bytes(range(i % 256)),
                    i * 3.25,
                    base + timedelta(minutes=i),
                    ["a", f"t{i}"],
                    f'{{"n": {i}, "nested": {{"ok": true}}}}',
                )
                for i in range(rows)
            ],
        )
        # Gaps in the sequence: a restore must keep its position, not just the rows.
        await connection.execute("DELETE FROM ops_probe WHERE id % 10 = 0")
    finally:
        await connection.close()


async def _fingerprint(url: str) -> dict[str, object]:
    """Every table's rows hashed, plus every sequence's position."""
    positions = await sequence_positions(url)
    return {**await table_fingerprints(url), **{f"seq:{k}": v for k, v in positions.items()}}


@pytest.fixture(scope="module")
async def filled_template(
    pg_base_url: str, migrated_template: ScratchDatabase
) -> AsyncIterator[ScratchDatabase]:
    database = ScratchDatabase(pg_base_url, "filled")
    await database.create(template=migrated_template)
    try:
        await _fill(database.url)
        yield database
    finally:
        await database.drop()


@pytest.fixture
async def filled_db(
    pg_base_url: str, filled_template: ScratchDatabase
) -> AsyncIterator[ScratchDatabase]:
    """A database at head with the awkward rows of `_fill`: a copy of `filled_template`."""
    database = ScratchDatabase(pg_base_url, "db")
    await database.create(template=filled_template)
    yield database
    await database.drop()


@pytest.fixture(scope="module")
def template_dump(
    filled_template: ScratchDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A backup of `filled_template` by `python -m ops backup`, made once for the restore tests."""
    folder = tmp_path_factory.mktemp("template-dump")
    return _backup(filled_template, folder / "backups", folder)


@pytest.fixture
def dump(template_dump: Path, tmp_path: Path) -> Path:
    """The test's own copy of `template_dump` and its checksum, in tmp_path/backups: a backup of
    a database with the same rows as `filled_db`, as `ops backup` made it."""
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    for made in (template_dump, template_dump.with_name(template_dump.name + ".sha256")):
        shutil.copy2(made, backup_dir / made.name)
    return backup_dir / template_dump.name


def _flip_a_byte_in_the_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _check_backup_files(dump: Path, backup_dir: Path, database: str, output: str) -> None:
    assert dump.parent == backup_dir
    assert dump.name.startswith(f"koiki-{database}-")
    assert dump.suffix == ".dump"
    # Progress and the final size are shown; the checksum file matches the dump.
    assert f"/{database} to {dump}" in output
    assert "KiB in" in output or "MiB in" in output
    checksum_line = dump.with_name(dump.name + ".sha256").read_text()
    assert checksum_line == f"{hashlib.sha256(dump.read_bytes()).hexdigest()}  {dump.name}\n"
    assert dump.stat().st_mode & 0o077 == 0, "backups hold password hashes: owner-only"


def _backup(db: ScratchDatabase, backup_dir: Path, workdir: Path, **env: str) -> Path:
    completed = run_ops(
        "backup", env=ops_env(DATABASE_URL=db.url, BACKUP_DIR=str(backup_dir), **env), cwd=workdir
    )
    assert completed.returncode == 0, completed.stderr
    return Path(completed.stdout.strip())


async def test_backup_drop_restore_gives_identical_rows(
    filled_db: ScratchDatabase,
    tmp_path: Path,
    workdir: Path,
    make_client: ClientFactory,
    forging_op: ForgingOP,
) -> None:
    # Rows in every table of the app, made through its API, beside the table of awkward types.
    settings = population_settings(forging_op)
    async with make_client(database_url=filled_db.url, **settings) as client:
        await populate_every_table(client, forging_op)
    assert_every_table_has_rows(await table_fingerprints(filled_db.url))
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    # A backup from 40 days ago and an unrelated file: the run must delete only the former.
    old = backup_dir / backup_name(filled_db.name, datetime.now(UTC) - timedelta(days=40))
    old.write_bytes(b"old dump")
    old.with_name(old.name + ".sha256").write_text("0" * 64 + f"  {old.name}\n")
    unrelated = backup_dir / "notes.txt"
    unrelated.write_text("keep me")
    before = await _fingerprint(filled_db.url)

    completed = run_ops(
        "backup",
        env=ops_env(DATABASE_URL=filled_db.url, BACKUP_DIR=str(backup_dir)),
        cwd=workdir,
    )
    assert completed.returncode == 0, completed.stderr
    dump = Path(completed.stdout.strip())
    _check_backup_files(dump, backup_dir, filled_db.name, completed.stderr)
    password = make_url(filled_db.url).password
    if password:
        assert f":{password}@" not in completed.stderr + completed.stdout
    # Retention ran after the backup: the old one is gone, the unrelated file stays.
    assert not old.exists()
    assert not old.with_name(old.name + ".sha256").exists()
    assert unrelated.exists()
    assert f"deleted {old.name}" in completed.stderr

    await filled_db.drop()
    assert not await filled_db.exists()

    restored = run_ops(
        "restore",
        dump.name,
        "--confirm",
        filled_db.name,
        env=ops_env(DATABASE_URL=filled_db.url, BACKUP_DIR=str(backup_dir)),
        cwd=workdir,
    )
    assert restored.returncode == 0, restored.stderr
    assert "checksum ok" in restored.stderr
    assert await _fingerprint(filled_db.url) == before

    # The restored database is usable: the sequence continues after the highest id.
    connection = await asyncpg.connect(filled_db.url)
    try:
        new_id = await connection.fetchval(
            "INSERT INTO ops_probe (label) VALUES ('after restore') RETURNING id"
        )
        assert new_id > await connection.fetchval(
            "SELECT max(id) FROM ops_probe WHERE id < $1", new_id
        )
    finally:
        await connection.close()


async def test_restore_into_a_new_named_database(
    filled_db: ScratchDatabase, dump: Path, tmp_path: Path, workdir: Path
) -> None:
    copy_name = filled_db.name + "_copy"
    try:
        completed = run_ops(
            "restore",
            str(dump),
            "--target-db",
            copy_name,
            "--confirm",
            copy_name,
            env=ops_env(DATABASE_URL=filled_db.url, BACKUP_DIR=str(tmp_path / "elsewhere")),
            cwd=workdir,
        )
        assert completed.returncode == 0, completed.stderr
        assert "created database" in completed.stderr
        copy_url = filled_db.url.rsplit("/", 1)[0] + "/" + copy_name
        assert await _fingerprint(copy_url) == await _fingerprint(filled_db.url)
    finally:
        await filled_db.drop(copy_name)


async def test_restore_refuses_without_confirmation(
    filled_db: ScratchDatabase, dump: Path, workdir: Path
) -> None:
    target = filled_db.name + "_unconfirmed"
    env = ops_env(DATABASE_URL=filled_db.url, BACKUP_DIR=str(dump.parent))
    for confirm in ([], ["--confirm", filled_db.name]):  # none, or the wrong database's name
        completed = run_ops(
            "restore", dump.name, "--target-db", target, *confirm, env=env, cwd=workdir
        )
        assert completed.returncode == 2
        assert f"--confirm {target}" in completed.stderr
    assert not await filled_db.exists(target)


async def test_restore_refuses_a_damaged_backup(
    filled_db: ScratchDatabase, dump: Path, workdir: Path
) -> None:
    _flip_a_byte_in_the_middle(dump)
    target = filled_db.name + "_damaged"
    completed = run_ops(
        "restore",
        dump.name,
        "--target-db",
        target,
        "--confirm",
        target,
        env=ops_env(DATABASE_URL=filled_db.url, BACKUP_DIR=str(dump.parent)),
        cwd=workdir,
    )
    assert completed.returncode == 1
    assert "checksum mismatch" in completed.stderr
    assert "Nothing was restored" in completed.stderr
    assert not await filled_db.exists(target)


async def test_restore_refuses_a_database_with_tables(
    filled_db: ScratchDatabase, dump: Path, workdir: Path
) -> None:
    before = await _fingerprint(filled_db.url)
    completed = run_ops(
        "restore",
        dump.name,
        "--confirm",
        filled_db.name,
        env=ops_env(DATABASE_URL=filled_db.url, BACKUP_DIR=str(dump.parent)),
        cwd=workdir,
    )
    assert completed.returncode == 1
    assert "is not empty" in completed.stderr
    assert await _fingerprint(filled_db.url) == before


def test_backup_reports_an_unreachable_database(tmp_path: Path, workdir: Path) -> None:
    backup_dir = tmp_path / "backups"
    completed = run_ops(
        "backup",
        env=ops_env(
            DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere", BACKUP_DIR=str(backup_dir)
        ),
        cwd=workdir,
    )
    assert completed.returncode == 1
    assert "pg_dump failed" in completed.stderr
    # No partial file is left behind to be mistaken for a backup.
    assert list(backup_dir.iterdir()) == []
