"""Another user's objects are invisible: every self-service route addressing an object by id
answers 404 for an object that exists but belongs to someone else, and leaves it untouched.

Routes are read from the OpenAPI document; each id-taking self-service route needs an entry in
OWNED_OBJECTS saying how the owner creates one, so a new route cannot slip past this test.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from app.main import create_app
from libkoiki.config import Settings
from tests.integration.accounts.conftest import Actor
from tests.integration.accounts.test_admin_access import SELF_SERVICE_PREFIXES

Creator = Callable[[httpx.AsyncClient, Actor], Awaitable[str]]


async def _own_session(client: httpx.AsyncClient, owner: Actor) -> str:
    sessions = (await client.get("/api/v1/auth/sessions", headers=owner.headers)).json()
    return str(sessions[0]["id"])


async def _own_todo(client: httpx.AsyncClient, owner: Actor) -> str:
    response = await client.post(
        "/api/v1/todos", headers=owner.headers, json={"title": "Private plans"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# path -> (how the owner makes one, a valid body per method, how the owner reads it back)
OWNED_OBJECTS: dict[str, tuple[Creator, dict[str, Any], str]] = {
    "/api/v1/auth/sessions/{session_id}": (_own_session, {}, "/api/v1/auth/sessions"),
    "/api/v1/todos/{todo_id}": (
        _own_todo,
        {"PUT": {"title": "Stolen"}, "PATCH": {"title": "Stolen"}},
        "/api/v1/todos/{id}",
    ),
}


def _id_routes(settings: Settings) -> dict[str, list[str]]:
    paths = create_app(settings).openapi()["paths"]
    return {
        path: sorted(method.upper() for method in operations)
        for path, operations in paths.items()
        if path.startswith(SELF_SERVICE_PREFIXES) and "{" in path
    }


async def test_other_users_objects_are_404_on_every_self_service_route(
    client: httpx.AsyncClient, settings: Settings, admin: Actor, plain_user: Actor
) -> None:
    routes = _id_routes(settings)
    assert routes, "no self-service route takes an id: the enumeration is broken"
    unknown = sorted(set(routes) - set(OWNED_OBJECTS))
    assert unknown == [], f"say in OWNED_OBJECTS how to own an object for: {unknown}"

    for path, methods in routes.items():
        create, bodies, read_back = OWNED_OBJECTS[path]
        for method in methods:
            object_id = await create(client, admin)
            concrete = re.sub(r"\{[^}]+\}", object_id, path)
            body = bodies.get(method)
            response = await client.request(method, concrete, headers=plain_user.headers, json=body)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["code"] == "not_found"
            # Still there, unchanged, for its owner.
            owner_view = await client.get(
                read_back.replace("{id}", object_id), headers=admin.headers
            )
            assert owner_view.status_code == 200
            assert object_id in owner_view.text
            assert "Stolen" not in owner_view.text
