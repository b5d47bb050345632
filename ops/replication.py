"""`ops doctor`'s replication check: every server DATABASE_URL and DATABASE_READ_URL name, asked
one by one: its role, how its standbys stream (on a primary) and how far behind it is (on a
standby)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ops.database import PgTarget, connect, describe_error

_TIMEOUT = 5.0

_STANDBY_STATE = """
SELECT pg_is_in_recovery() AS standby,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS paused,
       pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() AS replayed_all,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS since_replay,
       (SELECT status FROM pg_stat_wal_receiver) AS receiver,
       (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver) AS sender
"""
_STREAMS = """
SELECT coalesce(application_name, '?') AS name, state, sync_state,
       coalesce(extract(epoch FROM replay_lag)::float8, 0) AS lag
FROM pg_stat_replication ORDER BY application_name
"""
_SLOTS = """
SELECT slot_name, active,
       pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) AS retained
FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY slot_name
"""


@dataclass(frozen=True)
class ServerState:
    name: str
    role: str  # primary, standby, unreachable, unknown
    detail: str
    problem: str | None = None


def servers_of(database_url: str, read_url: str | None) -> list[PgTarget]:
    seen: dict[str, PgTarget] = {}
    for url in (database_url, read_url):
        if url:
            for server in PgTarget.from_url(url).each_server():
                seen.setdefault(server.servers, server)
    return list(seen.values())


async def server_state(server: PgTarget, max_lag: float) -> ServerState:
    try:
        connection = await connect(server, connect_timeout=_TIMEOUT)
    except Exception as exc:  # reported, not raised: the other servers are still checked
        return ServerState(server.servers, "unreachable", describe_error(exc), "unreachable")
    try:
        state = await asyncio.wait_for(connection.fetchrow(_STANDBY_STATE), _TIMEOUT)
        assert state is not None
        if state["standby"]:
            return _standby(server.servers, state, max_lag)
        streams = await connection.fetch(_STREAMS)
        slots = await connection.fetch(_SLOTS)
    except Exception as exc:  # e.g. a role without pg_monitor: say so, check the others
        return ServerState(server.servers, "unknown", describe_error(exc), "could not be asked")
    finally:
        await connection.close()
    shown = [
        f"{row['name']} {row['state']} ({row['sync_state']}, {row['lag']:.1f}s replay lag)"
        for row in streams
    ]
    slot_text = [
        f"slot {row['slot_name']} {'active' if row['active'] else 'INACTIVE'}"
        f" ({row['retained']} retained)"
        for row in slots
    ]
    inactive = [row["slot_name"] for row in slots if not row["active"]]
    detail = "primary, " + (", ".join(shown) if shown else "no standby streaming")
    if slot_text:
        detail += "; " + ", ".join(slot_text)
    problem = f"inactive slot {', '.join(inactive)} retains WAL" if inactive else None
    return ServerState(server.servers, "primary", detail, problem)


def _standby(name: str, state: Any, max_lag: float) -> ServerState:
    lag = 0.0 if state["replayed_all"] else float(state["since_replay"] or 0.0)
    receiver = state["receiver"] or "not receiving"
    detail = f"standby, {receiver}"
    if state["sender"]:
        detail += f" from {state['sender']}"
    detail += f", {lag:.1f}s behind" + (", replay PAUSED" if state["paused"] else "")
    problem = None
    if state["receiver"] != "streaming":
        problem = "not streaming from a primary"
    elif state["paused"]:
        problem = "replay paused (SELECT pg_wal_replay_resume())"
    elif lag > max_lag:
        problem = f"{lag:.1f}s behind (DATABASE_READ_MAX_LAG_SECONDS={max_lag:g})"
    return ServerState(name, "standby", detail, problem)


def verdict(states: list[ServerState]) -> tuple[str, str, str | None]:
    """(status, summary, hint) for the doctor."""
    summary = "; ".join(f"{state.name} {state.detail}" for state in states)
    primaries = [state for state in states if state.role == "primary"]
    if not primaries:
        return (
            "fail",
            "no primary among " + summary,
            "promote a standby (docs/operations.md, Failover) or start the primary",
        )
    if len(primaries) > 1:
        return (
            "fail",
            "more than one primary (split brain): " + summary,
            "stop the old primary at once, then rebuild it as a standby (docs/operations.md)",
        )
    problems = [f"{state.name}: {state.problem}" for state in states if state.problem]
    if problems:
        return (
            "warn",
            summary + " -- " + "; ".join(problems),
            "see docs/operations.md, Watching replication",
        )
    return "ok", summary, None
