"""docker-compose.ha.yml's PostgreSQL scripts, run for real outside a container: the primary's
init script on a throwaway primary, then the standby's entrypoint making a streaming standby of
it with pg_basebackup. The official image's own pieces are stand-ins: `gosu` is `runuser`, and
`docker-entrypoint.sh` records its arguments (the test then starts the standby itself)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT, ThrowawayPostgres, _postgres_bin

pytestmark = pytest.mark.postgres_only

SCRIPTS = REPO_ROOT / "docker" / "postgres"


@pytest.fixture
def primary() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres().init_and_start()
    yield server
    server.cleanup()


def _stand_ins(directory: Path, recorded: Path) -> None:
    gosu = directory / "gosu"
    gosu.write_text('#!/bin/sh\nuser="$1"; shift\nexec runuser -u "$user" -- "$@"\n')
    entrypoint = directory / "docker-entrypoint.sh"
    entrypoint.write_text(f'#!/bin/sh\necho "$@" > {recorded}\n')
    for path in (gosu, entrypoint):
        path.chmod(0o755)


def _psql(server: ThrowawayPostgres, sql: str) -> str:
    return server._run(
        _postgres_bin("psql"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres",
        "-XAtq", "-c", sql,
    ).stdout.strip()  # fmt: skip


@pytest.mark.skipif(os.geteuid() != 0, reason="the entrypoint chowns the data directory: root")
def test_the_standby_entrypoint_makes_a_synchronous_streaming_standby(
    primary: ThrowawayPostgres, tmp_path: Path
) -> None:
    replication = {
        "POSTGRES_REPLICATION_USER": "replicator",
        "POSTGRES_REPLICATION_PASSWORD": "not-used-under-trust",
    }
    bin_dir = str(Path(_postgres_bin("psql")).parent)
    init_env = {
        **os.environ,
        **replication,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "postgres",
        "PGDATA": str(primary.data),
        "PGHOST": "127.0.0.1",
        "PGPORT": str(primary.port),
        "POSTGRES_SYNCHRONOUS_STANDBY_NAMES": "koiki_standby",
    }
    primary._run("bash", str(SCRIPTS / "init-replication.sh"), env=init_env)
    assert _psql(primary, "SELECT rolreplication FROM pg_roles WHERE rolname = 'replicator'") == "t"
    assert _psql(primary, "SELECT slot_name FROM pg_replication_slots") == "koiki_standby"
    assert (
        "host replication replicator all scram-sha-256"
        in (primary.data / "pg_hba.conf").read_text()
    )
    _psql(primary, "SELECT pg_reload_conf()")  # the official entrypoint restarts the server

    standby = ThrowawayPostgres()
    shims = tmp_path / "bin"
    shims.mkdir()
    recorded = tmp_path / "entrypoint-args"
    _stand_ins(shims, recorded)
    try:
        subprocess.run(
            [
                "bash",
                str(SCRIPTS / "replication-entrypoint.sh"),
                "postgres",
                "-c",
                "hot_standby=on",
            ],
            env={
                **os.environ,
                **replication,
                "PATH": f"{shims}:{bin_dir}:{os.environ['PATH']}",
                "PGDATA": str(standby.data),
                "PRIMARY_HOST": "127.0.0.1",
                "PRIMARY_PORT": str(primary.port),
            },
            check=True,
            capture_output=True,
            timeout=120,
        )
        assert recorded.read_text().split() == ["postgres", "-c", "hot_standby=on"]
        assert (standby.data / "standby.signal").exists()
        settings = (standby.data / "postgresql.auto.conf").read_text()
        assert "primary_slot_name = 'koiki_standby'" in settings
        assert "application_name=koiki_standby" in settings
        standby.start()
        deadline = time.monotonic() + 30
        state = ""
        while state != "koiki_standby streaming sync" and time.monotonic() < deadline:
            time.sleep(0.1)
            state = _psql(
                primary, "SELECT application_name || ' ' || state || ' ' || sync_state"
                " FROM pg_stat_replication"
            )  # fmt: skip
        assert state == "koiki_standby streaming sync"
        # A second start finds the data directory there and starts it as it is.
        standby.stop()
        recorded.unlink()
        before = sorted(path.name for path in standby.data.iterdir())
        subprocess.run(
            ["bash", str(SCRIPTS / "replication-entrypoint.sh"), "postgres"],
            env={**os.environ, "PATH": f"{shims}:{os.environ['PATH']}",
                 "PGDATA": str(standby.data), "PRIMARY_HOST": "127.0.0.1"},
            check=True, timeout=30,
        )  # fmt: skip
        assert recorded.read_text().split() == ["postgres"]
        assert sorted(path.name for path in standby.data.iterdir()) == before
    finally:
        standby.cleanup()
        shutil.rmtree(shims, ignore_errors=True)
