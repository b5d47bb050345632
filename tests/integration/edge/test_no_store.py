"""Answers to an authenticated request are never stored by a browser or a proxy (issue 22: API
responses outside /auth carried no Cache-Control), whatever the route or the outcome."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from libkoiki.http.security_headers import SecurityHeadersMiddleware
from tests.fixtures.auth import register_and_login


async def test_every_answer_to_an_authenticated_request_is_no_store(
    client: httpx.AsyncClient,
) -> None:
    user = await register_and_login(client)
    created = await client.post("/api/v1/todos", headers=user.headers, json={"title": "private"})
    assert created.status_code == 201, created.text
    todo = created.json()["id"]
    answers = {
        "list": await client.get("/api/v1/todos", headers=user.headers),
        "one": await client.get(f"/api/v1/todos/{todo}", headers=user.headers),
        "absent": await client.get("/api/v1/todos/999999", headers=user.headers),
        "forbidden": await client.get("/api/v1/users", headers=user.headers),
        "bad token": await client.get(
            "/api/v1/todos", headers={"Authorization": "Bearer not-a-token"}
        ),
        "me": await client.get("/api/v1/auth/me", headers=user.headers),
    }
    expected = {"list": 200, "one": 200, "absent": 404, "forbidden": 403, "bad token": 401}
    for name, response in answers.items():
        assert response.status_code == expected.get(name, 200), (name, response.text)
        assert response.headers["Cache-Control"] == "no-store", name
        assert response.headers["Pragma"] == "no-cache", name
    assert answers["one"].json()["title"] == "private"


async def test_anonymous_answers_keep_their_caching(client: httpx.AsyncClient) -> None:
    for path in ("/health", "/api/v1/todos"):
        response = await client.get(path)
        assert "Cache-Control" not in response.headers, path
        assert "Pragma" not in response.headers, path


async def test_a_route_that_chose_private_caching_keeps_it() -> None:
    async def revalidated(request: Request) -> JSONResponse:
        return JSONResponse(
            {"tag": "v1"}, headers={"Cache-Control": "private, no-cache", "ETag": '"v1"'}
        )

    async def public(request: Request) -> JSONResponse:
        return JSONResponse({}, headers={"Cache-Control": "public, max-age=600"})

    app = SecurityHeadersMiddleware(
        Starlette(routes=[Route("/private", revalidated), Route("/public", public)])
    )
    auth = {"Authorization": "Bearer anything"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        kept = await http.get("/private", headers=auth)
        assert kept.headers["Cache-Control"] == "private, no-cache"
        assert kept.headers["ETag"] == '"v1"'
        # A shared cache must not keep one user's answer, even if the route said so.
        overridden = await http.get("/public", headers=auth)
        assert overridden.headers["Cache-Control"] == "no-store"
        anonymous = await http.get("/public")
        assert anonymous.headers["Cache-Control"] == "public, max-age=600"
