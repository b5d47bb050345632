"""Every check of the ID token, with tokens a certified provider would never send.

The forging provider serves discovery, its JWKS and a token endpoint over real HTTP; the test
decides which ID token the token endpoint answers. Each bad token is refused with
`sso_invalid_id_token` and a reason, leaves an audit event, and creates no account.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import User
from tests.integration.sso.conftest import audit_events, finish, start
from tests.support.oidc import CLIENT_ID, CLIENT_SECRET, ForgingOP

Forge = Callable[[ForgingOP, dict[str, Any]], str]
STRANGER_KEY = RSAKey.generate_key(2048, parameters={"kid": "stranger"})


def _sign(op: ForgingOP, claims: dict[str, Any]) -> str:
    return op.sign(claims)


def _hs256_with_client_secret(op: ForgingOP, claims: dict[str, Any]) -> str:
    secret = OctKey.import_key(CLIENT_SECRET.encode())
    return jwt.encode({"alg": "HS256", "kid": op.key.kid}, claims, secret)


def _alg_none(op: ForgingOP, claims: dict[str, Any]) -> str:
    return op.unsigned(claims, {"alg": "none", "kid": op.key.kid})


def _unknown_key(op: ForgingOP, claims: dict[str, Any]) -> str:
    return op.sign(claims, STRANGER_KEY)


def _bad_signature(op: ForgingOP, claims: dict[str, Any]) -> str:
    # Our provider's kid, a stranger's signature.
    return jwt.encode({"alg": "RS256", "kid": op.key.kid}, claims, STRANGER_KEY)


HOUR = 3600
CASES: list[tuple[str, dict[str, Any], Forge, str]] = [
    ("wrong nonce", {"nonce": "not-the-nonce-we-sent"}, _sign, "wrong nonce"),
    ("no nonce", {"nonce": None}, _sign, "missing nonce"),
    ("another audience", {"aud": "someone-else"}, _sign, "wrong aud"),
    ("several audiences, no azp", {"aud": [CLIENT_ID, "other"]}, _sign, "wrong azp"),
    ("azp of another client", {"azp": "other"}, _sign, "wrong azp"),
    ("another issuer", {"iss": "https://evil.example"}, _sign, "wrong iss"),
    (
        "expired",
        {"exp": int(time.time()) - HOUR, "iat": int(time.time()) - 2 * HOUR},
        _sign,
        "expired",
    ),
    ("issued in the future", {"iat": int(time.time()) + HOUR}, _sign, "wrong iat"),
    ("unknown signing key", {}, _unknown_key, "unknown signing key"),
    ("bad signature", {}, _bad_signature, "bad signature"),
    ("alg none", {}, _alg_none, "algorithm 'none' not allowed"),
    (
        "HS256 with the client secret",
        {},
        _hs256_with_client_secret,
        "algorithm 'HS256' not allowed",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "forge", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_a_bad_id_token_is_refused_audited_and_creates_no_account(
    sso_client: httpx.AsyncClient,
    forging_op: ForgingOP,
    db_session: AsyncSession,
    overrides: dict[str, Any],
    forge: Forge,
    reason: str,
) -> None:
    started = await start(sso_client, provider="forge")
    claims = forging_op.claims(started.params["nonce"], **overrides)
    forging_op.next_id_token = forge(forging_op, claims)
    response = await finish(
        sso_client, {"state": started.params["state"], "code": "c"}, started.verifier
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "sso_invalid_id_token"
    assert reason in body["detail"]
    assert body["request_id"]
    db_session.expire_all()
    assert await db_session.scalar(select(User).where(User.email == claims["email"])) is None
    event = (await audit_events(db_session, "sso.login"))[-1]
    assert event.outcome == "failure"
    assert event.details == {"provider": "forge", "reason": reason}


async def test_a_well_formed_token_from_the_forging_provider_signs_in(
    sso_client: httpx.AsyncClient, forging_op: ForgingOP
) -> None:
    """The control: the same provider, an honest token, and the sign-in works."""
    started = await start(sso_client, provider="forge")
    claims = forging_op.claims(started.params["nonce"], aud=[CLIENT_ID, "other"], azp=CLIENT_ID)
    forging_op.next_id_token = forging_op.sign(claims)
    response = await finish(
        sso_client, {"state": started.params["state"], "code": "c"}, started.verifier
    )
    assert response.status_code == 200, response.text
    assert response.json()["tokens"]["token_type"] == "bearer"
