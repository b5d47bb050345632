"""Forged, expired and misused tokens are refused with 401 and `WWW-Authenticate: Bearer`."""

from __future__ import annotations

import base64
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from libkoiki.config import Settings
from tests.fixtures.auth import AUTH, AuthedUser, register_and_login


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64(data: dict[str, Any]) -> str:
    return _b64url(json.dumps(data, separators=(",", ":")).encode())


def _claims(settings: Settings, user: AuthedUser, **overrides: Any) -> dict[str, Any]:
    real = jwt.decode(user.access_token, options={"verify_signature": False})
    now = int(time.time())
    claims = {
        "sub": str(user.id),
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sid": real["sid"],
    }
    claims.update(overrides)
    return claims


def _sign(settings: Settings, claims: dict[str, Any], algorithm: str = "HS256") -> str:
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=algorithm)


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(f"{AUTH}/me", headers={"Authorization": f"Bearer {token}"})


def _assert_refused(response: httpx.Response, code: str = "invalid_token") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == code


@pytest.fixture
async def user(client: httpx.AsyncClient) -> AuthedUser:
    return await register_and_login(client)


async def test_a_correctly_made_token_is_accepted(
    client: httpx.AsyncClient, settings: Settings, user: AuthedUser
) -> None:
    # The control case: the forgeries below differ from this token in one respect only.
    response = await _me(client, _sign(settings, _claims(settings, user)))
    assert response.status_code == 200
    assert response.json()["id"] == user.id


async def test_alg_none_is_refused(
    client: httpx.AsyncClient, settings: Settings, user: AuthedUser
) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(settings, user))}."
    _assert_refused(await _me(client, token))


async def test_a_token_signed_with_another_key_is_refused(
    client: httpx.AsyncClient, settings: Settings, user: AuthedUser
) -> None:
    forged = jwt.encode(
        _claims(settings, user), "another-secret-0123456789abcdef01234567", algorithm="HS256"
    )
    _assert_refused(await _me(client, forged))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_other_algorithms_are_refused_even_with_the_right_key(
    client: httpx.AsyncClient, settings: Settings, user: AuthedUser
) -> None:
    _assert_refused(await _me(client, _sign(settings, _claims(settings, user), "HS512")))


async def test_asymmetric_headers_and_key_confusion_are_refused(
    client: httpx.AsyncClient, settings: Settings, user: AuthedUser
) -> None:
    # The classic confusion: a token "signed" with HMAC using the server's *public* key as the
    # secret, or an RS256/ES256 header. The server never lets the header pick the algorithm,
    # and only ever verifies with its own secret.
    payload = _b64(_claims(settings, user))
    fake_public_pem = b"\n".join(
        [
            b"-----BEGIN PUBLIC KEY-----",
            b"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
            b"-----END PUBLIC KEY-----",
        ]
    )
    for alg in ("RS256", "ES256", "PS256"):
        header = _b64({"alg": alg, "typ": "JWT"})
        signature = _b64url(
            hmac.new(fake_public_pem, f"{header}.{payload}".encode(), "sha256").digest()
        )
        _assert_refused(await _me(client, f"{header}.{payload}.{signature}"))
    header = _b64({"alg": "HS256", "typ": "JWT"})
    signature = _b64url(
        hmac.new(fake_public_pem, f"{header}.{payload}".encode(), "sha256").digest()
    )
    _assert_refused(await _me(client, f"{header}.{payload}.{signature}"))


async def test_an_expired_token_is_refused(
    client: httpx.AsyncClient, settings: Settings, user: AuthedUser
) -> None:
    past = int(time.time()) - 120
    expired = _sign(settings, _claims(settings, user, iat=past - 1800, exp=past))
    _assert_refused(await _me(client, expired))


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "someone-else"},
        {"aud": "another-api"},
        {"typ": "refresh"},
        {"typ": "reset"},
        {"sub": "not-a-number"},
    ],
    ids=["issuer", "audience", "typ-refresh", "typ-reset", "subject"],
)
async def test_claims_other_than_ours_are_refused(
    client: httpx.AsyncClient, settings: Settings, user: AuthedUser, overrides: dict[str, Any]
) -> None:
    _assert_refused(await _me(client, _sign(settings, _claims(settings, user, **overrides))))


async def test_a_token_missing_a_required_claim_is_refused(
    client: httpx.AsyncClient, settings: Settings, user: AuthedUser
) -> None:
    for missing in ("exp", "jti", "sid", "typ"):
        claims = _claims(settings, user)
        del claims[missing]
        _assert_refused(await _me(client, _sign(settings, claims)))


async def test_a_token_for_a_session_that_does_not_exist_is_refused(
    client: httpx.AsyncClient, settings: Settings, user: AuthedUser
) -> None:
    token = _sign(settings, _claims(settings, user, sid=str(uuid.uuid4())))
    _assert_refused(await _me(client, token), "token_revoked")


async def test_a_refresh_token_is_not_an_access_token_and_vice_versa(
    client: httpx.AsyncClient, user: AuthedUser
) -> None:
    _assert_refused(await _me(client, user.refresh_token))
    as_refresh = await client.post(f"{AUTH}/refresh", json={"refresh_token": user.access_token})
    _assert_refused(as_refresh)
    # The access token still works: the failed exchange did not touch the session.
    assert (await _me(client, user.access_token)).status_code == 200


async def test_garbage_and_wrong_schemes_are_refused(
    client: httpx.AsyncClient, user: AuthedUser
) -> None:
    _assert_refused(await _me(client, "not-a-token"))
    _assert_refused(await _me(client, "a.b.c"))
    basic = await client.get(f"{AUTH}/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    _assert_refused(basic, "not_authenticated")
