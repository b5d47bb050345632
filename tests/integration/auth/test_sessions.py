"""Refresh rotation and reuse detection, logout, revoke-all and the session list."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.audit.models import AuditEvent
from libkoiki.auth.models import AuthSession, RefreshToken, RevokedAccessToken
from tests.conftest import ClientFactory
from tests.fixtures.auth import AUTH, AuthedUser, login_as, register_and_login


async def _me(client: httpx.AsyncClient, user: AuthedUser) -> httpx.Response:
    return await client.get(f"{AUTH}/me", headers=user.headers)


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"{AUTH}/refresh", json={"refresh_token": token})


async def test_refresh_rotates_and_the_old_token_dies(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await register_and_login(client)
    response = await _refresh(client, user.refresh_token)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    pair = response.json()
    assert pair["token_type"] == "bearer"
    assert pair["refresh_token"] != user.refresh_token
    assert pair["access_token"] != user.access_token
    new = AuthedUser(
        user.id, user.email, user.password, pair["access_token"], pair["refresh_token"]
    )
    assert (await _me(client, new)).status_code == 200
    # Only hashes are stored: the token itself is nowhere in the database.
    stored = (await db_session.scalars(select(RefreshToken.token_hash))).all()
    assert len(stored) == 2
    assert user.refresh_token not in stored
    assert all(len(value) == 64 for value in stored)
    # Rotation keeps the session: same sid, one session row.
    assert len((await db_session.scalars(select(AuthSession))).all()) == 1


async def test_unknown_refresh_tokens_are_refused(client: httpx.AsyncClient) -> None:
    response = await _refresh(client, "made-up-token")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    empty = await client.post(f"{AUTH}/refresh", json={"refresh_token": ""})
    assert empty.status_code == 422


async def test_logout_revokes_the_access_token_and_its_refresh_token(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await register_and_login(client)
    second = await login_as(client, user)
    response = await client.post(f"{AUTH}/logout", headers=user.headers)
    assert response.status_code == 204
    assert response.content == b""

    me = await _me(client, user)
    assert me.status_code == 401
    assert me.json()["code"] == "token_revoked"
    assert (await _refresh(client, user.refresh_token)).status_code == 401
    # The jti is on the deny-list (until its expiry), and the other device is still signed in.
    assert len((await db_session.scalars(select(RevokedAccessToken))).all()) == 1
    assert (await _me(client, second)).status_code == 200


async def test_logout_with_a_refresh_token_of_another_own_session_ends_it_too(
    client: httpx.AsyncClient,
) -> None:
    user = await register_and_login(client)
    second = await login_as(client, user)
    stranger = await register_and_login(client)
    response = await client.post(
        f"{AUTH}/logout",
        headers=user.headers,
        json={"refresh_token": second.refresh_token},
    )
    assert response.status_code == 204
    assert (await _refresh(client, second.refresh_token)).status_code == 401

    # Someone else's refresh token in the body is ignored, not revoked.
    third = await login_as(client, user)
    await client.post(
        f"{AUTH}/logout", headers=third.headers, json={"refresh_token": stranger.refresh_token}
    )
    assert (await _refresh(client, stranger.refresh_token)).status_code == 200


async def test_a_logged_out_token_is_refused_by_another_replica(
    client: httpx.AsyncClient, make_client: ClientFactory
) -> None:
    user = await register_and_login(client)
    async with make_client() as replica:
        assert (await _me(replica, user)).status_code == 200
        assert (await client.post(f"{AUTH}/logout", headers=user.headers)).status_code == 204
        refused = await _me(replica, user)
        assert refused.status_code == 401
        assert refused.json()["code"] == "token_revoked"
        assert (await _refresh(replica, user.refresh_token)).status_code == 401


async def test_revoke_all_tokens_ends_every_session_access_tokens_included(
    client: httpx.AsyncClient, make_client: ClientFactory, db_session: AsyncSession
) -> None:
    user = await register_and_login(client)
    devices = [await login_as(client, user) for _ in range(2)]
    response = await client.post(f"{AUTH}/revoke-all-tokens", headers=user.headers)
    assert response.status_code == 204
    async with make_client() as replica:
        for device in (user, *devices):
            assert (await _me(replica, device)).status_code == 401
            assert (await _refresh(replica, device.refresh_token)).status_code == 401
    # Signing in again right away works: the cutoff only covers tokens issued before it.
    fresh = await login_as(client, user)
    assert (await _me(client, fresh)).status_code == 200
    actions = (await db_session.scalars(select(AuditEvent.action))).all()
    assert "auth.revoke_all" in actions


async def test_sessions_list_the_active_logins_and_flag_the_current_one(
    client: httpx.AsyncClient,
) -> None:
    user = await register_and_login(client)
    phone = await login_as(client, user)
    await client.post(
        f"{AUTH}/login",
        data={"username": user.email, "password": user.password},
        headers={"User-Agent": "KoikiPhone/2.0", "X-Forwarded-For": "203.0.113.9"},
    )
    await client.post(f"{AUTH}/logout", headers=phone.headers)

    response = await client.get(f"{AUTH}/sessions", headers=user.headers)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    sessions = response.json()
    assert len(sessions) == 2  # the logged-out one is gone
    assert {
        "id",
        "created_at",
        "last_used_at",
        "expires_at",
        "user_agent",
        "ip",
        "current",
    } == set(sessions[0])
    assert [item["current"] for item in sessions].count(True) == 1
    agents = {item["user_agent"]: item for item in sessions}
    assert agents["KoikiPhone/2.0"]["ip"] == "203.0.113.9"
    assert agents["KoikiPhone/2.0"]["current"] is False
    for item in sessions:
        assert item["created_at"].endswith("Z")
        assert item["expires_at"] > item["created_at"]


async def test_ending_one_session_kills_its_tokens_only(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await register_and_login(client)
    laptop = await login_as(client, user)
    listed = (await client.get(f"{AUTH}/sessions", headers=user.headers)).json()
    laptop_id = next(item["id"] for item in listed if not item["current"])

    response = await client.delete(f"{AUTH}/sessions/{laptop_id}", headers=user.headers)
    assert response.status_code == 204
    assert (await _me(client, laptop)).status_code == 401
    assert (await _refresh(client, laptop.refresh_token)).status_code == 401
    assert (await _me(client, user)).status_code == 200
    again = await client.delete(f"{AUTH}/sessions/{laptop_id}", headers=user.headers)
    assert again.status_code == 404
    event = await db_session.scalar(
        select(AuditEvent).where(AuditEvent.action == "auth.session_revoke")
    )
    assert event is not None
    assert event.target_id == laptop_id


async def test_another_users_session_cannot_be_ended(client: httpx.AsyncClient) -> None:
    owner = await register_and_login(client)
    intruder = await register_and_login(client)
    owner_session = (await client.get(f"{AUTH}/sessions", headers=owner.headers)).json()[0]["id"]
    for target in (owner_session, str(uuid.uuid4()), "not-a-uuid"):
        response = await client.delete(f"{AUTH}/sessions/{target}", headers=intruder.headers)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert (await _me(client, owner)).status_code == 200


async def test_revocation_holds_while_redis_is_down(
    client: httpx.AsyncClient, make_client: ClientFactory
) -> None:
    # Revocation lives in the database only, so a dead Redis (nothing listens on port 1) cannot
    # make a replica accept a revoked token.
    user = await register_and_login(client)
    async with make_client(redis_url="redis://127.0.0.1:1/0", rate_limit_enabled=False) as replica:
        assert (await _me(replica, user)).status_code == 200
        assert (await replica.post(f"{AUTH}/logout", headers=user.headers)).status_code == 204
        assert (await _me(replica, user)).status_code == 401
    assert (await _me(client, user)).status_code == 401


async def test_two_concurrent_refreshes_with_one_token_cannot_both_win(
    client: httpx.AsyncClient,
) -> None:
    # Two holders racing with the same token: exactly one exchange succeeds, the other is the
    # reuse, and the session ends (clients must serialise their refreshes).
    user = await register_and_login(client)
    first, second = await asyncio.gather(
        _refresh(client, user.refresh_token), _refresh(client, user.refresh_token)
    )
    assert sorted([first.status_code, second.status_code]) == [200, 401]
    winner = first if first.status_code == 200 else second
    assert (await _refresh(client, winner.json()["refresh_token"])).status_code == 401
