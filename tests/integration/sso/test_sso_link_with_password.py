"""A first SSO sign-in onto an existing password account: its password, once, links the two.

The 409 `sso_link_required` carries a single-use token bound to the provider account and to the
browser that started the sign-in; `POST /sso/link-with-password` with it and the password links
and signs in. A wrong password counts toward the login lockout and leaves the offer standing.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.auth.models import AuthSession
from libkoiki.db import utcnow
from libkoiki.sso.models import SSOPendingLink, UserIdentity
from tests.fixtures.auth import AuthedUser, login, register_and_login, unique_email
from tests.integration.sso.conftest import SSO, audit_events, finish, start
from tests.support.oidc import Account, LoopbackOP, sign_in_at_op

WRONG = "definitely-wrong-password"


async def first_sign_in(
    client: httpx.AsyncClient, op: LoopbackOP, account: Account
) -> tuple[httpx.Response, str]:
    started = await start(client, redirect_to="/todos?from=sso")
    async with httpx.AsyncClient() as browser:
        returned = await sign_in_at_op(browser, started.url, account)
    return await finish(client, returned, started.verifier), started.verifier


async def link(
    client: httpx.AsyncClient, token: str, password: str, verifier: str
) -> httpx.Response:
    return await client.post(
        f"{SSO}/link-with-password",
        json={"token": token, "password": password, "binding_verifier": verifier},
    )


async def identities_of(db: AsyncSession, user_id: int) -> list[UserIdentity]:
    db.expire_all()
    return list(await db.scalars(select(UserIdentity).where(UserIdentity.user_id == user_id)))


async def owner_and_op_account(
    client: httpx.AsyncClient, op: LoopbackOP
) -> tuple[AuthedUser, Account]:
    owner = await register_and_login(client, unique_email("linkpw"))
    return owner, await op.add_account(email=owner.email, groups=["koiki-admins"])


async def test_the_password_once_links_signs_in_and_the_token_works_once(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP, db_session: AsyncSession
) -> None:
    owner, account = await owner_and_op_account(sso_client, test_op)
    refused, verifier = await first_sign_in(sso_client, test_op, account)
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "sso_link_required"
    assert "password once" in body["detail"]
    assert body["provider"] == "Test OP"
    assert body["expires_in"] == 300
    token = body["link_token"]
    assert len(token) >= 32
    # Stored hashed only.
    db_session.expire_all()
    stored = list(await db_session.scalars(select(SSOPendingLink.token_hash)))
    assert token not in stored

    typo = await link(sso_client, token, WRONG, verifier)
    assert typo.status_code == 401
    assert typo.json()["code"] == "invalid_credentials"
    assert await identities_of(db_session, owner.id) == []

    linked = await link(sso_client, token, owner.password, verifier)
    assert linked.status_code == 200, linked.text
    assert linked.json()["redirect_to"] == "/todos?from=sso"
    assert linked.json()["linked"] is True
    headers = {"Authorization": f"Bearer {linked.json()['tokens']['access_token']}"}
    me = (await sso_client.get("/api/v1/auth/me", headers=headers)).json()
    assert me["id"] == owner.id
    assert me["roles"] == ["admin", "user"]  # the provider's groups apply as at a sign-in
    assert [i.subject for i in await identities_of(db_session, owner.id)] == [account.id]

    again = await link(sso_client, token, owner.password, verifier)
    assert again.status_code == 400
    assert again.json()["code"] == "sso_link_expired"
    assert again.json()["request_id"]

    # From now on the provider account signs in to the owner's account directly.
    next_time, _ = await first_sign_in(sso_client, test_op, account)
    assert next_time.status_code == 200, next_time.text

    links = [
        (e.outcome, e.details.get("reason"))
        for e in await audit_events(db_session, "sso.link")
        if e.actor_id == owner.id or e.actor_email == owner.email
    ]
    assert links == [("failure", "invalid_credentials"), ("success", None)]
    password_logins = [
        (e.outcome, (e.details or {}).get("reason"))
        for e in await audit_events(db_session, "auth.login")
        if e.actor_email == owner.email
    ]
    assert ("failure", "bad_password") in password_logins
    reused = [e for e in await audit_events(db_session, "sso.link") if e.outcome == "failure"]
    assert reused[-1].details == {"provider": None, "reason": "unknown_token"}


async def test_wrong_passwords_count_toward_the_lockout(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP, db_session: AsyncSession
) -> None:
    owner, account = await owner_and_op_account(sso_client, test_op)
    refused, verifier = await first_sign_in(sso_client, test_op, account)
    token = refused.json()["link_token"]
    for _ in range(5):
        assert (await link(sso_client, token, WRONG, verifier)).status_code == 401
    locked = await link(sso_client, token, owner.password, verifier)
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_locked"
    assert int(locked.headers["retry-after"]) > 0
    # The same lock as the password login's.
    assert (await login(sso_client, owner.email, owner.password)).status_code == 429
    assert await identities_of(db_session, owner.id) == []


async def test_the_token_is_of_no_use_in_another_browser_or_after_it_expires(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP, db_session: AsyncSession
) -> None:
    owner, account = await owner_and_op_account(sso_client, test_op)
    refused, _ = await first_sign_in(sso_client, test_op, account)
    stolen = await link(
        sso_client, refused.json()["link_token"], owner.password, secrets.token_urlsafe(32)
    )
    assert stolen.status_code == 400
    assert stolen.json()["code"] == "sso_link_expired"

    refused, verifier = await first_sign_in(sso_client, test_op, account)
    # Minutes pass: the stored offer ages instead of the test waiting.
    await db_session.execute(
        update(SSOPendingLink).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db_session.commit()
    late = await link(sso_client, refused.json()["link_token"], owner.password, verifier)
    assert late.status_code == 400
    assert late.json()["code"] == "sso_link_expired"
    assert await identities_of(db_session, owner.id) == []
    reasons = [
        e.details["reason"]
        for e in await audit_events(db_session, "sso.link")
        if e.outcome == "failure"
    ][-2:]
    assert reasons == ["browser_mismatch", "expired"]

    bad = await sso_client.post(f"{SSO}/link-with-password", json={"token": "short"})
    assert bad.status_code == 422
    assert {tuple(d["loc"]) for d in bad.json()["detail"]} >= {
        ("body", "token"),
        ("body", "password"),
    }


async def test_a_link_refused_after_the_password_leaves_no_session_behind(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP, db_session: AsyncSession
) -> None:
    """The provider account was linked to someone else between the offer and the password."""
    owner, account = await owner_and_op_account(sso_client, test_op)
    refused, verifier = await first_sign_in(sso_client, test_op, account)
    token = refused.json()["link_token"]
    other = await register_and_login(sso_client, unique_email("linkpw-other"))
    db_session.add(
        UserIdentity(user_id=other.id, provider="testop", issuer=test_op.issuer, subject=account.id)
    )
    await db_session.commit()

    async def open_sessions() -> int:
        db_session.expire_all()
        rows = await db_session.scalars(
            select(AuthSession.id).where(
                AuthSession.user_id == owner.id, AuthSession.revoked_at.is_(None)
            )
        )
        return len(list(rows))

    before = await open_sessions()
    taken = await link(sso_client, token, owner.password, verifier)
    assert taken.status_code == 409
    assert taken.json()["code"] == "sso_identity_taken"
    assert await open_sessions() == before
    assert await identities_of(db_session, owner.id) == []
