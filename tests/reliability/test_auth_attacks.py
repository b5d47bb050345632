"""Attacks on authentication, each tried against the real API and refused.

- Forged tokens: `alg: none`, another key, another algorithm, key confusion (HMAC keyed with a
  public key, RS/ES/PS headers), expired, another issuer, audience or `typ`, missing claims, a
  session that does not exist, a tampered payload: 401 with `WWW-Authenticate: Bearer`.
- A rotated refresh token presented again ends the whole session (family).
- IDOR: every route that takes an id, found in the app's routes, refuses another user's object
  (404 for your own kind of object, 403 for an administrator's) and leaves it unchanged.
- Privilege escalation through the profile: access fields cannot be self-assigned.
- Login timing: an unknown email costs the same work as a known email with a wrong password.
"""

from __future__ import annotations

import base64
import functools
import hmac
import json
import re
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import create_app
from libkoiki.audit.models import AuditEvent
from libkoiki.config import Settings
from tests.conftest import ClientFactory
from tests.fixtures.auth import (
    AUTH,
    AuthedUser,
    login,
    login_as,
    make_superuser,
    register_and_login,
    unique_email,
)
from tests.support.oidc import ForgingOP, query_of


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


async def test_a_tampered_payload_is_refused(
    client: httpx.AsyncClient, settings: Settings, user: AuthedUser
) -> None:
    # Someone else's id or a made-up claim in the payload, the original signature kept.
    header, _, signature = user.access_token.split(".")
    victim = await register_and_login(client)
    for change in (
        {"sub": str(victim.id)},
        {"is_superuser": True},
        {"exp": int(time.time()) + 86400},
    ):
        claims = {**jwt.decode(user.access_token, options={"verify_signature": False}), **change}
        _assert_refused(await _me(client, f"{header}.{_b64(claims)}.{signature}"))
    assert (await _me(client, user.access_token)).status_code == 200


# --- refresh-token reuse ----------------------------------------------------------------------


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"{AUTH}/refresh", json={"refresh_token": token})


async def test_reusing_a_rotated_refresh_token_ends_the_whole_family(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    victim = await register_and_login(client)
    other_device = await login_as(client, victim)
    stolen = victim.refresh_token

    rotated = (await _refresh(client, victim.refresh_token)).json()
    # The thief (or the victim, whichever comes second) presents the old token again.
    reuse = await _refresh(client, stolen)
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "token_revoked"
    assert reuse.headers["www-authenticate"] == "Bearer"

    # Everything issued in that session is dead: the newest refresh token and access tokens.
    assert (await _refresh(client, rotated["refresh_token"])).status_code == 401
    for token in (victim.access_token, rotated["access_token"]):
        assert (await _me(client, token)).status_code == 401
    # The user's other session is untouched.
    assert (await _me(client, other_device.access_token)).status_code == 200
    assert (await _refresh(client, other_device.refresh_token)).status_code == 200

    events = (
        await db_session.scalars(
            select(AuditEvent).where(AuditEvent.action == "auth.refresh_reuse")
        )
    ).all()
    assert len(events) == 1
    assert events[0].actor_id == victim.id
    assert events[0].outcome == "failure"


# --- IDOR over every route that takes an id ----------------------------------------------------

# Routes any signed-in user may call on objects of their own; every other route taking an id is
# an administrator's and needs a permission.
SELF_SERVICE_PREFIXES = ("/api/v1/auth/", "/api/v1/todos")
Maker = Callable[[httpx.AsyncClient, AuthedUser], Awaitable[str]]


async def _own_session(client: httpx.AsyncClient, owner: AuthedUser) -> str:
    sessions = (await client.get(f"{AUTH}/sessions", headers=owner.headers)).json()
    return str(sessions[0]["id"])


async def _own_todo(client: httpx.AsyncClient, owner: AuthedUser) -> str:
    response = await client.post("/api/v1/todos", headers=owner.headers, json={"title": "Plans"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _a_user(client: httpx.AsyncClient, admin: AuthedUser) -> str:
    return str(admin.id)


async def _a_role(client: httpx.AsyncClient, admin: AuthedUser) -> str:
    response = await client.post(
        "/api/v1/roles", headers=admin.headers, json={"name": f"r-{uuid.uuid4().hex[:8]}"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _own_identity(op: ForgingOP, client: httpx.AsyncClient, owner: AuthedUser) -> str:
    """The owner links an identity-provider account (the forging provider on loopback)."""
    link = await client.post(f"{AUTH}/sso/forge/link", headers=owner.headers, json={})
    assert link.status_code == 200, link.text
    params = query_of(link.json()["authorization_url"])
    op.next_id_token = op.sign(op.claims(params["nonce"]))
    linked = await client.post(f"{AUTH}/sso/callback", json={"state": params["state"], "code": "c"})
    assert linked.status_code == 200, linked.text
    identities = (await client.get(f"{AUTH}/sso/identities", headers=owner.headers)).json()
    return str(identities[-1]["id"])


# path parameter -> how its owner (a user, or the administrator) makes one
OWNED: dict[str, Maker] = {"session_id": _own_session, "todo_id": _own_todo}
# Path parameters that name configuration, not anybody's object: identity providers.
NOT_OBJECTS = {"name"}
ADMINISTERED: dict[str, Maker] = {"user_id": _a_user, "role_id": _a_role}
# What an attacker would send to change the object, by method and id parameter.
HOSTILE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "todo_id"): {"title": "Stolen"},
    ("PATCH", "todo_id"): {"title": "Stolen"},
    ("PATCH", "user_id"): {"is_superuser": True, "roles": ["admin"]},
    ("PATCH", "role_id"): {"name": "stolen"},
    ("PUT", "role_id"): {"permissions": ["users:write"]},
}
READ_BACK = {
    "session_id": f"{AUTH}/sessions",
    "todo_id": "/api/v1/todos/{id}",
    "user_id": "/api/v1/users/{id}",
    "role_id": "/api/v1/roles/{id}",
    "identity_id": f"{AUTH}/sso/identities",
}


def _id_routes(settings: Settings) -> list[tuple[str, str, str]]:
    """(method, path, id parameter) of every API route taking an id, from the app's routes."""
    paths = create_app(settings).openapi()["paths"]
    return [
        (method.upper(), path, re.findall(r"\{([^}]+)\}", path)[-1])
        for path, operations in paths.items()
        if path.startswith("/api/")
        and "{" in path
        and re.findall(r"\{([^}]+)\}", path)[-1] not in NOT_OBJECTS
        for method in operations
    ]


async def test_no_route_taking_an_id_lets_a_user_reach_someone_elses_object(
    make_client: ClientFactory,
    settings: Settings,
    db_session: AsyncSession,
    forging_op: ForgingOP,
) -> None:
    routes = _id_routes(settings)
    assert len(routes) >= 10, f"the enumeration found only {routes}"
    owned = {**OWNED, "identity_id": functools.partial(_own_identity, forging_op)}
    unknown = {name for _, _, name in routes} - set(owned) - set(ADMINISTERED)
    assert unknown == set(), f"say in OWNED or ADMINISTERED how to make a {unknown}"

    async with make_client(oidc_providers=[forging_op.provider_entry()]) as client:
        await _no_idor(client, routes, owned, db_session)


async def _no_idor(
    client: httpx.AsyncClient,
    routes: list[tuple[str, str, str]],
    owned: dict[str, Maker],
    db_session: AsyncSession,
) -> None:
    admin = await make_superuser(client, db_session)
    intruder = await register_and_login(client)
    for method, path, name in routes:
        self_service = path.startswith(SELF_SERVICE_PREFIXES)
        make = owned[name] if self_service else ADMINISTERED[name]
        object_id = await make(client, admin)
        before = await client.get(READ_BACK[name].replace("{id}", object_id), headers=admin.headers)
        response = await client.request(
            method,
            path.replace("{" + name + "}", object_id),
            headers=intruder.headers,
            json=HOSTILE_BODIES.get((method, name)),
        )
        expected = (404, "not_found") if self_service else (403, "permission_denied")
        assert (response.status_code, response.json()["code"]) == expected, (method, path)
        after = await client.get(READ_BACK[name].replace("{id}", object_id), headers=admin.headers)
        assert after.status_code == 200, (method, path)
        assert after.json() == before.json(), (method, path)


# --- privilege escalation through the profile --------------------------------------------------


async def test_access_fields_and_password_cannot_be_self_assigned(
    client: httpx.AsyncClient, user: AuthedUser
) -> None:
    for field, value in [
        ("is_superuser", True),
        ("is_active", False),
        ("roles", ["admin"]),
        ("password", "Brand-New-Pass-77"),
        ("email", "other@example.com"),
    ]:
        response = await client.patch("/api/v1/users/me", headers=user.headers, json={field: value})
        assert response.status_code == 422, (field, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", field]
    me = (await client.get("/api/v1/auth/me", headers=user.headers)).json()
    assert me["is_superuser"] is False
    assert me["is_active"] is True
    assert me["roles"] == ["user"]
    assert me["email"] == user.email
    assert (await client.get("/api/v1/users", headers=user.headers)).status_code == 403


# --- login timing ----------------------------------------------------------------------------

LOGIN_ROUNDS = 20
# Both answers run one argon2 hash (~20 ms here), so their medians are about equal; a login
# that skipped the hash for unknown emails would answer those in the 1-3 ms of its queries,
# five to twenty times faster. 2x sits far from both, so a busy CI machine cannot flip it.
TIMING_FACTOR = 2.0


async def test_an_unknown_email_costs_as_much_as_a_wrong_password(
    make_client: ClientFactory,
) -> None:
    settings = {
        "rate_limit_enabled": False,
        "login_max_failures_per_account": 10 * LOGIN_ROUNDS,
        "login_max_failures_per_ip": 10 * LOGIN_ROUNDS,
    }
    async with make_client(**settings) as client:
        known = await register_and_login(client)
        times: dict[str, list[float]] = {"known email": [], "unknown email": []}
        for _ in range(LOGIN_ROUNDS):  # interleaved, so a slow moment hits both alike
            for kind, email in (("known email", known.email), ("unknown email", unique_email())):
                started = time.perf_counter()
                response = await login(client, email, "wrong-password-123")
                times[kind].append(time.perf_counter() - started)
                assert response.status_code == 401, response.text
    medians = {kind: statistics.median(samples) for kind, samples in times.items()}
    ratio = max(medians.values()) / min(medians.values())
    shown = {kind: round(median * 1000, 1) for kind, median in medians.items()}
    print(f"login medians (ms): {shown}, ratio {ratio:.2f}")
    assert ratio < TIMING_FACTOR, medians
