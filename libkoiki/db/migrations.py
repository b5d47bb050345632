"""Where the Alembic scripts live, which revisions are the head, and which the database is at.

The readiness check compares the last two on every replica. It reads them without Alembic: the
head from the scripts' `revision`/`down_revision` assignments, the database's revisions from
Alembic's version table. Importing Alembic's runtime (and Mako with it) would cost every server
process about 100 modules and 6 MB for two lookups; the ops tooling that migrates imports it.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
VERSIONS = PROJECT_ROOT / "alembic" / "versions"
# Alembic's default, which alembic/env.py keeps (and current_revisions' query names).
VERSION_TABLE = "alembic_version"


def alembic_config(database_url: str | None = None) -> Config:
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    if database_url is not None:
        # ConfigParser interpolation treats % specially; URL-encoded passwords contain it.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def script_heads(versions: Path) -> frozenset[str]:
    """The revisions no other script revises: what `ScriptDirectory.get_heads()` answers."""
    revises: dict[str, tuple[str, ...]] = {}
    for script in versions.glob("*.py"):
        names = _module_constants(script, ("revision", "down_revision"))
        revision = names.get("revision")
        if isinstance(revision, str):
            down = names.get("down_revision")
            # None for the first revision, a tuple (or list) for a merge.
            if isinstance(down, str):
                revises[revision] = (down,)
            elif isinstance(down, tuple | list):
                revises[revision] = tuple(str(parent) for parent in down)
            else:
                revises[revision] = ()
    parents = {parent for revised in revises.values() for parent in revised}
    return frozenset(revises.keys() - parents)


def _module_constants(script: Path, names: tuple[str, ...]) -> dict[str, object]:
    found: dict[str, object] = {}
    for statement in ast.parse(script.read_bytes(), str(script)).body:
        targets: list[ast.expr]
        if isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        elif isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in names:
                found[target.id] = ast.literal_eval(value)
    return found


@lru_cache
def head_revisions() -> frozenset[str]:
    return script_heads(VERSIONS)


def current_revisions(connection: Connection) -> frozenset[str]:
    """The revisions the database is at; none before the first migration."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return frozenset()
    return frozenset(connection.scalars(text("SELECT version_num FROM alembic_version")))
