"""`roles:manage` cannot reach further than its holder could otherwise: built-in roles are
protected, and a role that others hold is only widened by someone who could give them the
permission directly (issue 22: granting `roles:manage` to the built-in `user` role escalated every
account)."""

from __future__ import annotations

import httpx

from tests.fixtures.auth import register_and_login
from tests.integration.accounts.conftest import Actor, MakeActor


async def _role_ids(client: httpx.AsyncClient, actor: Actor) -> dict[str, int]:
    response = await client.get("/api/v1/roles", headers=actor.headers)
    assert response.status_code == 200, response.text
    return {role["name"]: role["id"] for role in response.json()}


async def _permissions_of(client: httpx.AsyncClient, admin: Actor, name: str) -> list[str]:
    response = await client.get("/api/v1/roles", headers=admin.headers)
    return next(role["permissions"] for role in response.json() if role["name"] == name)


async def test_a_role_manager_cannot_grant_to_every_account_through_the_builtin_role(
    client: httpx.AsyncClient, admin: Actor, make_actor: MakeActor
) -> None:
    created = await client.post(
        "/api/v1/roles",
        headers=admin.headers,
        json={"name": "role-admin", "permissions": ["roles:manage", "users:read"]},
    )
    assert created.status_code == 201, created.text
    manager = await make_actor("roles@example.com", roles=("role-admin", "user"))
    ids = await _role_ids(client, manager)

    for name, permissions in (
        ("user", ["roles:manage"]),  # every self-registered account would gain it
        ("user", ["users:read"]),
        ("admin", []),  # stripping the administrators
        ("admin", ["roles:manage"]),
    ):
        response = await client.put(
            f"/api/v1/roles/{ids[name]}/permissions",
            headers=manager.headers,
            json={"permissions": permissions},
        )
        assert response.status_code == 403, (name, permissions, response.text)
        body = response.json()
        assert body["code"] == "permission_denied"
        assert f"built-in role '{name}'" in body["detail"]
        assert "superuser" in body["detail"]
        assert body["request_id"] == response.headers["x-request-id"]

    # Nothing changed: a newcomer still holds no permission, the administrators keep theirs.
    assert await _permissions_of(client, admin, "user") == []
    assert "roles:manage" in await _permissions_of(client, admin, "admin")
    newcomer = await register_and_login(client)
    assert (await client.get("/api/v1/roles", headers=newcomer.headers)).status_code == 403


async def test_a_superuser_may_change_a_builtin_role_deliberately(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    ids = await _role_ids(client, admin)
    widened = await client.put(
        f"/api/v1/roles/{ids['user']}/permissions",
        headers=admin.headers,
        json={"permissions": ["todos:read_all"]},
    )
    assert widened.status_code == 200, widened.text
    assert widened.json()["permissions"] == ["todos:read_all"]
    # Built-in roles still cannot be deleted, by anyone.
    deleted = await client.delete(f"/api/v1/roles/{ids['user']}", headers=admin.headers)
    assert deleted.status_code == 400
    assert deleted.json()["code"] == "builtin_role"


async def test_widening_a_role_others_hold_needs_the_power_to_grant_it_to_them(
    client: httpx.AsyncClient, admin: Actor, make_actor: MakeActor
) -> None:
    for name, permissions in (
        ("role-admin", ["roles:manage", "audit:read"]),
        ("role-and-user-admin", ["roles:manage", "audit:read", "users:write"]),
        ("team", []),
    ):
        response = await client.post(
            "/api/v1/roles", headers=admin.headers, json={"name": name, "permissions": permissions}
        )
        assert response.status_code == 201, response.text
    manager = await make_actor("roles@example.com", roles=("role-admin",))
    user_admin = await make_actor("users@example.com", roles=("role-and-user-admin",))
    member = await make_actor("member@example.com", roles=("team",))
    team = (await _role_ids(client, manager))["team"]

    refused = await client.put(
        f"/api/v1/roles/{team}/permissions",
        headers=manager.headers,
        json={"permissions": ["audit:read"]},
    )
    assert refused.status_code == 403, refused.text
    assert "held by 1 other account(s)" in refused.json()["detail"]
    assert "users:write" in refused.json()["detail"]
    assert (await client.get("/api/v1/audit-events", headers=member.headers)).status_code == 403

    # Someone who could give the member that permission directly may do it through the role.
    granted = await client.put(
        f"/api/v1/roles/{team}/permissions",
        headers=user_admin.headers,
        json={"permissions": ["audit:read"]},
    )
    assert granted.status_code == 200, granted.text
    assert (await client.get("/api/v1/audit-events", headers=member.headers)).status_code == 200

    # Narrowing reaches nobody new: any role manager may do it.
    narrowed = await client.put(
        f"/api/v1/roles/{team}/permissions", headers=manager.headers, json={"permissions": []}
    )
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["permissions"] == []
    # A role nobody else holds is the manager's to shape (within what they hold).
    fresh = await client.post("/api/v1/roles", headers=manager.headers, json={"name": "spare"})
    widened = await client.put(
        f"/api/v1/roles/{fresh.json()['id']}/permissions",
        headers=manager.headers,
        json={"permissions": ["audit:read"]},
    )
    assert widened.status_code == 200, widened.text
