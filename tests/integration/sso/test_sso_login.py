"""SSO against a real, certified OpenID Provider (oidc-provider on loopback), driven over HTTP."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import User
from libkoiki.sso.models import UserIdentity
from tests.conftest import ClientFactory
from tests.fixtures.auth import (
    AuthedUser,
    SmtpServer,
    login,
    make_superuser,
    register_and_login,
    unique_email,
)
from tests.integration.sso.conftest import SSO, audit_events, finish, start
from tests.support.oidc import CLIENT_ID, POST_LOGOUT_URI, REDIRECT_URI, LoopbackOP, sign_in_at_op


async def sso_login(
    client: httpx.AsyncClient, op: LoopbackOP, account: object, redirect_to: str = "/todos"
) -> httpx.Response:
    started = await start(client, redirect_to=redirect_to)
    async with httpx.AsyncClient() as browser:
        returned = await sign_in_at_op(browser, started.url, account)  # type: ignore[arg-type]
    return await finish(client, returned, started.verifier)


def bearer(response: httpx.Response) -> dict[str, str]:
    return {"Authorization": f"Bearer {response.json()['tokens']['access_token']}"}


async def users_with_email(db: AsyncSession, email: str) -> list[User]:
    db.expire_all()
    return list(await db.scalars(select(User).where(User.email == email)))


async def test_the_login_page_lists_providers_without_secrets(
    sso_client: httpx.AsyncClient,
) -> None:
    response = await sso_client.get(f"{SSO}/providers")
    assert response.status_code == 200
    assert response.json() == [
        {"name": "testop", "display_name": "Test OP"},
        {"name": "forge", "display_name": "Forge"},
    ]


async def test_authorize_sends_the_browser_to_the_provider_with_pkce_state_and_nonce(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP
) -> None:
    started = await start(sso_client)
    assert started.url.startswith(f"{test_op.issuer}/auth?")
    params = started.params
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == REDIRECT_URI
    assert params["scope"] == "openid email profile groups"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 32
    assert len(params["nonce"]) >= 32

    unknown = await sso_client.get(f"{SSO}/nope/authorize")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"
    assert unknown.json()["request_id"]
    offsite = await sso_client.get(f"{SSO}/testop/authorize", params={"redirect_to": "//evil.test"})
    assert offsite.status_code == 422
    assert offsite.json()["detail"][0]["loc"] == ["query", "redirect_to"]


async def test_first_login_creates_the_user_and_a_session_and_the_second_finds_them(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP, db_session: AsyncSession
) -> None:
    email = unique_email("sso")
    account = await test_op.add_account(email=email, name="Hanako Sato")
    first = await sso_login(sso_client, test_op, account, redirect_to="/todos?filter=open")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["redirect_to"] == "/todos?filter=open"
    assert body["linked"] is False
    me = await sso_client.get("/api/v1/auth/me", headers=bearer(first))
    assert me.status_code == 200
    assert me.json()["email"] == email
    assert me.json()["full_name"] == "Hanako Sato"
    assert me.json()["has_password"] is False
    sessions = await sso_client.get("/api/v1/auth/sessions", headers=bearer(first))
    assert len(sessions.json()) == 1
    refreshed = await sso_client.post(
        "/api/v1/auth/refresh", json={"refresh_token": body["tokens"]["refresh_token"]}
    )
    assert refreshed.status_code == 200

    second = await sso_login(sso_client, test_op, account)
    assert second.status_code == 200, second.text
    again = await sso_client.get("/api/v1/auth/me", headers=bearer(second))
    assert again.json()["id"] == me.json()["id"]
    assert len(await users_with_email(db_session, email)) == 1
    provisioned = [
        e for e in await audit_events(db_session, "sso.provision") if e.actor_email == email
    ]
    assert len(provisioned) == 1
    logins = [e for e in await audit_events(db_session, "sso.login") if e.actor_email == email]
    assert [e.outcome for e in logins] == ["success", "success"]

    # No password: password login, change and reset say so plainly.
    password_login = await login(sso_client, email, "anything-at-all-1")
    assert password_login.status_code == 401
    assert password_login.json()["code"] == "sso_only_account"
    change = await sso_client.post(
        "/api/v1/auth/password-change",
        headers=bearer(second),
        json={"current_password": "x", "new_password": "a-brand-new-passphrase-9"},
    )
    assert change.status_code == 400
    assert change.json()["code"] == "sso_only_account"


async def test_a_tampered_or_replayed_state_is_refused_and_audited(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP, db_session: AsyncSession
) -> None:
    email = unique_email("replay")
    account = await test_op.add_account(email=email)
    started = await start(sso_client)
    async with httpx.AsyncClient() as browser:
        returned = await sign_in_at_op(browser, started.url, account)
    tampered = await finish(
        sso_client, {**returned, "state": returned["state"] + "x"}, started.verifier
    )
    assert tampered.status_code == 400
    assert tampered.json()["code"] == "sso_invalid_state"
    assert "expired or was already used" in tampered.json()["detail"]

    other_browser = await finish(sso_client, returned, "another-browsers-secret-123456")
    assert other_browser.status_code == 400
    assert other_browser.json()["code"] == "sso_invalid_state"
    # That attempt used the state up: the real browser must start again too.
    replayed = await finish(sso_client, returned, started.verifier)
    assert replayed.status_code == 400
    assert replayed.json()["code"] == "sso_invalid_state"
    assert await users_with_email(db_session, email) == []
    reasons = [e.details["reason"] for e in await audit_events(db_session, "sso.login")]
    assert {"unknown_state", "browser_mismatch"} <= set(reasons)


async def test_an_answer_naming_another_issuer_is_refused(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP, db_session: AsyncSession
) -> None:
    account = await test_op.add_account(email=unique_email("mixup"))
    started = await start(sso_client)
    async with httpx.AsyncClient() as browser:
        returned = await sign_in_at_op(browser, started.url, account)
    assert returned["iss"] == test_op.issuer  # the provider says who answered (RFC 9207)
    mixed_up = await finish(
        sso_client, {**returned, "iss": "https://evil.example"}, started.verifier
    )
    assert mixed_up.status_code == 400
    assert mixed_up.json()["code"] == "sso_provider_error"
    assert (await audit_events(db_session, "sso.login"))[-1].details["reason"] == "issuer_mismatch"
    assert await users_with_email(db_session, account.email) == []


async def test_a_replayed_code_is_refused_by_the_provider(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP, db_session: AsyncSession
) -> None:
    account = await test_op.add_account(email=unique_email("code"))
    started = await start(sso_client)
    async with httpx.AsyncClient() as browser:
        returned = await sign_in_at_op(browser, started.url, account)
    assert (await finish(sso_client, returned, started.verifier)).status_code == 200
    # The same code with a fresh sign-in of the attacker's own: the provider says no.
    fresh = await start(sso_client)
    replay = await finish(sso_client, {**returned, "state": fresh.params["state"]}, fresh.verifier)
    assert replay.status_code == 400
    assert replay.json()["code"] == "sso_code_rejected"
    assert (await audit_events(db_session, "sso.login"))[-1].details["reason"] == "invalid_grant"


async def test_cancelling_at_the_provider_is_a_clear_error(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP
) -> None:
    started = await start(sso_client)
    async with httpx.AsyncClient() as browser:
        returned = await sign_in_at_op(browser, started.url, None, abort=True)
    assert returned["error"] == "access_denied"
    response = await finish(sso_client, returned, started.verifier)
    assert response.status_code == 400
    assert response.json()["code"] == "sso_access_denied"
    assert "Test OP" in response.json()["detail"]


async def test_unverified_email_or_foreign_domain_creates_no_account(
    make_client: object,
    sso_client: httpx.AsyncClient,
    test_op: LoopbackOP,
    db_session: AsyncSession,
) -> None:
    unverified = await test_op.add_account(email=unique_email("unverified"), email_verified=False)
    response = await sso_login(sso_client, test_op, unverified)
    assert response.status_code == 403
    assert response.json()["code"] == "sso_email_not_verified"
    assert await users_with_email(db_session, unverified.email) == []

    foreign = await test_op.add_account(email=f"someone-{unverified.id}@elsewhere.test")
    provider = test_op.provider_entry(auto_create=True, allowed_domains=["example.com"])
    async with make_client(oidc_providers=[provider], sso_redirect_url=REDIRECT_URI) as client:  # type: ignore[operator]
        refused = await sso_login(client, test_op, foreign)
    assert refused.status_code == 403
    assert refused.json()["code"] == "sso_domain_not_allowed"
    assert await users_with_email(db_session, foreign.email) == []
    reasons = [e.details["reason"] for e in await audit_events(db_session, "sso.login")]
    assert "email_not_verified" in reasons
    assert "domain_not_allowed" in reasons


async def test_groups_map_to_roles_and_a_group_removed_at_the_provider_is_removed_here(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP, db_session: AsyncSession
) -> None:
    account = await test_op.add_account(email=unique_email("groups"), groups=["koiki-admins"])
    first = await sso_login(sso_client, test_op, account)
    me = (await sso_client.get("/api/v1/auth/me", headers=bearer(first))).json()
    assert me["roles"] == ["admin", "user"]
    assert "users:write" in me["permissions"]

    await test_op.put_account(account, groups=[])
    second = await sso_login(sso_client, test_op, account)
    me = (await sso_client.get("/api/v1/auth/me", headers=bearer(second))).json()
    assert me["roles"] == ["user"]
    changes = [
        e.details
        for e in await audit_events(db_session, "sso.roles_changed")
        if e.actor_id == me["id"]
    ]
    assert changes == [
        {"provider": "testop", "added": ["admin"], "removed": []},
        {"provider": "testop", "added": [], "removed": ["admin"]},
    ]


async def test_a_deactivated_account_is_refused_and_its_sessions_end_at_once(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP, db_session: AsyncSession
) -> None:
    admin = await make_superuser(sso_client, db_session)
    account = await test_op.add_account(email=unique_email("inactive"))
    first = await sso_login(sso_client, test_op, account)
    user_id = (await sso_client.get("/api/v1/auth/me", headers=bearer(first))).json()["id"]
    deactivated = await sso_client.patch(
        f"/api/v1/users/{user_id}", headers=admin.headers, json={"is_active": False}
    )
    assert deactivated.status_code == 200
    assert (await sso_client.get("/api/v1/auth/me", headers=bearer(first))).status_code == 401
    again = await sso_login(sso_client, test_op, account)
    assert again.status_code == 403
    assert again.json()["code"] == "sso_account_inactive"


async def test_key_rotation_at_the_provider_is_followed_without_a_restart(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP
) -> None:
    account = await test_op.add_account(email=unique_email("rotate"))
    assert (await sso_login(sso_client, test_op, account)).status_code == 200
    await test_op.rotate_keys()
    after = await sso_login(sso_client, test_op, account)
    assert after.status_code == 200, after.text


async def test_an_existing_password_account_is_linked_only_by_its_signed_in_owner(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP, db_session: AsyncSession
) -> None:
    owner: AuthedUser = await register_and_login(sso_client, unique_email("owner"))
    account = await test_op.add_account(email=owner.email)
    refused = await sso_login(sso_client, test_op, account)
    assert refused.status_code == 409
    assert refused.json()["code"] == "sso_link_required"
    db_session.expire_all()
    assert (
        list(await db_session.scalars(select(UserIdentity).where(UserIdentity.user_id == owner.id)))
        == []
    )

    link = await sso_client.post(
        f"{SSO}/testop/link", headers=owner.headers, json={"redirect_to": "/profile"}
    )
    assert link.status_code == 200
    async with httpx.AsyncClient() as browser:
        returned = await sign_in_at_op(browser, link.json()["authorization_url"], account)
    linked = await finish(sso_client, returned, None)
    assert linked.status_code == 200, linked.text
    assert linked.json() == {"redirect_to": "/profile", "linked": True, "tokens": None}

    identities = await sso_client.get(f"{SSO}/identities", headers=owner.headers)
    assert [(i["provider"], i["display_name"], i["email"]) for i in identities.json()] == [
        ("testop", "Test OP", owner.email)
    ]
    via_sso = await sso_login(sso_client, test_op, account)
    assert via_sso.status_code == 200
    me = await sso_client.get("/api/v1/auth/me", headers=bearer(via_sso))
    assert me.json()["id"] == owner.id
    assert [
        e.outcome for e in await audit_events(db_session, "sso.link") if e.actor_id == owner.id
    ] == ["success"]

    # The password remains: the link can go.
    identity_id = identities.json()[0]["id"]
    unlinked = await sso_client.delete(f"{SSO}/identities/{identity_id}", headers=owner.headers)
    assert unlinked.status_code == 204
    assert (await sso_client.get(f"{SSO}/identities", headers=owner.headers)).json() == []


async def test_the_last_way_to_sign_in_cannot_be_unlinked(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP
) -> None:
    account = await test_op.add_account(email=unique_email("last"))
    response = await sso_login(sso_client, test_op, account)
    identities = (await sso_client.get(f"{SSO}/identities", headers=bearer(response))).json()
    refused = await sso_client.delete(
        f"{SSO}/identities/{identities[0]['id']}", headers=bearer(response)
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "last_sign_in_method"


async def test_logout_ends_our_session_and_the_providers(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP
) -> None:
    account = await test_op.add_account(email=unique_email("logout"))
    async with httpx.AsyncClient() as browser:
        started = await start(sso_client)
        returned = await sign_in_at_op(browser, started.url, account)
        response = await finish(sso_client, returned, started.verifier)
        headers = bearer(response)

        end = await sso_client.get(f"{SSO}/end-session", headers=headers)
        url = end.json()["end_session_url"]
        assert url.startswith(f"{test_op.issuer}/session/end?")
        assert (await sso_client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
        assert (await sso_client.get("/api/v1/auth/me", headers=headers)).status_code == 401

        # Signed in at the provider, a new sign-in there needs no password...
        again = await start(sso_client)
        silent = await sign_in_at_op(browser, again.url, None)
        assert "code" in silent
        assert "login_page_shown" not in silent
        # ...until the browser has been through its sign-out page.
        page = await browser.get(url)
        assert page.status_code == 200, page.text
        form = page.text
        xsrf = form.split('name="xsrf" value="')[1].split('"')[0]
        confirm = await browser.post(
            f"{test_op.issuer}/session/end/confirm", data={"xsrf": xsrf, "logout": "yes"}
        )
        assert confirm.status_code in (302, 303)
        # Back to our login page, which the provider knows as this client's.
        assert confirm.headers["location"].startswith(POST_LOGOUT_URI)
        after = await start(sso_client)
        needs_login = await sign_in_at_op(browser, after.url, account)
        assert "code" in needs_login
        assert needs_login["login_page_shown"] == "yes"


async def test_a_password_reset_for_an_sso_account_mails_why_there_is_none(
    make_client: ClientFactory, test_op: LoopbackOP, smtp_server: SmtpServer
) -> None:
    account = await test_op.add_account(email=unique_email("reset"))
    provider = test_op.provider_entry(auto_create=True)
    async with make_client(
        oidc_providers=[provider], sso_redirect_url=REDIRECT_URI, **smtp_server.settings
    ) as client:
        assert (await sso_login(client, test_op, account)).status_code == 200
        requested = await client.post(
            "/api/v1/auth/password-reset/request", json={"email": account.email}
        )
        assert requested.status_code == 202
    [message] = smtp_server.mailbox.to(account.email)
    assert message["Subject"] == "Your account has no password"
    assert "single sign-on" in message.get_content()


async def test_two_first_sign_ins_at_once_make_one_account_and_both_get_in(
    sso_client: httpx.AsyncClient, test_op: LoopbackOP, db_session: AsyncSession
) -> None:
    """A double click or two tabs: both answers come back before either has made the account."""
    email = unique_email("sso-race")
    account = await test_op.add_account(email=email)
    answers = []
    for _ in range(2):
        started = await start(sso_client)
        async with httpx.AsyncClient() as browser:
            returned = await sign_in_at_op(browser, started.url, account)
        answers.append((returned, started.verifier))
    first, second = await asyncio.gather(
        *(finish(sso_client, returned, verifier) for returned, verifier in answers)
    )
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    ids = set()
    for response in (first, second):
        me = await sso_client.get("/api/v1/auth/me", headers=bearer(response))
        ids.add(me.json()["id"])
    assert len(ids) == 1
    assert len(await users_with_email(db_session, email)) == 1
