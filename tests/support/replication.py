"""A throwaway primary and a streaming standby made with pg_basebackup, on loopback ports.

The two servers keep their ports for the whole session; which one is the primary changes with
each failover (`promote_standby`, then `rebuild_old_primary` makes the old primary a standby of
the new one, as the runbook in docs/operations.md does). The app's URLs name both ports, so the
app never needs to know which is which.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

import asyncpg

from tests.support.servers import ThrowawayPostgres, _postgres_bin

SLOT = "koiki_standby"


class ReplicatedPostgres:
    def __init__(self) -> None:
        self.primary = ThrowawayPostgres()
        self.standby = ThrowawayPostgres()

    # --- URLs -------------------------------------------------------------------------------
    @property
    def ports(self) -> tuple[int, int]:
        low, high = sorted((self.primary.port, self.standby.port))
        return low, high

    @property
    def write_url(self) -> str:
        """libpq's multi-host form, as an operator writes DATABASE_URL."""
        first, second = self.ports
        return (
            f"postgresql://postgres@127.0.0.1:{first},127.0.0.1:{second}/postgres"
            "?target_session_attrs=read-write"
        )

    @property
    def read_url(self) -> str:
        """SQLAlchemy's multi-host form, as DATABASE_READ_URL may be written too."""
        first, second = self.ports
        return (
            f"postgresql+asyncpg://postgres@/postgres?host=127.0.0.1:{first}"
            f"&host=127.0.0.1:{second}&target_session_attrs=prefer-standby"
        )

    # --- building -------------------------------------------------------------------------
    def start(self) -> ReplicatedPostgres:
        self.primary.init()
        with (self.primary.data / "postgresql.conf").open("a") as conf:
            # The shipped defaults already stream (wal_level=replica, max_wal_senders=10,
            # hot_standby=on); a reply every second keeps the primary's view of lag current.
            conf.write("wal_receiver_status_interval = 1\nhot_standby_feedback = on\n")
        self.primary.start()
        self.sql(self.primary, f"SELECT pg_create_physical_replication_slot('{SLOT}')")
        self._base_backup(source=self.primary, into=self.standby)
        self.standby.start()
        self.wait_streaming()
        return self

    def _base_backup(self, *, source: ThrowawayPostgres, into: ThrowawayPostgres) -> None:
        # -R writes standby.signal and primary_conninfo; -S streams through the slot, so the
        # source keeps every WAL segment the new standby has not received yet.
        into._run(
            _postgres_bin("pg_basebackup"),
            "-h", "127.0.0.1", "-p", str(source.port), "-U", "postgres",
            "-D", str(into.data), "-R", "-X", "stream", "-S", SLOT, "--no-sync",
            "-c", "fast",
        )  # fmt: skip

    def sql(self, server: ThrowawayPostgres, statement: str) -> str:
        """One statement through psql; its result as text."""
        completed = server._run(
            _postgres_bin("psql"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres",
            "-d", "postgres", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", statement,
        )  # fmt: skip
        return completed.stdout.strip()

    def wait_streaming(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.sql(
                self.primary, "SELECT string_agg(state || ' ' || sync_state, ',') FROM"
                " pg_stat_replication"
            )  # fmt: skip
            if state.startswith("streaming"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the standby does not stream: {state!r}")

    def set_synchronous(self, synchronous: bool) -> None:
        """Commits wait for the standby's flush ('*': any standby), or not."""
        names = "'*'" if synchronous else "''"
        self.sql(self.primary, f"ALTER SYSTEM SET synchronous_standby_names = {names}")
        self.sql(self.primary, "SELECT pg_reload_conf()")
        want = "sync" if synchronous else "async"
        deadline = time.monotonic() + 10
        while self.sql(self.primary, "SELECT sync_state FROM pg_stat_replication") != want:
            assert time.monotonic() < deadline, f"the standby did not become {want}"
            time.sleep(0.05)

    # --- failover -------------------------------------------------------------------------
    def freeze_wal_sender(self) -> int:
        """Stop the primary's WAL sender (SIGSTOP): the standby is cut off and receives nothing
        more, as behind a slow or broken network. Returns its pid for `thaw`."""
        pid = int(self.sql(self.primary, "SELECT pid FROM pg_stat_replication"))
        os.kill(pid, signal.SIGSTOP)
        return pid

    def kill_primary_cut_off(self, sender: int) -> None:
        """`kill_primary` while its WAL sender is frozen: the postmaster gets SIGQUIT (what
        `pg_ctl stop -m immediate` sends) before the sender runs again, so the SIGQUIT waiting
        for the sender ends it before it sends anything more."""
        postmaster = int((self.primary.data / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGQUIT)
        time.sleep(0.1)  # the postmaster passes SIGQUIT on to every server process
        os.kill(sender, signal.SIGCONT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(postmaster, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
        self.kill_primary()  # pg_ctl stop -m immediate, a no-op once it is gone

    def kill_primary(self) -> None:
        self.primary.stop()  # pg_ctl stop -m immediate: a crash

    def promote_standby(self) -> None:
        self.standby._run(_postgres_bin("pg_ctl"), "-D", str(self.standby.data), "-w", "promote")
        self.primary, self.standby = self.standby, self.primary
        # No standby yet: the new primary commits alone (its settings never asked for a sync
        # standby: ALTER SYSTEM ran on the old primary after the base backup).

    def rebuild_old_primary(self) -> None:
        """The old primary, stopped, becomes a standby of the new one (a new base backup)."""
        old = self.standby
        old.stop()
        shutil.rmtree(old.data)
        self.sql(
            self.primary,
            f"SELECT pg_drop_replication_slot('{SLOT}') FROM pg_replication_slots"
            f" WHERE slot_name = '{SLOT}'",
        )
        self.sql(self.primary, f"SELECT pg_create_physical_replication_slot('{SLOT}')")
        self._base_backup(source=self.primary, into=old)
        old.start()
        self.wait_streaming()

    def cleanup(self) -> None:
        for server in (self.primary, self.standby):
            server.cleanup()

    async def connect(self, server: ThrowawayPostgres) -> asyncpg.Connection:
        return await asyncpg.connect(server.url)
