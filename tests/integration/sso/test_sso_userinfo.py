"""Providers that send the email and groups from UserInfo only, not in the ID token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import User
from tests.conftest import ClientFactory
from tests.fixtures.auth import unique_email
from tests.integration.sso.conftest import app_with, audit_events, finish, start
from tests.support.oidc import ForgingOP, LoopbackOP, sign_in_at_op


@pytest.fixture
async def client(
    make_client: ClientFactory, userinfo_op: LoopbackOP, forging_op: ForgingOP
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_with(make_client, userinfo_op, forging_op) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, op: LoopbackOP, **account: object) -> httpx.Response:
    created = await op.add_account(**account)  # type: ignore[arg-type]
    started = await start(client)
    async with httpx.AsyncClient() as browser:
        returned = await sign_in_at_op(browser, started.url, created)
    return await finish(client, returned, started.verifier)


async def test_email_and_groups_from_userinfo_sign_in_with_the_mapped_role(
    client: httpx.AsyncClient, userinfo_op: LoopbackOP
) -> None:
    email = unique_email("userinfo")
    response = await sign_in(client, userinfo_op, email=email, groups=["koiki-admins"])
    assert response.status_code == 200, response.text
    token = response.json()["tokens"]["access_token"]
    me = (await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert me["email"] == email
    assert me["full_name"] == "Test Person"
    assert me["roles"] == ["admin", "user"]


async def test_an_address_userinfo_does_not_vouch_for_makes_no_account(
    client: httpx.AsyncClient, userinfo_op: LoopbackOP, db_session: AsyncSession
) -> None:
    email = unique_email("userinfo-unverified")
    response = await sign_in(client, userinfo_op, email=email, email_verified=False)
    assert response.status_code == 403
    assert response.json()["code"] == "sso_email_not_verified"
    db_session.expire_all()
    assert await db_session.scalar(select(User).where(User.email == email)) is None


async def test_userinfo_about_another_subject_is_refused_audited_and_makes_no_account(
    client: httpx.AsyncClient, forging_op: ForgingOP, db_session: AsyncSession
) -> None:
    started = await start(client, provider="forge")
    claims = forging_op.claims(started.params["nonce"], email=None, email_verified=None)
    email = unique_email("userinfo-other")
    forging_op.next_id_token = forging_op.sign(claims)
    forging_op.next_userinfo = {"sub": "someone-else", "email": email, "email_verified": True}
    response = await finish(
        client, {"state": started.params["state"], "code": "c"}, started.verifier
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "sso_invalid_userinfo"
    assert "sub" in body["detail"]
    assert body["request_id"]
    db_session.expire_all()
    assert await db_session.scalar(select(User).where(User.email == email)) is None
    event = (await audit_events(db_session, "sso.login"))[-1]
    assert event.outcome == "failure"
    assert event.details == {
        "provider": "forge",
        "reason": "userinfo: sub differs from the ID token's",
    }

    # The same answer about the right subject signs in.
    started = await start(client, provider="forge")
    claims = forging_op.claims(started.params["nonce"], email=None, email_verified=None)
    forging_op.next_id_token = forging_op.sign(claims)
    forging_op.next_userinfo = {"sub": claims["sub"], "email": email, "email_verified": True}
    response = await finish(
        client, {"state": started.params["state"], "code": "c"}, started.verifier
    )
    assert response.status_code == 200, response.text
