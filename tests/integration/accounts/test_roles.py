"""Roles and permissions administration: /api/v1/roles and /api/v1/permissions."""

from __future__ import annotations

import httpx

from tests.integration.accounts.conftest import Actor, MakeActor

ALL_PERMISSIONS = ["audit:read", "roles:manage", "todos:read_all", "users:read", "users:write"]


async def _roles(client: httpx.AsyncClient, admin: Actor) -> dict[str, dict]:
    response = await client.get("/api/v1/roles", headers=admin.headers)
    assert response.status_code == 200
    return {role["name"]: role for role in response.json()}


async def test_builtin_roles_and_permission_catalogue(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    roles = await _roles(client, admin)
    assert roles["admin"]["permissions"] == ALL_PERMISSIONS
    assert roles["admin"]["is_builtin"] is True
    assert roles["user"]["permissions"] == []
    assert set(roles["admin"]) == {"id", "name", "description", "permissions", "is_builtin"}
    permissions = (await client.get("/api/v1/permissions", headers=admin.headers)).json()
    assert [permission["code"] for permission in permissions] == ALL_PERMISSIONS
    assert all(permission["description"] for permission in permissions)


async def test_role_lifecycle_takes_effect_for_holders(
    client: httpx.AsyncClient, admin: Actor, make_actor: MakeActor
) -> None:
    created = await client.post(
        "/api/v1/roles",
        headers=admin.headers,
        json={"name": "Auditor", "description": "Reads the trail", "permissions": ["audit:read"]},
    )
    assert created.status_code == 201, created.text
    role = created.json()
    assert role["name"] == "auditor"
    assert role["permissions"] == ["audit:read"]
    assert role["is_builtin"] is False

    auditor = await make_actor("auditor@example.com", roles=("auditor",))
    assert (await client.get("/api/v1/audit-events", headers=auditor.headers)).status_code == 200
    assert (await client.get("/api/v1/users", headers=auditor.headers)).status_code == 403

    widened = await client.put(
        f"/api/v1/roles/{role['id']}/permissions",
        headers=admin.headers,
        json={"permissions": ["audit:read", "users:read"]},
    )
    assert widened.status_code == 200
    assert widened.json()["permissions"] == ["audit:read", "users:read"]
    assert (await client.get("/api/v1/users", headers=auditor.headers)).status_code == 200

    renamed = await client.patch(
        f"/api/v1/roles/{role['id']}",
        headers=admin.headers,
        json={"name": "trail-reader", "description": None},
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "trail-reader"
    assert renamed.json()["description"] is None

    deleted = await client.delete(f"/api/v1/roles/{role['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    assert "trail-reader" not in await _roles(client, admin)
    # The holder loses the role's permissions on the next request.
    assert (await client.get("/api/v1/audit-events", headers=auditor.headers)).status_code == 403
    me = (await client.get("/api/v1/auth/me", headers=auditor.headers)).json()
    assert me["roles"] == []


async def test_builtin_roles_cannot_be_deleted_or_renamed(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    roles = await _roles(client, admin)
    for name in ("admin", "user"):
        role_id = roles[name]["id"]
        deleted = await client.delete(f"/api/v1/roles/{role_id}", headers=admin.headers)
        assert deleted.status_code == 400
        assert deleted.json()["code"] == "builtin_role"
        renamed = await client.patch(
            f"/api/v1/roles/{role_id}", headers=admin.headers, json={"name": f"{name}-x"}
        )
        assert renamed.status_code == 400
        assert renamed.json()["code"] == "builtin_role"
    # Their description stays editable.
    described = await client.patch(
        f"/api/v1/roles/{roles['user']['id']}",
        headers=admin.headers,
        json={"description": "Everyone"},
    )
    assert described.status_code == 200
    assert described.json()["description"] == "Everyone"
    assert set(await _roles(client, admin)) == {"admin", "user"}


async def test_role_validation_and_conflicts(client: httpx.AsyncClient, admin: Actor) -> None:
    duplicate = await client.post("/api/v1/roles", headers=admin.headers, json={"name": "ADMIN"})
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "role_name_taken"

    unknown = await client.post(
        "/api/v1/roles", headers=admin.headers, json={"name": "ops", "permissions": ["nuke:all"]}
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "permissions"]
    assert "nuke:all" in unknown.json()["detail"][0]["msg"]

    bad_name = await client.post("/api/v1/roles", headers=admin.headers, json={"name": "no spaces"})
    assert bad_name.status_code == 422
    assert bad_name.json()["detail"][0]["loc"] == ["body", "name"]

    missing = await client.put(
        "/api/v1/roles/999999/permissions", headers=admin.headers, json={"permissions": []}
    )
    assert missing.status_code == 404
    first = await client.post("/api/v1/roles", headers=admin.headers, json={"name": "first"})
    await client.post("/api/v1/roles", headers=admin.headers, json={"name": "second"})
    clash = await client.patch(
        f"/api/v1/roles/{first.json()['id']}", headers=admin.headers, json={"name": "second"}
    )
    assert clash.status_code == 409


async def test_role_managers_cannot_grant_what_they_lack(
    client: httpx.AsyncClient, admin: Actor, make_actor: MakeActor
) -> None:
    await client.post(
        "/api/v1/roles",
        headers=admin.headers,
        json={"name": "role-admin", "permissions": ["roles:manage"]},
    )
    manager = await make_actor("roles@example.com", roles=("role-admin",))
    roles = await _roles(client, manager)
    escalate = await client.put(
        f"/api/v1/roles/{roles['role-admin']['id']}/permissions",
        headers=manager.headers,
        json={"permissions": ["roles:manage", "users:write"]},
    )
    assert escalate.status_code == 403
    sneaky = await client.post(
        "/api/v1/roles",
        headers=manager.headers,
        json={"name": "sneaky", "permissions": ["audit:read"]},
    )
    assert sneaky.status_code == 403
    harmless = await client.post(
        "/api/v1/roles", headers=manager.headers, json={"name": "reviewers"}
    )
    assert harmless.status_code == 201
