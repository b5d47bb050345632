"""One real OpenID Provider (and one forging provider) per test session, on loopback."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.audit.models import AuditEvent
from tests.conftest import ClientFactory
from tests.support.oidc import POST_LOGOUT_URI, REDIRECT_URI, ForgingOP, LoopbackOP, query_of

SSO = "/api/v1/auth/sso"


@asynccontextmanager
async def app_with(
    make_client: ClientFactory, op: LoopbackOP, forging_op: ForgingOP
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with `op` (auto-creation on, groups mapped to roles) and the forging provider."""
    providers = [
        op.provider_entry(auto_create=True, role_mapping={"koiki-admins": "admin"}),
        forging_op.provider_entry(),
    ]
    async with make_client(
        oidc_providers=providers,
        sso_redirect_url=REDIRECT_URI,
        sso_post_logout_redirect_url=POST_LOGOUT_URI,
    ) as client:
        yield client


@pytest.fixture
async def sso_client(
    make_client: ClientFactory, test_op: LoopbackOP, forging_op: ForgingOP
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_with(make_client, test_op, forging_op) as client:
        yield client


@dataclass
class Started:
    url: str
    params: dict[str, str]
    verifier: str


async def start(
    client: httpx.AsyncClient, provider: str = "testop", redirect_to: str = "/todos"
) -> Started:
    """What the BFF does: a secret for the browser's cookie, its hash to the API."""
    verifier = secrets.token_urlsafe(32)
    response = await client.get(
        f"{SSO}/{provider}/authorize",
        params={
            "redirect_to": redirect_to,
            "binding": hashlib.sha256(verifier.encode()).hexdigest(),
        },
    )
    assert response.status_code == 302, response.text
    url = response.headers["location"]
    return Started(url, query_of(url), verifier)


async def finish(
    client: httpx.AsyncClient, returned: dict[str, str], verifier: str | None, **extra: Any
) -> httpx.Response:
    body = {key: returned[key] for key in ("state", "code", "error", "iss") if key in returned}
    if verifier is not None:
        body["binding_verifier"] = verifier
    body.update(extra)
    return await client.post(f"{SSO}/callback", json=body)


async def audit_events(db: AsyncSession, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(
        await db.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )
