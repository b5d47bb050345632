"""Every way of setting a password refuses a guessable one and names why (issue 22's list), in
the 422 item's `type`, which the UI translates; passphrases pass."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.auth import AUTH, login, make_superuser, register_and_login, unique_email

# (password, the address it is set for, the reason named)
GUESSABLE = [
    (" " * 8, "someone@example.com", "password_repeated"),
    ("........", "someone@example.com", "password_repeated"),
    ("abcabcab", "someone@example.com", "password_repeated"),
    ("Passw0rd!", "someone@example.com", "password_guessable"),
    ("P@ssw0rd2026", "someone@example.com", "password_guessable"),
    ("Welcome2026", "someone@example.com", "password_guessable"),
    ("Summer2026!", "someone@example.com", "password_guessable"),
    ("corpexample", "someone@corp.example", "password_context"),
    ("23456789", "someone@example.com", "password_sequence"),
]


def _assert_refused(response: httpx.Response, field: str, reason: str, password: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["request_id"] == response.headers["x-request-id"]
    [error] = body["detail"]
    assert error["loc"] == ["body", field]
    assert error["type"] == reason
    assert error["msg"].startswith("Value error, password ")
    assert password.strip() == "" or password not in response.text


@pytest.mark.parametrize(("password", "email", "reason"), GUESSABLE)
async def test_registration_refuses_a_guessable_password(
    client: httpx.AsyncClient, password: str, email: str, reason: str
) -> None:
    response = await client.post(f"{AUTH}/register", json={"email": email, "password": password})
    _assert_refused(response, "password", reason, password)
    # No account was made.
    assert (await login(client, email, password)).status_code == 401


async def test_a_password_change_refuses_and_names_the_reason(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    # The change route allows 5 attempts a minute: one of each kind, and the owner's own domain.
    cases = [GUESSABLE[0], GUESSABLE[6], GUESSABLE[8], ("examplecom2026", "", "password_context")]
    for password, _, reason in cases:
        response = await client.post(
            f"{AUTH}/password-change",
            headers=user.headers,
            json={"current_password": user.password, "new_password": password},
        )
        _assert_refused(response, "new_password", reason, password)
    assert (await login(client, user.email, user.password)).status_code == 200


async def test_an_administrator_cannot_create_an_account_with_a_guessable_password(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    admin = await make_superuser(client, db_session)
    for password, email, reason in GUESSABLE:
        response = await client.post(
            "/api/v1/users", headers=admin.headers, json={"email": email, "password": password}
        )
        _assert_refused(response, "password", reason, password)


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "tangerine kayak umbrella",
        "夏の夜に冷たい麦茶を飲む",
        "koiki tangerine kayak",
    ],
)
async def test_passphrases_pass(client: httpx.AsyncClient, password: str) -> None:
    email = unique_email()
    response = await client.post(f"{AUTH}/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    assert (await login(client, email, password)).status_code == 200
