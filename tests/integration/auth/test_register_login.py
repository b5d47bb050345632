"""Registration, the password policy, login and /me, through HTTP."""

from __future__ import annotations

import re

import httpx
import jwt
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import User
from libkoiki.audit.models import AuditEvent
from libkoiki.config import Settings
from tests.fixtures.auth import (
    AUTH,
    DEFAULT_PASSWORD,
    AuthedUser,
    login,
    register_and_login,
    unique_email,
)

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


async def test_register_returns_the_user_without_any_secret(client: httpx.AsyncClient) -> None:
    email = unique_email("Ada")
    response = await client.post(
        f"{AUTH}/register",
        json={"email": email, "password": DEFAULT_PASSWORD, "full_name": "Ada Lovelace"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "email",
        "full_name",
        "is_active",
        "is_superuser",
        "email_verified_at",
        "created_at",
        "updated_at",
        "roles",
    }
    assert body["email"] == email.lower()
    assert body["email_verified_at"] is None  # verification is off in APP_ENV=test
    assert body["full_name"] == "Ada Lovelace"
    assert body["is_active"] is True
    assert body["is_superuser"] is False
    assert body["roles"] == ["user"]
    assert ISO_UTC.match(body["created_at"])
    assert "argon2" not in response.text
    assert DEFAULT_PASSWORD not in response.text
    assert response.headers["cache-control"] == "no-store"


async def test_password_is_stored_as_argon2id_with_owasp_parameters(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await register_and_login(client)
    stored = await db_session.scalar(select(User.hashed_password).where(User.id == user.id))
    assert stored is not None
    match = re.match(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", stored)
    assert match, stored
    memory, time_cost, parallelism = map(int, match.groups())
    assert memory >= 19 * 1024
    assert time_cost >= 2
    assert parallelism == 1


async def test_duplicate_email_is_a_conflict_whatever_the_case(client: httpx.AsyncClient) -> None:
    email = unique_email()
    first = await client.post(
        f"{AUTH}/register", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert first.status_code == 201
    again = await client.post(
        f"{AUTH}/register", json={"email": email.upper(), "password": DEFAULT_PASSWORD}
    )
    assert again.status_code == 409
    assert again.json()["code"] == "email_taken"


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short7!", "at least 8 characters"),
        ("x" * 129, "at most 128 characters"),
        ("password123", "too common"),
        ("Iloveyou1", "too common"),
        ("tanaka-is-my-name", "must not contain the email"),
        ("        ", "one character or group repeated"),
        ("abcabcab", "one character or group repeated"),
        ("Summer2026!", "too easy to guess"),
        ("examplecom", "built from your email address"),
        ("koiki-2026", "built from your email address or the name of this service"),
    ],
)
async def test_weak_passwords_are_refused_naming_the_rule(
    client: httpx.AsyncClient, password: str, rule: str
) -> None:
    response = await client.post(
        f"{AUTH}/register", json={"email": "tanaka@example.com", "password": password}
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["request_id"]
    [error] = body["detail"]
    assert error["loc"] == ["body", "password"]
    assert rule in error["msg"]
    assert password not in response.text


async def test_long_passphrases_without_composition_rules_are_accepted(
    client: httpx.AsyncClient,
) -> None:
    longest = (
        "the quiet harbour keeps seven blue lanterns while our neighbours bake rye bread "
        "near the old mill by winding rivers of autumn to"
    )
    assert len(longest) == 128
    for password in ("correct horse battery staple", "ééé café crème brûlée", longest):
        response = await client.post(
            f"{AUTH}/register", json={"email": unique_email(), "password": password}
        )
        assert response.status_code == 201, response.text


async def test_minimum_length_follows_the_setting(make_client: object) -> None:
    async with make_client(password_min_length=12) as client:  # type: ignore[operator]
        short = await client.post(
            f"{AUTH}/register", json={"email": unique_email(), "password": "plum-orbit1"}
        )
        assert short.status_code == 422
        assert "at least 12 characters" in short.json()["detail"][0]["msg"]


async def test_register_rejects_bad_email_and_unknown_fields(client: httpx.AsyncClient) -> None:
    bad_email = await client.post(
        f"{AUTH}/register", json={"email": "not-an-email", "password": DEFAULT_PASSWORD}
    )
    assert bad_email.status_code == 422
    assert bad_email.json()["detail"][0]["loc"] == ["body", "email"]
    extra = await client.post(
        f"{AUTH}/register",
        json={"email": unique_email(), "password": DEFAULT_PASSWORD, "is_superuser": True},
    )
    assert extra.status_code == 422
    assert extra.json()["detail"][0]["loc"] == ["body", "is_superuser"]


async def test_login_returns_a_token_pair_with_the_documented_claims(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    email = unique_email()
    await client.post(f"{AUTH}/register", json={"email": email, "password": DEFAULT_PASSWORD})
    response = await login(client, email.upper(), DEFAULT_PASSWORD)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_expire_minutes * 60
    assert body["refresh_token"]
    assert "." not in body["refresh_token"]  # opaque, not a JWT
    claims = jwt.decode(
        body["access_token"],
        settings.jwt_secret.get_secret_value(),
        algorithms=["HS256"],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    assert {"sub", "exp", "iat", "jti", "typ", "iss", "aud", "sid"} <= set(claims)
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == pytest.approx(
        settings.access_token_expire_minutes * 60, abs=1
    )
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"


async def test_wrong_password_unknown_email_and_inactive_user_get_one_answer(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await register_and_login(client)
    inactive = await register_and_login(client)
    await db_session.execute(update(User).where(User.id == inactive.id).values(is_active=False))
    await db_session.commit()

    answers = [
        await login(client, user.email, "wrong-password-123"),
        await login(client, unique_email("nobody"), DEFAULT_PASSWORD),
        await login(client, inactive.email, inactive.password),
    ]
    for response in answers:
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["code"] == "invalid_credentials"
    assert len({response.json()["detail"] for response in answers}) == 1

    reasons = (
        await db_session.scalars(
            select(AuditEvent.details)
            .where(AuditEvent.action == "auth.login", AuditEvent.outcome == "failure")
            .order_by(AuditEvent.id)
        )
    ).all()
    assert [reason["reason"] for reason in reasons] == ["bad_password", "unknown_email", "inactive"]


async def test_an_inactive_user_cannot_use_tokens_issued_before(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await register_and_login(client)
    await db_session.execute(update(User).where(User.id == user.id).values(is_active=False))
    await db_session.commit()

    me = await client.get(f"{AUTH}/me", headers=user.headers)
    assert me.status_code == 401
    assert me.headers["www-authenticate"] == "Bearer"
    refreshed = await client.post(f"{AUTH}/refresh", json={"refresh_token": user.refresh_token})
    assert refreshed.status_code == 401


async def test_login_form_is_what_swagger_authorize_sends(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    scheme = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/v1/auth/login"
    login_body = schema["paths"]["/api/v1/auth/login"]["post"]["requestBody"]
    assert "application/x-www-form-urlencoded" in login_body["content"]
    missing = await client.post(f"{AUTH}/login", data={"username": "a@example.com"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "password"]


async def test_swagger_authorize_covers_principal_and_user_routes(
    client: httpx.AsyncClient,
) -> None:
    # CurrentPrincipal's scheme is its own object: it must still be the one "Authorize" fills in.
    schema = (await client.get("/openapi.json")).json()
    assert list(schema["components"]["securitySchemes"]) == ["OAuth2PasswordBearer"]
    bearer = [{"OAuth2PasswordBearer": []}]
    assert schema["paths"]["/api/v1/todos"]["get"]["security"] == bearer  # CurrentPrincipal
    assert schema["paths"][f"{AUTH}/me"]["get"]["security"] == bearer  # CurrentUser


async def test_me_lists_roles_and_effective_permissions(
    client: httpx.AsyncClient, superuser: AuthedUser, db_session: AsyncSession
) -> None:
    plain = await register_and_login(client)
    mine = (await client.get(f"{AUTH}/me", headers=plain.headers)).json()
    assert mine["roles"] == ["user"]
    assert mine["permissions"] == []
    assert "hashed_password" not in mine

    root = await client.get(f"{AUTH}/me", headers=superuser.headers)
    assert root.status_code == 200
    assert root.json()["is_superuser"] is True


async def test_me_without_a_token_asks_for_one(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{AUTH}/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "not_authenticated"
    assert response.json()["request_id"]
