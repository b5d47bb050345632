"""require_permission, CurrentUser and OptionalUser on routes of an application's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import Role, User
from libkoiki.app_factory import create_app
from libkoiki.auth.dependencies import OptionalUser, require_permission
from libkoiki.auth.router import router as auth_router
from tests.conftest import base_settings
from tests.fixtures.auth import AuthedUser, make_superuser, register_and_login

probe = APIRouter(prefix="/probe")


@probe.get("/audit")
async def read_audit(user: Annotated[User, require_permission("audit:read")]) -> dict[str, int]:
    return {"user_id": user.id}


@probe.get("/greeting")
async def greeting(user: OptionalUser) -> dict[str, str]:
    return {"hello": user.email if user else "stranger"}


@pytest.fixture
async def client(database_url: str, migrated_engine: object) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(base_settings(database_url), routers=[auth_router, probe])
    async with (
        LifespanManager(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as http_client,
    ):
        yield http_client


async def _grant_role(db_session: AsyncSession, user: AuthedUser, role_name: str) -> None:
    db_user = await db_session.get(User, user.id)
    role = await db_session.scalar(select(Role).where(Role.name == role_name))
    assert db_user is not None
    assert role is not None
    db_user.roles.append(role)
    await db_session.commit()


async def test_a_permission_is_needed_and_granted_through_a_role(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await register_and_login(client)
    denied = await client.get("/probe/audit", headers=user.headers)
    assert denied.status_code == 403
    assert denied.json()["code"] == "permission_denied"
    assert "audit:read" in denied.json()["detail"]

    await _grant_role(db_session, user, "admin")
    allowed = await client.get("/probe/audit", headers=user.headers)
    assert allowed.status_code == 200
    assert allowed.json() == {"user_id": user.id}
    me = (await client.get("/api/v1/auth/me", headers=user.headers)).json()
    assert "audit:read" in me["permissions"]
    assert me["roles"] == ["admin", "user"]


async def test_superusers_pass_every_check(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    root = await make_superuser(client, db_session)
    response = await client.get("/probe/audit", headers=root.headers)
    assert response.status_code == 200


async def test_no_token_is_401_not_403(client: httpx.AsyncClient) -> None:
    response = await client.get("/probe/audit")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_optional_user(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    anonymous = await client.get("/probe/greeting")
    assert anonymous.json() == {"hello": "stranger"}
    known = await client.get("/probe/greeting", headers=user.headers)
    assert known.json() == {"hello": user.email}
    # A token that is present must be valid: a bad one is not silently anonymous.
    bad = await client.get("/probe/greeting", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
