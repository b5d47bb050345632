"""The readiness check's view of migrations, read without Alembic, agrees with Alembic's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from libkoiki.db.migrations import (
    PROJECT_ROOT,
    alembic_config,
    current_revisions,
    head_revisions,
    script_heads,
)

SCRIPT = '''"""{revision}"""
from collections.abc import Sequence

revision: str = {revision!r}
down_revision: str | Sequence[str] | None = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''


def _alembic_heads(script_location: Path) -> frozenset[str]:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def test_the_projects_head_is_alembics() -> None:
    assert head_revisions() == frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def test_branches_and_merges_give_alembics_heads(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (tmp_path / "script.py.mako").write_text("")

    def write(revision: str, down: str | tuple[str, ...] | None) -> None:
        (versions / f"{revision}.py").write_text(SCRIPT.format(revision=revision, down=down))

    write("a", None)
    write("b", "a")
    write("c", "a")  # a branch: two heads
    assert script_heads(versions) == _alembic_heads(tmp_path) == {"b", "c"}
    write("d", ("b", "c"))  # their merge: one head again
    write("e", "d")
    assert script_heads(versions) == _alembic_heads(tmp_path) == {"e"}


def test_current_revisions_read_alembics_version_table() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        assert current_revisions(connection) == frozenset()
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('b'), ('c')"))
        expected = frozenset(MigrationContext.configure(connection).get_current_heads())
        assert current_revisions(connection) == expected == {"b", "c"}


def test_a_server_process_loads_no_migration_tooling() -> None:
    # What each replica keeps in memory: the readiness check must not pull in Alembic and Mako.
    probe = (
        "import json, sys; import main;"
        " print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("KOIKI_")}
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    packages = set(json.loads(loaded.splitlines()[-1]))
    assert "fastapi" in packages
    assert not packages & {"alembic", "mako"}
