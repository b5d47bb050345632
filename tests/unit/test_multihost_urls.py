"""Multi-host URLs in the forms each consumer needs: per-host read targets for the app, libpq's
environment for pg_dump and psql, and WAL positions compared as the server orders them."""

from __future__ import annotations

from libkoiki.config import async_database_url, primary_url
from libkoiki.db.replicas import lsn, read_target_urls
from ops.database import PgTarget

TWO_HOSTS = primary_url(async_database_url("postgresql://u:p%40ss@db:5432,db-standby:5433/koiki"))


def test_wal_positions_order_like_the_server() -> None:
    assert lsn("0/16B3740") < lsn("0/FFFFFFFF") < lsn("1/0") < lsn("16/B374D848")
    assert lsn("16/B374D848") == (0x16 << 32) | 0xB374D848


def test_each_read_host_is_a_target_of_its_own() -> None:
    targets = read_target_urls(
        async_database_url(
            "postgresql://u:p%40ss@r1:5432,r2:5433/koiki?target_session_attrs=prefer-standby"
        )
    )
    assert targets == {
        "r1:5432": "postgresql+asyncpg://u:p%40ss@r1:5432/koiki",
        "r2:5433": "postgresql+asyncpg://u:p%40ss@r2:5433/koiki",
    }
    single = read_target_urls("postgresql+asyncpg://u@replica/koiki")
    assert single == {"replica:5432": "postgresql+asyncpg://u@replica/koiki"}


def test_ops_hand_libpq_every_host_and_ask_for_the_primary() -> None:
    target = PgTarget.from_url(TWO_HOSTS)
    assert target.hosts == (("db", 5432), ("db-standby", 5433))
    assert target.describe() == "u@db:5432,db-standby:5433/koiki"
    env = target.libpq_env()
    assert (env["PGHOST"], env["PGPORT"]) == ("db,db-standby", "5432,5433")
    assert env["PGTARGETSESSIONATTRS"] == "read-write"
    assert env["PGPASSWORD"] == "p@ss"
    kwargs = target.connect_kwargs()
    assert (kwargs["host"], kwargs["port"]) == (["db", "db-standby"], [5432, 5433])
    assert [server.servers for server in target.each_server()] == ["db:5432", "db-standby:5433"]
    assert all(server.target_session_attrs is None for server in target.each_server())


def test_a_single_host_target_is_as_before() -> None:
    target = PgTarget.from_url("postgresql+asyncpg://u:p@db:5432/koiki")
    assert (target.host, target.port) == ("db", 5432)
    env = target.libpq_env()
    assert (env["PGHOST"], env["PGPORT"]) == ("db", "5432")
    assert "PGTARGETSESSIONATTRS" not in env or env["PGTARGETSESSIONATTRS"] == ""
