"""A database with rows in every table, put there through the real API, and a fingerprint of it.

Used where "no row lost" must mean every table: the migration round trip with data and the
backup/restore proof. A new table that `populate_every_table` leaves empty fails
`assert_every_table_has_rows`, so the proofs cannot silently skip it.
"""

from __future__ import annotations

import hashlib
import secrets

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from tests.fixtures.auth import AUTH, login, login_as, register_and_login, unique_email
from tests.support.oidc import ForgingOP, query_of

SSO = f"{AUTH}/sso"

# Text that breaks naive dumps and casts: quotes, a backslash, newlines, tabs, non-ASCII.
AWKWARD_TEXT = (
    "行 'quoted' \"double\" back\\slash\nline two\ttab ünïcødé <b>&amp;</b>; DROP TABLE x;--"
)


def population_settings(forging_op: ForgingOP) -> dict[str, object]:
    """The app's settings for `populate_every_table`: an identity provider to link."""
    return {"rate_limit_enabled": False, "oidc_providers": [forging_op.provider_entry()]}


async def populate_every_table(client: httpx.AsyncClient, forging_op: ForgingOP) -> None:
    """Drive the API so that every table of the app gets at least one row.

    The client's app must have `population_settings(forging_op)`."""
    alice = await register_and_login(client, unique_email("alice"))  # users, user_roles, sessions
    for i, done in enumerate((False, True, False)):
        created = await client.post(
            "/api/v1/todos",
            json={
                "title": f"{AWKWARD_TEXT[:40]} {i}",
                "description": AWKWARD_TEXT,
                "is_completed": done,
                "due_date": "2026-12-31T23:59:00Z",
            },
            headers=alice.headers,
        )
        assert created.status_code == 201, created.text
    # A second device logs out: a revoked access token and an ended session.
    other_device = await login_as(client, alice)
    logout = await client.post(f"{AUTH}/logout", headers=other_device.headers)
    assert logout.status_code == 204, logout.text
    # A rotated refresh token (the used one stays, marked used).
    refreshed = await client.post(f"{AUTH}/refresh", json={"refresh_token": alice.refresh_token})
    assert refreshed.status_code == 200, refreshed.text

    bob = await register_and_login(client, unique_email("bob"))
    revoked = await client.post(f"{AUTH}/revoke-all-tokens", headers=bob.headers)  # a cutoff
    assert revoked.status_code == 204, revoked.text
    failed = await login(client, bob.email, "not-" + bob.password)  # a counted attempt
    assert failed.status_code == 401, failed.text
    reset = await client.post(f"{AUTH}/password-reset/request", json={"email": alice.email})
    assert reset.status_code == 202, reset.text  # a reset token

    # Alice links an identity-provider account (user_identities)...
    link = await client.post(f"{SSO}/forge/link", headers=alice.headers, json={})
    assert link.status_code == 200, link.text
    params = query_of(link.json()["authorization_url"])
    forging_op.next_id_token = forging_op.sign(forging_op.claims(params["nonce"]))
    linked = await client.post(f"{SSO}/callback", json={"state": params["state"], "code": "c"})
    assert linked.status_code == 200, linked.text
    # Bob's address signs in at the provider for the first time: the offer to link the two with
    # his password once (sso_pending_links).
    await offer_to_link(client, forging_op, bob.email)
    # ...and a sign-in is left unfinished at the provider (sso_login_states).
    started = await client.get(f"{SSO}/forge/authorize")
    assert started.status_code == 302, started.text


async def offer_to_link(client: httpx.AsyncClient, forging_op: ForgingOP, email: str) -> None:
    """A first sign-in at the provider with the address of a password account: the 409 offer to
    link the two with the password once, stored in sso_pending_links."""
    verifier = secrets.token_urlsafe(32)
    offered = await client.get(
        f"{SSO}/forge/authorize",
        params={"binding": hashlib.sha256(verifier.encode()).hexdigest()},
    )
    assert offered.status_code == 302, offered.text
    params = query_of(offered.headers["location"])
    forging_op.next_id_token = forging_op.sign(forging_op.claims(params["nonce"], email=email))
    refused = await client.post(
        f"{SSO}/callback",
        json={"state": params["state"], "code": "c", "binding_verifier": verifier},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "sso_link_required"


def _plain_url(url: str) -> str:
    """asyncpg wants `postgresql://`; the suite's URLs may name the SQLAlchemy driver."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def table_fingerprints(url: str) -> dict[str, tuple[int, str]]:
    """Every public table's row count and the SHA-256 of its rows (as text, sorted)."""
    connection = await asyncpg.connect(_plain_url(url))
    try:
        tables = [
            r["tablename"]
            for r in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        result: dict[str, tuple[int, str]] = {}
        for table in tables:
            rows = await connection.fetch(f'SELECT t::text AS row FROM "{table}" t ORDER BY 1')
            digest = hashlib.sha256("\n".join(r["row"] for r in rows).encode()).hexdigest()
            result[table] = (len(rows), digest)
        return result
    finally:
        await connection.close()


async def table_columns(url: str) -> dict[str, list[str]]:
    connection = await asyncpg.connect(_plain_url(url))
    try:
        rows = await connection.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        )
    finally:
        await connection.close()
    columns: dict[str, list[str]] = {}
    for row in rows:
        columns.setdefault(row["table_name"], []).append(row["column_name"])
    return columns


async def sequence_positions(url: str) -> dict[str, int | None]:
    connection = await asyncpg.connect(_plain_url(url))
    try:
        rows = await connection.fetch(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
        )
        return {row["sequencename"]: row["last_value"] for row in rows}
    finally:
        await connection.close()


def assert_every_table_has_rows(fingerprints: dict[str, tuple[int, str]]) -> None:
    empty = sorted(table for table, (count, _) in fingerprints.items() if count == 0)
    assert not empty, f"tables without rows (extend populate_every_table): {empty}"
