"""`/metrics` on the app port: open by default; METRICS_ALLOW_IPS keeps it to the listed networks
(the connection's peer, never X-Forwarded-For); METRICS_BEARER_TOKEN to a scraper with the token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import ValidationError

from libkoiki.config import Settings

TOKEN = "scrape-token-0123456789abcdefghij"  # a test's own


@pytest.fixture
def client_from(make_app: Callable[..., FastAPI]):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def factory(peer: str, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = make_app(rate_limit_enabled=False, **settings)
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with (
            LifespanManager(app),
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        ):
            yield client

    return factory


async def test_open_without_settings(client_from) -> None:  # type: ignore[no-untyped-def]
    async with client_from("203.0.113.9") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert "http_requests_total" in response.text or "koiki_build_info" in response.text


async def test_allow_ips_checks_the_peer_not_forwarded_for(client_from) -> None:  # type: ignore[no-untyped-def]
    allow = {"metrics_allow_ips": "10.0.5.0/24,::1/128"}
    async with client_from("10.0.5.7", **allow) as client:
        listed = await client.get("/metrics")
    async with client_from("203.0.113.9", **allow) as client:
        # A client claiming a listed address through the header gains nothing.
        spoofed = await client.get("/metrics", headers={"X-Forwarded-For": "10.0.5.7"})
        api = await client.get("/")
    assert listed.status_code == 200
    assert "koiki_build_info" in listed.text
    assert spoofed.status_code == 403
    body = spoofed.json()
    assert body["code"] == "metrics_forbidden"
    assert body["request_id"] == spoofed.headers["x-request-id"]
    assert "koiki_" not in spoofed.text
    assert api.status_code == 200  # only /metrics is guarded


async def test_a_trusted_proxys_forwarded_address_does_not_count(client_from) -> None:  # type: ignore[no-untyped-def]
    # 127.0.0.1 is a TRUSTED_PROXY: the app believes its X-Forwarded-For for rate limits and
    # logs, but the scrape check looks at the connection, which is the proxy's.
    async with client_from("127.0.0.1", metrics_allow_ips="10.0.5.0/24") as client:
        forwarded = await client.get("/metrics", headers={"X-Forwarded-For": "10.0.5.7"})
    assert forwarded.status_code == 403
    assert forwarded.json()["code"] == "metrics_forbidden"


async def test_bearer_token(client_from) -> None:  # type: ignore[no-untyped-def]
    async with client_from("203.0.113.9", metrics_bearer_token=TOKEN) as client:
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
        right = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["code"] == "metrics_unauthorized"
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert "koiki_build_info" in right.text


async def test_either_listed_peer_or_token(client_from) -> None:  # type: ignore[no-untyped-def]
    both = {"metrics_allow_ips": "10.0.5.0/24", "metrics_bearer_token": TOKEN}
    async with client_from("10.0.5.7", **both) as client:
        assert (await client.get("/metrics")).status_code == 200
    async with client_from("203.0.113.9", **both) as client:
        assert (await client.get("/metrics")).status_code == 401
        authorized = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert authorized.status_code == 200


def test_settings_refuse_bad_networks_and_short_tokens() -> None:
    with pytest.raises(ValidationError, match="METRICS_ALLOW_IPS"):
        Settings(_env_file=None, metrics_allow_ips="10.0.0.0/33")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="METRICS_BEARER_TOKEN"):
        Settings(_env_file=None, metrics_bearer_token="short")  # type: ignore[call-arg]
    assert Settings(_env_file=None, metrics_bearer_token="").metrics_bearer_token is None  # type: ignore[call-arg]
