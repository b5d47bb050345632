"""Actors for the admin API tests: accounts made through the service, logged in over HTTP.

Accounts are created directly (the admin API is what is under test, so it cannot also be the way
to set up its callers); the access tokens come from the real login endpoint.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.service import create_user
from libkoiki.auth.passwords import hash_password
from libkoiki.config import Settings

PASSWORD = "Correct-Horse-7391"


@dataclass(frozen=True)
class Actor:
    id: int
    email: str
    password: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post(
        "/api/v1/auth/login", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


MakeActor = Callable[..., Awaitable[Actor]]


@pytest.fixture
def make_actor(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> MakeActor:
    async def factory(
        email: str,
        *,
        roles: Sequence[str] = ("user",),
        is_superuser: bool = False,
        full_name: str | None = None,
    ) -> Actor:
        user = await create_user(
            db_session,
            email=email,
            password_hash=await hash_password(PASSWORD, settings),
            full_name=full_name,
            is_superuser=is_superuser,
            roles=roles,
        )
        await db_session.commit()
        return Actor(user.id, user.email, PASSWORD, await login(client, email))

    return factory


@pytest.fixture
async def admin(make_actor: MakeActor) -> Actor:
    return await make_actor("root@example.com", roles=("admin", "user"), is_superuser=True)


@pytest.fixture
async def plain_user(make_actor: MakeActor) -> Actor:
    return await make_actor("plain@example.com", full_name="Plain User")
