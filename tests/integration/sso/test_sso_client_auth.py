"""The client authenticates at the real OP's token endpoint with a signed JWT (private_key_jwt)."""

from __future__ import annotations

import httpx
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import User
from tests.conftest import ClientFactory
from tests.fixtures.auth import unique_email
from tests.integration.sso.conftest import audit_events, finish, start
from tests.support.oidc import POST_LOGOUT_URI, REDIRECT_URI, LoopbackOP, sign_in_at_op


async def key_sign_in(client: httpx.AsyncClient, op: LoopbackOP, email: str) -> httpx.Response:
    account = await op.add_account(email=email)
    started = await start(client, provider="keyop")
    async with httpx.AsyncClient() as browser:
        returned = await sign_in_at_op(browser, started.url, account)
    return await finish(client, returned, started.verifier)


async def test_a_provider_entry_with_a_private_key_signs_in_at_the_real_op(
    make_client: ClientFactory, test_op: LoopbackOP, db_session: AsyncSession
) -> None:
    email = unique_email("pkjwt")
    async with make_client(
        oidc_providers=[test_op.key_provider_entry(auto_create=True)],
        sso_redirect_url=REDIRECT_URI,
        sso_post_logout_redirect_url=POST_LOGOUT_URI,
    ) as client:
        response = await key_sign_in(client, test_op, email)
        assert response.status_code == 200, response.text
        token = response.json()["tokens"]["access_token"]
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["email"] == email
    logins = [e for e in await audit_events(db_session, "sso.login") if e.actor_email == email]
    assert [(e.outcome, e.details["provider"]) for e in logins] == [("success", "keyop")]


async def test_a_private_key_the_op_does_not_know_is_refused_and_makes_no_account(
    make_client: ClientFactory, test_op: LoopbackOP, db_session: AsyncSession
) -> None:
    email = unique_email("pkjwt-wrong")
    stranger = RSAKey.generate_key(2048, parameters={"kid": test_op.client_key.kid})
    async with make_client(
        oidc_providers=[test_op.key_provider_entry(stranger, auto_create=True)],
        sso_redirect_url=REDIRECT_URI,
        sso_post_logout_redirect_url=POST_LOGOUT_URI,
    ) as client:
        response = await key_sign_in(client, test_op, email)
        assert response.status_code == 502, response.text
        body = response.json()
        assert body["code"] == "sso_client_rejected"
        assert "Key OP" in body["detail"]
        assert "administrator" in body["detail"]
        assert body["request_id"]
    db_session.expire_all()
    assert await db_session.scalar(select(User).where(User.email == email)) is None
    failures = [e for e in await audit_events(db_session, "sso.login") if e.outcome == "failure"]
    assert failures[-1].details == {"provider": "keyop", "reason": "invalid_client"}
