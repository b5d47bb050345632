"""User administration through /api/v1/users, as an administrator would use it."""

from __future__ import annotations

import asyncio
import re

import httpx

from tests.integration.accounts.conftest import PASSWORD, Actor, MakeActor, login

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
USER_FIELDS = {
    "id",
    "email",
    "full_name",
    "is_active",
    "is_superuser",
    "email_verified_at",
    "created_at",
    "updated_at",
    "roles",
}


def _assert_no_secret(response: httpx.Response) -> None:
    assert "hashed_password" not in response.text
    assert "$argon2" not in response.text
    assert PASSWORD not in response.text


async def test_admin_creates_a_user_who_can_then_sign_in(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    response = await client.post(
        "/api/v1/users",
        headers=admin.headers,
        json={"email": "  New.Person@Example.COM ", "password": PASSWORD, "full_name": "New"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    _assert_no_secret(response)
    assert set(body) == USER_FIELDS
    assert body["email"] == "new.person@example.com"
    assert body["roles"] == ["user"]
    assert body["is_active"] is True
    assert body["is_superuser"] is False
    assert ISO_UTC.match(body["created_at"])
    assert ISO_UTC.match(body["updated_at"])
    # The account is real: its owner signs in with the address in any case.
    assert await login(client, "NEW.PERSON@example.com")

    fetched = await client.get(f"/api/v1/users/{body['id']}", headers=admin.headers)
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_duplicate_email_is_409_whatever_the_case(
    client: httpx.AsyncClient, admin: Actor, plain_user: Actor
) -> None:
    response = await client.post(
        "/api/v1/users",
        headers=admin.headers,
        json={"email": "PLAIN@example.com", "password": PASSWORD},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_create_validation_errors_name_the_field(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    cases = [
        ({"email": "not-an-email", "password": PASSWORD}, ["body", "email"], "email"),
        ({"email": "a@example.com", "password": "short"}, ["body", "password"], "8 characters"),
        ({"email": "a@example.com", "password": "password123"}, ["body", "password"], "common"),
        ({"email": "a@example.com"}, ["body", "password"], "required"),
        (
            {"email": "a@example.com", "password": PASSWORD, "roles": ["wizard"]},
            ["body", "roles"],
            "unknown role(s): wizard",
        ),
        (
            {"email": "a@example.com", "password": PASSWORD, "hashed_password": "x"},
            ["body", "hashed_password"],
            "Extra inputs",
        ),
        (
            {"email": "a@example.com", "password": PASSWORD, "is_active": "maybe"},
            ["body", "is_active"],
            "boolean",
        ),
    ]
    for payload, loc, message in cases:
        response = await client.post("/api/v1/users", headers=admin.headers, json=payload)
        assert response.status_code == 422, (payload, response.text)
        body = response.json()
        assert body["code"] == "validation_error"
        assert body["request_id"]
        matching = [error for error in body["detail"] if error["loc"] == loc]
        assert matching, (payload, body["detail"])
        assert message.lower() in matching[0]["msg"].lower(), (payload, matching)
        # The submitted values (a password among them) are not echoed back.
        assert PASSWORD not in response.text
    listing = await client.get("/api/v1/users", headers=admin.headers, params={"q": "a@example"})
    assert listing.json()["total"] == 0


async def test_list_is_paginated_searchable_and_bounded(
    client: httpx.AsyncClient, admin: Actor, make_actor: MakeActor
) -> None:
    await make_actor("alice@example.com", full_name="Alice Liddell")
    await make_actor("bob@example.org", full_name="Bob Dylan")
    await make_actor("carol@example.org", full_name="Carol ALICE-son")

    page = (await client.get("/api/v1/users", headers=admin.headers, params={"limit": 2})).json()
    assert page["total"] == 4
    assert page["skip"] == 0
    assert page["limit"] == 2
    assert [user["email"] for user in page["items"]] == ["root@example.com", "alice@example.com"]
    rest = await client.get("/api/v1/users", headers=admin.headers, params={"skip": 2, "limit": 2})
    assert [user["email"] for user in rest.json()["items"]] == [
        "bob@example.org",
        "carol@example.org",
    ]

    found = await client.get("/api/v1/users", headers=admin.headers, params={"q": "alice"})
    assert sorted(user["email"] for user in found.json()["items"]) == [
        "alice@example.com",
        "carol@example.org",
    ]
    assert found.json()["total"] == 2
    by_domain = await client.get("/api/v1/users", headers=admin.headers, params={"q": "ORG"})
    assert by_domain.json()["total"] == 2
    # LIKE wildcards in the search are taken literally.
    assert (await client.get("/api/v1/users", headers=admin.headers, params={"q": "%"})).json()[
        "total"
    ] == 0

    for bad in ({"limit": 0}, {"limit": 101}, {"skip": -1}):
        response = await client.get("/api/v1/users", headers=admin.headers, params=bad)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", next(iter(bad))]
    for item in page["items"]:
        assert "hashed_password" not in item


async def test_update_changes_name_roles_and_flags(
    client: httpx.AsyncClient, admin: Actor, plain_user: Actor
) -> None:
    response = await client.patch(
        f"/api/v1/users/{plain_user.id}",
        headers=admin.headers,
        json={"full_name": "Promoted", "roles": ["admin", "user"]},
    )
    assert response.status_code == 200, response.text
    _assert_no_secret(response)
    assert response.json()["full_name"] == "Promoted"
    assert response.json()["roles"] == ["admin", "user"]
    # The new role takes effect on the user's very next request, same token.
    assert (await client.get("/api/v1/users", headers=plain_user.headers)).status_code == 200

    demoted = await client.patch(
        f"/api/v1/users/{plain_user.id}", headers=admin.headers, json={"roles": []}
    )
    assert demoted.json()["roles"] == []
    assert (await client.get("/api/v1/users", headers=plain_user.headers)).status_code == 403

    bad = await client.patch(
        f"/api/v1/users/{plain_user.id}",
        headers=admin.headers,
        json={"password": "Something-New-123", "email": "x@example.com"},
    )
    assert bad.status_code == 422
    assert {tuple(error["loc"]) for error in bad.json()["detail"]} == {
        ("body", "password"),
        ("body", "email"),
    }
    missing = await client.patch("/api/v1/users/999999", headers=admin.headers, json={})
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


async def test_deactivating_a_user_ends_their_sessions_at_once(
    client: httpx.AsyncClient, admin: Actor, plain_user: Actor
) -> None:
    assert (await client.get("/api/v1/auth/me", headers=plain_user.headers)).status_code == 200
    response = await client.patch(
        f"/api/v1/users/{plain_user.id}", headers=admin.headers, json={"is_active": False}
    )
    assert response.status_code == 200
    assert response.json()["is_active"] is False

    old_token = await client.get("/api/v1/auth/me", headers=plain_user.headers)
    assert old_token.status_code == 401
    relogin = await client.post(
        "/api/v1/auth/login", data={"username": plain_user.email, "password": PASSWORD}
    )
    assert relogin.status_code == 401

    reactivated = await client.patch(
        f"/api/v1/users/{plain_user.id}", headers=admin.headers, json={"is_active": True}
    )
    assert reactivated.json()["is_active"] is True
    # Reactivation does not resurrect the old token; signing in again works.
    assert (await client.get("/api/v1/auth/me", headers=plain_user.headers)).status_code == 401
    assert await login(client, plain_user.email)


async def test_admin_cannot_lock_themselves_out(client: httpx.AsyncClient, admin: Actor) -> None:
    delete = await client.delete(f"/api/v1/users/{admin.id}", headers=admin.headers)
    assert delete.status_code == 400
    assert delete.json()["code"] == "cannot_delete_self"
    deactivate = await client.patch(
        f"/api/v1/users/{admin.id}", headers=admin.headers, json={"is_active": False}
    )
    assert deactivate.status_code == 400
    assert deactivate.json()["code"] == "cannot_deactivate_self"
    demote = await client.patch(
        f"/api/v1/users/{admin.id}", headers=admin.headers, json={"is_superuser": False}
    )
    assert demote.status_code == 400
    assert demote.json()["code"] == "cannot_demote_self"
    assert (await client.get("/api/v1/auth/me", headers=admin.headers)).status_code == 200


async def test_deleting_a_user_removes_them_and_their_access(
    client: httpx.AsyncClient, admin: Actor, plain_user: Actor
) -> None:
    response = await client.delete(f"/api/v1/users/{plain_user.id}", headers=admin.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert (
        await client.get(f"/api/v1/users/{plain_user.id}", headers=admin.headers)
    ).status_code == 404
    assert (await client.get("/api/v1/auth/me", headers=plain_user.headers)).status_code == 401
    again = await client.delete(f"/api/v1/users/{plain_user.id}", headers=admin.headers)
    assert again.status_code == 404
    # The address is free again.
    recreate = await client.post(
        "/api/v1/users",
        headers=admin.headers,
        json={"email": plain_user.email, "password": PASSWORD},
    )
    assert recreate.status_code == 201


async def test_a_non_superuser_admin_cannot_escalate(
    client: httpx.AsyncClient, admin: Actor, make_actor: MakeActor
) -> None:
    # A helpdesk role: may manage users, holds nothing else.
    role = await client.post(
        "/api/v1/roles",
        headers=admin.headers,
        json={"name": "helpdesk", "permissions": ["users:read", "users:write"]},
    )
    assert role.status_code == 201, role.text
    helpdesk = await make_actor("help@example.com", roles=("helpdesk",))
    target = await make_actor("target@example.com")

    attempts = [
        (
            "POST",
            "/api/v1/users",
            {"email": "su@example.com", "password": PASSWORD, "is_superuser": True},
        ),
        (
            "POST",
            "/api/v1/users",
            {"email": "ad@example.com", "password": PASSWORD, "roles": ["admin"]},
        ),
        ("PATCH", f"/api/v1/users/{target.id}", {"roles": ["admin"]}),
        ("PATCH", f"/api/v1/users/{target.id}", {"is_superuser": True}),
        ("PATCH", f"/api/v1/users/{helpdesk.id}", {"roles": ["helpdesk", "admin"]}),
        ("PATCH", f"/api/v1/users/{admin.id}", {"is_active": False}),
        ("DELETE", f"/api/v1/users/{admin.id}", None),
    ]
    for method, path, payload in attempts:
        response = await client.request(method, path, headers=helpdesk.headers, json=payload)
        assert response.status_code == 403, (method, path, payload, response.text)
        assert response.json()["code"] == "permission_denied"

    # What the role does allow still works.
    allowed = await client.patch(
        f"/api/v1/users/{target.id}", headers=helpdesk.headers, json={"full_name": "Renamed"}
    )
    assert allowed.status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=admin.headers)).status_code == 200


async def test_concurrent_creates_of_one_address_yield_one_account(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    emails = ["race@example.com", "RACE@example.com", "Race@Example.com", "race@EXAMPLE.COM"]
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/users", headers=admin.headers, json={"email": email, "password": PASSWORD}
            )
            for email in emails
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409], [r.text for r in responses]
    assert all(
        response.json()["code"] == "email_taken"
        for response in responses
        if response.status_code == 409
    )
    listing = await client.get("/api/v1/users", headers=admin.headers, params={"q": "race@"})
    assert listing.json()["total"] == 1
