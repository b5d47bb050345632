"""PATCH /api/v1/users/me: a user edits their own profile and nothing else."""

from __future__ import annotations

import httpx

from tests.integration.accounts.conftest import Actor


async def test_user_changes_their_own_name(client: httpx.AsyncClient, plain_user: Actor) -> None:
    response = await client.patch(
        "/api/v1/users/me", headers=plain_user.headers, json={"full_name": "  Renamed Person  "}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == plain_user.id
    assert body["full_name"] == "Renamed Person"
    assert body["roles"] == ["user"]
    assert body["permissions"] == []
    assert "hashed_password" not in response.text
    me = await client.get("/api/v1/auth/me", headers=plain_user.headers)
    assert me.json()["full_name"] == "Renamed Person"

    cleared = await client.patch(
        "/api/v1/users/me", headers=plain_user.headers, json={"full_name": None}
    )
    assert cleared.json()["full_name"] is None


async def test_profile_validation_and_authentication(
    client: httpx.AsyncClient, plain_user: Actor
) -> None:
    too_long = await client.patch(
        "/api/v1/users/me", headers=plain_user.headers, json={"full_name": "x" * 256}
    )
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["body", "full_name"]
    anonymous = await client.patch("/api/v1/users/me", json={"full_name": "Nobody"})
    assert anonymous.status_code == 401
