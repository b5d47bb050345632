"""Addresses that look like an existing one: normalised (NFKC, case fold) before uniqueness, and
refused when their Unicode TS #39 skeleton matches an existing account's, concurrently too."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.emails import email_skeleton, normalize_email
from libkoiki.accounts.models import User
from tests.fixtures.auth import AUTH, DEFAULT_PASSWORD, login, make_superuser

LOOKALIKES = [
    ("\uff41lice", "email_taken"),  # full-width ａ: NFKC makes it the same address
    ("\u0430lice", "email_confusable"),  # Cyrillic а
    ("al\u0131ce", "email_confusable"),  # dotless ı
    ("ALICE", "email_taken"),
    ("AL\u0131CE", "email_confusable"),  # dotless ı among capitals
]


def test_the_skeleton_folds_lookalikes_and_keeps_different_letters_apart() -> None:
    base = email_skeleton("alice@example.com")
    for local, _ in LOOKALIKES:
        assert email_skeleton(f"{local}@example.com") == base, local
    assert email_skeleton("alice@examp1e.com") == base  # 1 and l share a prototype
    for different in ("alise@example.com", "aiice@example.com", "alice@example.org"):
        assert email_skeleton(different) != base
    assert normalize_email("Stra\u00dfe@Example.COM") == "strasse@example.com"


@pytest.mark.parametrize(("local", "code"), LOOKALIKES)
async def test_a_lookalike_of_an_existing_address_is_refused(
    client: httpx.AsyncClient, db_session: AsyncSession, local: str, code: str
) -> None:
    owner = await client.post(
        f"{AUTH}/register", json={"email": "alice@example.com", "password": DEFAULT_PASSWORD}
    )
    assert owner.status_code == 201, owner.text
    copy = await client.post(
        f"{AUTH}/register", json={"email": f"{local}@example.com", "password": DEFAULT_PASSWORD}
    )
    assert copy.status_code == 409, copy.text
    assert copy.json()["code"] == code
    assert copy.json()["request_id"]
    count = await db_session.scalar(select(func.count()).select_from(User))
    emails = (await db_session.scalars(select(User.email))).all()
    assert "alice@example.com" in emails
    assert not [email for email in emails if email != "alice@example.com" and "ce@ex" in email]
    assert count == len(emails)


async def test_a_full_width_address_logs_in_as_its_plain_form(client: httpx.AsyncClient) -> None:
    registered = await client.post(
        f"{AUTH}/register",
        json={"email": "\uff42\uff4f\uff42@example.com", "password": DEFAULT_PASSWORD},
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["email"] == "bob@example.com"
    assert (await login(client, "BOB@example.com", DEFAULT_PASSWORD)).status_code == 200
    assert (await login(client, "\uff42ob@example.com", DEFAULT_PASSWORD)).status_code == 200


async def test_two_lookalikes_registered_at_once_yield_one_account(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    addresses = [
        "carol@example.com",
        "c\u0430rol@example.com",
        "car\u03bfl@example.com",
    ]
    answers = await asyncio.gather(
        *(
            client.post(f"{AUTH}/register", json={"email": email, "password": DEFAULT_PASSWORD})
            for email in addresses
        )
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201, 409, 409], [answer.text for answer in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} <= {
        "email_taken",
        "email_confusable",
    }
    stored = (await db_session.scalars(select(User.email).where(User.email.in_(addresses)))).all()
    assert len(stored) == 1


async def test_an_administrator_cannot_create_a_lookalike_either(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    admin = await make_superuser(client, db_session, "dave@example.com")
    response = await client.post(
        "/api/v1/users",
        headers=admin.headers,
        json={"email": "d\u0430ve@example.com", "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_confusable"
