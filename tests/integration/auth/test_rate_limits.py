"""Per-route request limits of the auth endpoints (the edge's limiter, keyed per IP or email)."""

from __future__ import annotations

import httpx

from tests.conftest import ClientFactory
from tests.fixtures.auth import AUTH, DEFAULT_PASSWORD, login, unique_email


def _from(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def test_login_allows_ten_a_minute_per_ip(client: httpx.AsyncClient) -> None:
    for _ in range(10):
        # A new account name each time, so the per-account lockout (5) stays out of the way.
        response = await login(
            client, unique_email(), "wrong-password-1", headers=_from("198.51.100.7")
        )
        assert response.status_code == 401
    email = unique_email()
    limited = await login(client, email, "wrong-password-1", headers=_from("198.51.100.7"))
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) > 0
    assert limited.headers["x-ratelimit-limit"] == "10"
    other_ip = await login(client, email, "wrong-password-1", headers=_from("198.51.100.8"))
    assert other_ip.status_code == 401


async def test_register_allows_five_a_minute_per_ip(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        response = await client.post(
            f"{AUTH}/register",
            json={"email": unique_email(), "password": DEFAULT_PASSWORD},
            headers=_from("198.51.100.9"),
        )
        assert response.status_code == 201
    limited = await client.post(
        f"{AUTH}/register",
        json={"email": unique_email(), "password": DEFAULT_PASSWORD},
        headers=_from("198.51.100.9"),
    )
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"


async def test_reset_requests_are_limited_per_email_across_addresses(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email("target")
    for index in range(3):
        response = await client.post(
            f"{AUTH}/password-reset/request",
            json={"email": email},
            headers=_from(f"192.0.2.{index + 1}"),
        )
        assert response.status_code == 202
    limited = await client.post(
        f"{AUTH}/password-reset/request",
        json={"email": email.upper()},
        headers=_from("192.0.2.99"),
    )
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    # Another address is unaffected by that email's budget.
    fine = await client.post(
        f"{AUTH}/password-reset/request",
        json={"email": unique_email()},
        headers=_from("192.0.2.100"),
    )
    assert fine.status_code == 202


async def test_reset_requests_are_limited_per_ip(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        response = await client.post(
            f"{AUTH}/password-reset/request",
            json={"email": unique_email()},
            headers=_from("192.0.2.200"),
        )
        assert response.status_code == 202
    limited = await client.post(
        f"{AUTH}/password-reset/request",
        json={"email": unique_email()},
        headers=_from("192.0.2.200"),
    )
    assert limited.status_code == 429


async def test_limits_can_be_switched_off(make_client: ClientFactory) -> None:
    async with make_client(rate_limit_enabled=False) as client:
        for _ in range(12):
            response = await login(client, unique_email(), "wrong-password-1")
            assert response.status_code == 401
