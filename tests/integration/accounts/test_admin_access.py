"""Every admin route refuses a plain user, found by walking the app's routes.

A route is "admin" unless it is on the short self-service list below, so a new admin route is
covered the moment it is mounted, and a new self-service route has to be listed here on purpose.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.main import create_app
from libkoiki.config import Settings
from tests.integration.accounts.conftest import Actor

# Routes any signed-in user may call; everything else under /api/v1 needs a permission.
SELF_SERVICE_PREFIXES = ("/api/v1/auth/", "/api/v1/todos")
SELF_SERVICE_ROUTES = {("PATCH", "/api/v1/users/me")}
MISSING_ID = "999999"


def _api_routes(settings: Settings) -> list[tuple[str, str]]:
    # The OpenAPI document is FastAPI's public, flattened view of every mounted route (the
    # router tree itself is private); an API route hidden from the schema would be a bug anyway.
    paths = create_app(settings).openapi()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/v1/")
        for method in operations
        if method.upper() not in {"HEAD", "OPTIONS"}
    ]


def _admin_routes(settings: Settings) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path in _api_routes(settings)
        if not path.startswith(SELF_SERVICE_PREFIXES) and (method, path) not in SELF_SERVICE_ROUTES
    ]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", MISSING_ID, path)


async def _call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    kwargs: dict[str, Any] = {"headers": headers}
    if method in {"POST", "PUT", "PATCH"}:
        kwargs["json"] = {}
    return await client.request(method, _concrete(path), **kwargs)


async def test_the_admin_surface_is_what_we_expect(settings: Settings) -> None:
    # Guards the enumeration itself: if routes stopped being found, the test below would pass
    # vacuously.
    admin_routes = set(_admin_routes(settings))
    assert {
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/users/{user_id}"),
        ("PATCH", "/api/v1/users/{user_id}"),
        ("DELETE", "/api/v1/users/{user_id}"),
        ("GET", "/api/v1/roles"),
        ("POST", "/api/v1/roles"),
        ("PATCH", "/api/v1/roles/{role_id}"),
        ("PUT", "/api/v1/roles/{role_id}/permissions"),
        ("DELETE", "/api/v1/roles/{role_id}"),
        ("GET", "/api/v1/permissions"),
        ("GET", "/api/v1/audit-events"),
    } <= admin_routes


async def test_plain_user_gets_403_on_every_admin_route(
    client: httpx.AsyncClient, settings: Settings, plain_user: Actor, admin: Actor
) -> None:
    refused = []
    for method, path in _admin_routes(settings):
        response = await _call(client, method, path, plain_user.headers)
        if response.status_code != 403 or response.json()["code"] != "permission_denied":
            refused.append((method, path, response.status_code))
    assert refused == [], f"admin routes not refusing a plain user: {refused}"

    # The same routes do let an administrator through (to validation or 404, never 401/403), so
    # the 403s above come from the permission check and not from something else.
    for method, path in _admin_routes(settings):
        response = await _call(client, method, path, admin.headers)
        assert response.status_code not in (401, 403, 500), (method, path, response.text)


async def test_anonymous_callers_get_401_on_every_admin_route(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    for method, path in _admin_routes(settings):
        response = await _call(client, method, path, {})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("target", ["existing", "missing"])
async def test_refusal_does_not_reveal_whether_a_user_exists(
    client: httpx.AsyncClient, plain_user: Actor, admin: Actor, target: str
) -> None:
    user_id = admin.id if target == "existing" else int(MISSING_ID)
    response = await client.get(f"/api/v1/users/{user_id}", headers=plain_user.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "root@example.com" not in response.text
