"""Password change and reset. Reset mail goes to a real SMTP server on loopback, and the test
follows the link in it, as the user would.
"""

from __future__ import annotations

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
from tests.fixtures.auth import (
    AUTH,
    AuthedUser,
    SmtpServer,
    login,
    login_as,
    register_and_login,
    unique_email,
)

NEW_PASSWORD = "violet-harbour-lantern-9"
FRONTEND = "https://app.example.test"
RESET_BODY = {"detail": "If the account exists, a reset link has been sent."}


async def _me(client: httpx.AsyncClient, user: AuthedUser) -> httpx.Response:
    return await client.get(f"{AUTH}/me", headers=user.headers)


# --- change ------------------------------------------------------------------------------------


async def test_password_change_keeps_this_session_and_ends_the_others(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await register_and_login(client)
    other = await login_as(client, user)
    response = await client.post(
        f"{AUTH}/password-change",
        headers=user.headers,
        json={"current_password": user.password, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 204, response.text

    assert (await _me(client, user)).status_code == 200
    refreshed = await client.post(f"{AUTH}/refresh", json={"refresh_token": user.refresh_token})
    assert refreshed.status_code == 200
    assert (await _me(client, other)).status_code == 401
    other_refresh = await client.post(
        f"{AUTH}/refresh", json={"refresh_token": other.refresh_token}
    )
    assert other_refresh.status_code == 401

    assert (await login(client, user.email, user.password)).status_code == 401
    assert (await login(client, user.email, NEW_PASSWORD)).status_code == 200
    event = await db_session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "auth.password_change", AuditEvent.outcome == "success"
        )
    )
    assert event is not None
    assert event.actor_id == user.id


async def test_password_change_with_a_wrong_current_password_is_refused(
    client: httpx.AsyncClient,
) -> None:
    user = await register_and_login(client)
    response = await client.post(
        f"{AUTH}/password-change",
        headers=user.headers,
        json={"current_password": "not-my-password", "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_password"
    assert (await login(client, user.email, user.password)).status_code == 200


async def test_password_change_applies_the_policy_to_the_new_password(
    client: httpx.AsyncClient,
) -> None:
    user = await register_and_login(client)
    response = await client.post(
        f"{AUTH}/password-change",
        headers=user.headers,
        json={"current_password": user.password, "new_password": "qwertyuiop"},
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "new_password"]
    assert "too common" in error["msg"]


async def test_password_change_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{AUTH}/password-change",
        json={"current_password": "whatever-1234", "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 401


# --- reset -------------------------------------------------------------------------------------


@pytest.fixture
async def mail_client(
    make_client: ClientFactory, smtp_server: SmtpServer
) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(**smtp_server.settings, frontend_url=FRONTEND) as client:
        yield client


def _reset_token(smtp_server: SmtpServer, email: str) -> str:
    [message] = smtp_server.mailbox.to(email)
    assert message["Subject"] == "Reset your password"
    body = message.get_content()
    link = re.search(r"https://\S+", body)
    assert link, body
    url = urlparse(link.group(0))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{FRONTEND}/reset-password/confirm"
    [token] = parse_qs(url.query)["token"]
    return token


async def test_reset_by_email_link_sets_a_new_password_and_ends_all_sessions(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer, db_session: AsyncSession
) -> None:
    user = await register_and_login(mail_client)
    other = await login_as(mail_client, user)
    response = await mail_client.post(
        f"{AUTH}/password-reset/request", json={"email": user.email.upper()}
    )
    assert response.status_code == 202
    assert response.json() == RESET_BODY
    token = _reset_token(smtp_server, user.email)
    # Only a hash of the token is stored.
    stored = (await db_session.scalars(select(PasswordResetToken.token_hash))).all()
    assert token not in stored
    assert len(stored) == 1

    confirm = await mail_client.post(
        f"{AUTH}/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert confirm.status_code == 204, confirm.text
    assert (await login(mail_client, user.email, user.password)).status_code == 401
    assert (await login(mail_client, user.email, NEW_PASSWORD)).status_code == 200
    for device in (user, other):
        assert (await _me(mail_client, device)).status_code == 401
        refreshed = await mail_client.post(
            f"{AUTH}/refresh", json={"refresh_token": device.refresh_token}
        )
        assert refreshed.status_code == 401

    again = await mail_client.post(
        f"{AUTH}/password-reset/confirm",
        json={"token": token, "new_password": "another-new-password-7"},
    )
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_reset_token"
    assert (await login(mail_client, user.email, NEW_PASSWORD)).status_code == 200

    # The request and the completed reset are two different actions in the trail.
    events = (
        await db_session.execute(
            select(AuditEvent.action, AuditEvent.details).where(
                AuditEvent.action.like("auth.password_reset%")
            )
        )
    ).all()
    assert sorted((action, details.get("stage")) for action, details in events) == [
        ("auth.password_reset", "completed"),
        ("auth.password_reset_requested", None),
    ]


async def test_reset_answers_the_same_for_unknown_accounts_and_sends_nothing(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    response = await mail_client.post(
        f"{AUTH}/password-reset/request", json={"email": unique_email("ghost")}
    )
    assert response.status_code == 202
    assert response.json() == RESET_BODY
    assert smtp_server.mailbox.messages == []


async def test_an_expired_reset_token_is_refused(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer, db_session: AsyncSession
) -> None:
    user = await register_and_login(mail_client)
    await mail_client.post(f"{AUTH}/password-reset/request", json={"email": user.email})
    token = _reset_token(smtp_server, user.email)
    row = await db_session.scalar(select(PasswordResetToken))
    assert row is not None
    # Issued for one hour:
    assert row.expires_at - row.created_at == timedelta(minutes=60)
    await db_session.execute(
        update(PasswordResetToken).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db_session.commit()
    response = await mail_client.post(
        f"{AUTH}/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_reset_token"
    assert (await login(mail_client, user.email, user.password)).status_code == 200


async def test_a_weak_new_password_does_not_spend_the_reset_token(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    user = await register_and_login(mail_client)
    await mail_client.post(f"{AUTH}/password-reset/request", json={"email": user.email})
    token = _reset_token(smtp_server, user.email)
    weak = await mail_client.post(
        f"{AUTH}/password-reset/confirm", json={"token": token, "new_password": "Summer2026!"}
    )
    assert weak.status_code == 422
    assert weak.json()["detail"][0]["loc"] == ["body", "new_password"]
    assert weak.json()["detail"][0]["type"] == "password_guessable"
    ok = await mail_client.post(
        f"{AUTH}/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert ok.status_code == 204


async def test_a_newer_reset_link_replaces_the_older_one(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    user = await register_and_login(mail_client)
    await mail_client.post(f"{AUTH}/password-reset/request", json={"email": user.email})
    first = _reset_token(smtp_server, user.email)
    smtp_server.mailbox.messages.clear()
    await mail_client.post(f"{AUTH}/password-reset/request", json={"email": user.email})
    second = _reset_token(smtp_server, user.email)
    old = await mail_client.post(
        f"{AUTH}/password-reset/confirm", json={"token": first, "new_password": NEW_PASSWORD}
    )
    assert old.status_code == 400
    new = await mail_client.post(
        f"{AUTH}/password-reset/confirm", json={"token": second, "new_password": NEW_PASSWORD}
    )
    assert new.status_code == 204


async def test_reset_tokens_are_not_access_tokens_and_garbage_is_refused(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    user = await register_and_login(mail_client)
    await mail_client.post(f"{AUTH}/password-reset/request", json={"email": user.email})
    token = _reset_token(smtp_server, user.email)
    as_access = await mail_client.get(f"{AUTH}/me", headers={"Authorization": f"Bearer {token}"})
    assert as_access.status_code == 401
    as_refresh = await mail_client.post(f"{AUTH}/refresh", json={"refresh_token": token})
    assert as_refresh.status_code == 401
    # An access token is not a reset token either.
    as_reset = await mail_client.post(
        f"{AUTH}/password-reset/confirm",
        json={"token": user.access_token, "new_password": NEW_PASSWORD},
    )
    assert as_reset.status_code == 400


async def test_an_inactive_account_gets_no_reset_mail(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer, db_session: AsyncSession
) -> None:
    user = await register_and_login(mail_client)
    await db_session.execute(update(User).where(User.id == user.id).values(is_active=False))
    await db_session.commit()
    response = await mail_client.post(f"{AUTH}/password-reset/request", json={"email": user.email})
    assert response.status_code == 202
    assert smtp_server.mailbox.messages == []


async def test_a_failing_mail_server_does_not_fail_the_request(
    make_client: ClientFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on port 9 (discard) of loopback: the connection is refused.
    async with make_client(smtp_host="127.0.0.1", smtp_port=9, smtp_tls=False) as client:
        user = await register_and_login(client)
        response = await client.post(f"{AUTH}/password-reset/request", json={"email": user.email})
    assert response.status_code == 202
    assert response.json() == RESET_BODY
    assert "mail_send_failed" in capfd.readouterr().err


async def test_without_smtp_the_development_sender_logs_no_link_outside_development(
    make_client: ClientFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    async with make_client(smtp_host=None) as client:
        user = await register_and_login(client)
        capfd.readouterr()
        response = await client.post(f"{AUTH}/password-reset/request", json={"email": user.email})
    assert response.status_code == 202
    err = capfd.readouterr().err
    assert "mail_not_sent_no_smtp" in err
    assert "token=" not in err
