"""Email verification (REQUIRE_EMAIL_VERIFICATION) and registration that does not enumerate.

Every mail is received by a real SMTP server on loopback; links are read out of it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import User
from libkoiki.audit.models import AuditEvent
from libkoiki.auth.models import PasswordResetToken
from libkoiki.db import utcnow
from tests.conftest import ClientFactory
from tests.fixtures.auth import AUTH, DEFAULT_PASSWORD, AuthedUser, SmtpServer, login, unique_email

FRONTEND = "https://app.example.test"
PENDING = {
    "detail": "Check your email: we sent a link to finish the registration.",
    "verification_required": True,
}


@pytest.fixture
async def verifying(
    make_client: ClientFactory, smtp_server: SmtpServer
) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(
        **smtp_server.settings, frontend_url=FRONTEND, require_email_verification=True
    ) as client:
        yield client


def _link_token(smtp_server: SmtpServer, email: str, path: str = "/verify-email") -> str:
    message = smtp_server.mailbox.to(email)[-1]
    assert message["Subject"] == "Confirm your email address"
    link = re.search(r"https://\S+", message.get_content())
    assert link
    url = urlparse(link.group(0))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{FRONTEND}{path}"
    [token] = parse_qs(url.query)["token"]
    return token


async def _register(
    client: httpx.AsyncClient, email: str, password: str = DEFAULT_PASSWORD
) -> httpx.Response:
    return await client.post(f"{AUTH}/register", json={"email": email, "password": password})


async def test_a_new_account_logs_in_only_after_opening_the_link(
    verifying: httpx.AsyncClient, smtp_server: SmtpServer, db_session: AsyncSession
) -> None:
    email = unique_email("vera")
    registered = await _register(verifying, email)
    assert registered.status_code == 202, registered.text
    assert registered.json() == PENDING

    refused = await login(verifying, email, DEFAULT_PASSWORD)
    assert refused.status_code == 403
    assert refused.json()["code"] == "email_not_verified"
    # A wrong password is not told apart from an unknown account, verified or not.
    wrong = await login(verifying, email, "not-the-password-9")
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")

    token = _link_token(smtp_server, email)
    stored = (await db_session.scalars(select(PasswordResetToken.token_hash))).all()
    assert token not in stored  # only its hash

    confirmed = await verifying.post(f"{AUTH}/verify-email", json={"token": token})
    assert confirmed.status_code == 204, confirmed.text
    signed_in = await login(verifying, email, DEFAULT_PASSWORD)
    assert signed_in.status_code == 200, signed_in.text
    me = await verifying.get(
        f"{AUTH}/me", headers={"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    )
    assert me.json()["email_verified_at"] is not None

    again = await verifying.post(f"{AUTH}/verify-email", json={"token": token})
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_verification_token"
    reasons = (
        await db_session.scalars(
            select(AuditEvent.details["reason"].as_string()).where(
                AuditEvent.action == "auth.login", AuditEvent.actor_email == email
            )
        )
    ).all()
    assert "email_not_verified" in reasons


async def test_a_taken_address_gets_the_same_answer_and_its_owner_a_notice(
    verifying: httpx.AsyncClient, smtp_server: SmtpServer, db_session: AsyncSession
) -> None:
    email = unique_email("owner")
    first = await _register(verifying, email)
    owner_password = await db_session.scalar(
        select(User.hashed_password).where(User.email == email)
    )
    second = await _register(verifying, email.upper(), "another-long-secret-5")
    assert (second.status_code, second.json()) == (first.status_code, first.json())
    assert set(second.headers) == set(first.headers)

    [welcome, notice] = smtp_server.mailbox.to(email)
    assert welcome["Subject"] == "Confirm your email address"
    assert notice["Subject"] == "Someone tried to register with your email address"
    assert "/verify-email" not in notice.get_content()
    # Nothing about the existing account changed.
    db_session.expire_all()
    assert (
        await db_session.scalar(select(User.hashed_password).where(User.email == email))
    ) == owner_password
    assert (
        await db_session.scalar(
            select(AuditEvent.action).where(
                AuditEvent.action == "auth.register_taken", AuditEvent.actor_email == email
            )
        )
        == "auth.register_taken"
    )


async def test_registration_hashes_the_password_for_a_taken_address_too(
    verifying: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    """Same work for both answers: a weak password is refused before the address is looked at,
    so the policy cannot be used to tell accounts apart either."""
    email = unique_email("weak")
    await _register(verifying, email)
    for address in (email, unique_email("weak")):
        weak = await _register(verifying, address, "password123")
        assert weak.status_code == 422
        assert weak.json()["detail"][0]["loc"] == ["body", "password"]


async def test_resend_sends_a_new_link_that_replaces_the_old_one(
    verifying: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    email = unique_email("late")
    await _register(verifying, email)
    old = _link_token(smtp_server, email)
    resent = await verifying.post(f"{AUTH}/verify-email/resend", json={"email": email})
    assert resent.status_code == 202
    new = _link_token(smtp_server, email)
    assert new != old
    stale = await verifying.post(f"{AUTH}/verify-email", json={"token": old})
    assert stale.status_code == 400
    assert (await verifying.post(f"{AUTH}/verify-email", json={"token": new})).status_code == 204
    # Once verified, a resend sends nothing, and answers the same.
    count = len(smtp_server.mailbox.to(email))
    after = await verifying.post(f"{AUTH}/verify-email/resend", json={"email": email})
    assert (after.status_code, after.json()) == (resent.status_code, resent.json())
    assert len(smtp_server.mailbox.to(email)) == count


async def test_resend_answers_the_same_for_unknown_addresses_and_is_limited(
    verifying: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    ghost = unique_email("ghost")
    known = unique_email("known")
    await _register(verifying, known)
    answers = [
        await verifying.post(f"{AUTH}/verify-email/resend", json={"email": address})
        for address in (ghost, known)
    ]
    assert answers[0].json() == answers[1].json()
    assert answers[0].status_code == answers[1].status_code == 202
    assert smtp_server.mailbox.to(ghost) == []
    # Three per minute from one client: the fourth is refused before anything is looked up.
    third = await verifying.post(f"{AUTH}/verify-email/resend", json={"email": ghost})
    assert third.status_code == 202
    limited = await verifying.post(f"{AUTH}/verify-email/resend", json={"email": known})
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) > 0


async def test_an_expired_or_reset_token_does_not_verify(
    verifying: httpx.AsyncClient, smtp_server: SmtpServer, db_session: AsyncSession
) -> None:
    email = unique_email("slow")
    await _register(verifying, email)
    token = _link_token(smtp_server, email)
    await db_session.execute(
        update(PasswordResetToken).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db_session.commit()
    expired = await verifying.post(f"{AUTH}/verify-email", json={"token": token})
    assert expired.status_code == 400
    # A password-reset link is not a verification link, nor the reverse.
    await verifying.post(f"{AUTH}/password-reset/request", json={"email": email})
    reset_message = smtp_server.mailbox.to(email)[-1]
    reset_token = parse_qs(
        urlparse(re.search(r"https://\S+", reset_message.get_content()).group(0)).query  # type: ignore[union-attr]
    )["token"][0]
    crossed = await verifying.post(f"{AUTH}/verify-email", json={"token": reset_token})
    assert crossed.status_code == 400
    assert (await login(verifying, email, DEFAULT_PASSWORD)).status_code == 403


async def test_one_link_used_twice_at_once_verifies_once(
    verifying: httpx.AsyncClient, smtp_server: SmtpServer, db_session: AsyncSession
) -> None:
    email = unique_email("twice")
    await _register(verifying, email)
    token = _link_token(smtp_server, email)
    answers = await asyncio.gather(
        *(verifying.post(f"{AUTH}/verify-email", json={"token": token}) for _ in range(2))
    )
    assert sorted(answer.status_code for answer in answers) == [204, 400]
    completed = await db_session.scalar(
        select(AuditEvent.id).where(
            AuditEvent.action == "auth.email_verification", AuditEvent.actor_email == email
        )
    )
    assert completed is not None


async def test_an_administrator_marks_an_address_verified_and_it_is_audited(
    verifying: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    admin = await make_superuser_verified(verifying, db_session)
    email = unique_email("helped")
    await _register(verifying, email)
    user_id = await db_session.scalar(select(User.id).where(User.email == email))
    refused = await verifying.patch(
        f"/api/v1/users/{user_id}", json={"email_verified": False}, headers=admin.headers
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "email_verified"]
    marked = await verifying.patch(
        f"/api/v1/users/{user_id}", json={"email_verified": True}, headers=admin.headers
    )
    assert marked.status_code == 200, marked.text
    assert marked.json()["email_verified_at"] is not None
    assert (await login(verifying, email, DEFAULT_PASSWORD)).status_code == 200
    details = await db_session.scalar(
        select(AuditEvent.details).where(
            AuditEvent.action == "user.update", AuditEvent.target_id == str(user_id)
        )
    )
    assert details is not None
    assert details["changes"] == {"email_verified": True}


async def make_superuser_verified(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> AuthedUser:
    """Like make_superuser, whose login would now be refused: the address is marked first."""
    email = unique_email("root")
    await _register(client, email)
    await db_session.execute(
        update(User)
        .where(User.email == email)
        .values(is_superuser=True, email_verified_at=User.created_at)
    )
    await db_session.commit()
    response = await login(client, email, DEFAULT_PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    user_id = await db_session.scalar(select(User.id).where(User.email == email))
    assert user_id is not None
    return AuthedUser(user_id, email, DEFAULT_PASSWORD, body["access_token"], body["refresh_token"])


async def test_with_verification_off_a_taken_address_is_still_a_409(
    client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    """The default outside staging/production: no mail to read, so the old contract stays."""
    email = unique_email()
    assert (await _register(client, email)).status_code == 201
    taken = await _register(client, email)
    assert taken.status_code == 409
    assert taken.json()["code"] == "email_taken"


@pytest.mark.parametrize(
    ("app_env", "expected"),
    [("production", True), ("staging", True), ("development", False), ("test", False)],
)
def test_verification_defaults_on_in_production_and_staging(app_env: str, expected: bool) -> None:
    from libkoiki.config import Settings

    secrets = {"secret_key": "s" * 40, "jwt_secret": "j" * 40}
    assert Settings(app_env=app_env, **secrets).email_verification_on is expected  # type: ignore[arg-type]
    assert Settings(
        app_env=app_env,
        require_email_verification=not expected,
        **secrets,  # type: ignore[arg-type]
    ).email_verification_on is (not expected)


@pytest.mark.parametrize(
    ("overrides", "reported"),
    [
        ({"app_env": "production"}, True),
        ({"app_env": "staging", "require_email_verification": False}, False),
        ({"app_env": "development", "require_email_verification": True}, False),
    ],
)
async def test_a_deployment_requiring_confirmation_without_smtp_says_so_at_start(
    make_client: ClientFactory,
    capsys: pytest.CaptureFixture[str],
    overrides: dict[str, object],
    reported: bool,
) -> None:
    async with make_client(
        smtp_host=None, cors_origins="https://app.example.com", log_format="json", **overrides
    ):
        pass
    logged = [
        line for line in capsys.readouterr().err.splitlines() if "mail_not_configured" in line
    ]
    assert bool(logged) is reported
    if reported:
        assert "SMTP_HOST" in logged[0]
        assert "REQUIRE_EMAIL_VERIFICATION=false" in logged[0]
