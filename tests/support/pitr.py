"""A throwaway PostgreSQL cluster that archives its WAL, and clusters started on restored data
directories: the servers point-in-time recovery is rehearsed on."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from tests.support.servers import ThrowawayPostgres, _postgres_bin


def psql(port: int, statement: str, database: str = "postgres") -> str:
    """One statement through psql (-At: bare values, one row a line)."""
    run = subprocess.run(
        [_postgres_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
         "-d", database, "-At", "-v", "ON_ERROR_STOP=1", "-c", statement],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"psql failed: {run.stderr.strip()}")
    return run.stdout.strip()


class QueryablePostgres(ThrowawayPostgres):
    def sql(self, statement: str, database: str = "postgres") -> str:
        return psql(self.port, statement, database)


class ArchivingPostgres(QueryablePostgres):
    """`archive_command` copies every finished WAL segment into `self.wal_archive`."""

    def __init__(self) -> None:
        super().__init__()
        self.wal_archive = self.dir / "wal"
        self.base_backups = self.dir / "base"
        for folder in (self.wal_archive, self.base_backups):
            folder.mkdir()
            if self._as_postgres:
                shutil.chown(folder, user="postgres", group="postgres")

    def init(self) -> None:
        super().init()
        # The documented settings (docs/operations.md, "WAL archiving"), archive dir aside.
        with (self.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(
                "wal_level = replica\n"
                "archive_mode = on\n"
                f"archive_command = 'test ! -f {self.wal_archive}/%f"
                f" && cp %p {self.wal_archive}/%f'\n"
                "archive_timeout = 60\n"
            )

    def switch_wal(self, timeout: float = 30) -> None:
        """Close the current WAL segment and wait until the archiver has copied it."""
        segment = self.sql("SELECT pg_walfile_name(pg_switch_wal())")
        deadline = time.monotonic() + timeout
        while not (self.wal_archive / segment).exists():
            assert time.monotonic() < deadline, f"WAL {segment} was never archived"
            time.sleep(0.05)


def start_on(data_dir: Path, timeout: float = 60) -> QueryablePostgres:
    """A server on a restored data directory, returned once recovery has finished (promoted)."""
    server = QueryablePostgres()
    shutil.rmtree(server.data, ignore_errors=True)
    server.data = data_dir
    server.start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            if psql(server.port, "SELECT pg_is_in_recovery()") == "f":
                return server
        except RuntimeError:
            pass  # not accepting connections yet
        if time.monotonic() > deadline:
            log = (server.dir / "server.log").read_text(errors="replace")[-2000:]
            server.cleanup()
            raise AssertionError(f"recovery did not finish:\n{log}")
        time.sleep(0.1)
