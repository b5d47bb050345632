"""Input at the edges of what can be stored is a 422 naming the field, never a 500.

PostgreSQL refuses NUL characters and integers beyond 32 bits, SQLite overflows at 64 bits, and
dates near year 9999 cannot move to UTC: the field types reject all of it before any query.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.auth import AuthedUser, login, make_superuser

TOO_BIG = 99_999_999_999_999_999_999
INT32_OVERFLOW = 3_000_000_000


@pytest.fixture
async def admin(client: httpx.AsyncClient, db_session: AsyncSession) -> AuthedUser:
    return await make_superuser(client, db_session)


def assert_field_error(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert field in {str(error["loc"][-1]) for error in body["detail"]}, body


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", f"/api/v1/todos/{TOO_BIG}", "todo_id"),
        ("GET", f"/api/v1/todos/{INT32_OVERFLOW}", "todo_id"),
        ("DELETE", f"/api/v1/todos/{INT32_OVERFLOW}", "todo_id"),
        ("GET", f"/api/v1/todos?skip={TOO_BIG}", "skip"),
        ("GET", f"/api/v1/todos?owner_id={INT32_OVERFLOW}", "owner_id"),
        ("GET", "/api/v1/todos?q=a%00b", "q"),
        ("GET", "/api/v1/todos?due_before=9999-12-31T23:59:59-05:00", "due_before"),
        ("GET", f"/api/v1/users/{INT32_OVERFLOW}", "user_id"),
        ("PATCH", f"/api/v1/roles/{TOO_BIG}", "role_id"),
        ("GET", "/api/v1/users?q=%00", "q"),
        ("GET", f"/api/v1/audit-events?actor_id={INT32_OVERFLOW}", "actor_id"),
        ("GET", "/api/v1/audit-events?action=auth.%00", "action"),
        ("DELETE", "/api/v1/auth/sessions/a%00b", "session_id"),
    ],
)
async def test_unstorable_parameters_are_refused(
    client: httpx.AsyncClient, admin: AuthedUser, method: str, path: str, field: str
) -> None:
    body = {"description": "x"} if method == "PATCH" else None
    response = await client.request(method, path, json=body, headers=admin.headers)
    assert_field_error(response, field)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "a\u0000b"}, "title"),
        ({"title": "ok", "description": "line\u0000break"}, "description"),
        ({"title": "ok", "due_date": "9999-12-31T23:59:59-05:00"}, "due_date"),
    ],
)
async def test_unstorable_todos_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, admin: AuthedUser, payload: dict[str, Any], field: str
) -> None:
    assert_field_error(
        await client.post("/api/v1/todos", json=payload, headers=admin.headers), field
    )
    listing = await client.get("/api/v1/todos", headers=admin.headers)
    assert listing.json()["total"] == 0


async def test_unstorable_profile_names_are_refused(
    client: httpx.AsyncClient, admin: AuthedUser
) -> None:
    registered = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "nul@example.com",
            "password": "plum-orbit-kettle-42",
            "full_name": "a\u0000",
        },
    )
    assert_field_error(registered, "full_name")
    profile = await client.patch(
        "/api/v1/users/me", json={"full_name": "b\u0000"}, headers=admin.headers
    )
    assert_field_error(profile, "full_name")


@pytest.mark.parametrize("username", ["x" * 400 + "@example.com", "a\u0000b@example.com"])
async def test_impossible_login_names_get_the_ordinary_answer(
    client: httpx.AsyncClient, username: str
) -> None:
    response = await login(client, username, "whatever-password-1")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
