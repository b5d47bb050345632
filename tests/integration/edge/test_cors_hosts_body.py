"""CORS, trusted hosts and the request body limit, through the whole middleware stack."""

from __future__ import annotations

from collections.abc import AsyncIterator

from tests.integration.edge.conftest import EdgeClientFactory

APP_ORIGIN = "https://app.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}
MIB = 1024 * 1024


async def test_preflight_allowed_for_a_listed_origin(edge_client: EdgeClientFactory) -> None:
    async with edge_client(cors_origins=f"{APP_ORIGIN}, https://admin.example.com") as client:
        response = await client.options(
            "/api/v1/edge/items", headers={"Origin": APP_ORIGIN, **PREFLIGHT}
        )
        actual = await client.get("/api/v1/edge/ping", headers={"Origin": APP_ORIGIN})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert actual.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    exposed = actual.headers["Access-Control-Expose-Headers"]
    assert "X-Request-ID" in exposed
    assert "Retry-After" in exposed
    assert "Origin" in actual.headers["Vary"]


async def test_answers_without_an_origin_vary_on_it(edge_client: EdgeClientFactory) -> None:
    """A cache must not hand a same-origin answer (no CORS headers) to a cross-origin page."""
    async with edge_client(cors_origins=APP_ORIGIN) as client:
        plain = await client.get("/api/v1/edge/ping")
        varied = await client.get("/api/v1/edge/varies")
    assert plain.headers.get_list("Vary") == ["Origin"]
    assert not [name for name in plain.headers if name.lower().startswith("access-control")]
    assert varied.headers.get_list("Vary") == ["Accept-Language, Origin"]


async def test_preflight_refused_for_another_origin(edge_client: EdgeClientFactory) -> None:
    async with edge_client(cors_origins=f'["{APP_ORIGIN}"]') as client:  # JSON list form
        response = await client.options(
            "/api/v1/edge/items", headers={"Origin": "https://evil.example.net", **PREFLIGHT}
        )
        actual = await client.get(
            "/api/v1/edge/ping", headers={"Origin": "https://evil.example.net"}
        )
    assert response.status_code == 400
    assert response.json()["code"] == "cors_rejected"
    assert "origin" in response.json()["detail"]
    assert not [name for name in response.headers if name.lower().startswith("access-control")]
    assert "Access-Control-Allow-Origin" not in actual.headers


async def test_wildcard_origin_never_comes_with_credentials(
    edge_client: EdgeClientFactory,
) -> None:
    async with edge_client(cors_origins="*") as client:
        response = await client.options(
            "/api/v1/edge/items", headers={"Origin": "https://anyone.example", **PREFLIGHT}
        )
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers


async def test_rate_limited_answers_are_readable_by_the_web_app(
    edge_client: EdgeClientFactory,
) -> None:
    async with edge_client(cors_origins=APP_ORIGIN, rate_limit_default="1/minute") as client:
        await client.get("/api/v1/edge/ping", headers={"Origin": APP_ORIGIN})
        refused = await client.get("/api/v1/edge/ping", headers={"Origin": APP_ORIGIN})
        preflight = await client.options(
            "/api/v1/edge/items", headers={"Origin": APP_ORIGIN, **PREFLIGHT}
        )
    assert refused.status_code == 429
    assert refused.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert preflight.status_code == 200  # preflights do not use up the budget


async def test_unknown_hosts_are_refused_in_production(edge_client: EdgeClientFactory) -> None:
    settings = {
        "app_env": "production",
        "cors_origins": APP_ORIGIN,
        "trusted_hosts": "api.example.com, *.internal.example.com",
    }
    async with edge_client(**settings) as client:
        good = await client.get("/api/v1/edge/ping", headers={"Host": "api.example.com"})
        sub = await client.get("/api/v1/edge/ping", headers={"Host": "x.internal.example.com:8443"})
        bad = await client.get("/api/v1/edge/ping", headers={"Host": "evil.example.net"})
        # The container health check calls http://127.0.0.1:8000/health: never refused.
        probe = await client.get("/health", headers={"Host": "127.0.0.1:8000"})
    assert good.status_code == 200
    assert sub.status_code == 200
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_host"
    assert bad.json()["request_id"] == bad.headers["X-Request-ID"]
    assert bad.headers["X-Frame-Options"] == "DENY"
    assert probe.status_code == 200


async def test_a_declared_oversized_body_is_refused_unread(edge_client: EdgeClientFactory) -> None:
    async with edge_client() as client:
        at_limit = await client.post("/api/v1/edge/echo", content=b"a" * MIB)
        over = await client.post("/api/v1/edge/echo", content=b"a" * (MIB + 1))
    assert at_limit.json() == {"received": MIB}
    assert over.status_code == 413
    body = over.json()
    assert body["code"] == "payload_too_large"
    assert str(MIB) in body["detail"]
    assert body["request_id"] == over.headers["X-Request-ID"]


async def test_a_chunked_body_is_cut_off_at_the_limit(edge_client: EdgeClientFactory) -> None:
    produced = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal produced
        for _ in range(64):  # 4 MiB on offer, 64 KiB at a time
            produced += 1
            yield b"b" * 65536

    async with edge_client(max_request_body_bytes=256 * 1024) as client:
        response = await client.post("/api/v1/edge/echo", content=chunks())
        small = await client.post("/api/v1/edge/items", json={"name": "ok"})
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert produced <= 6, f"{produced} chunks were pulled for a 256 KiB limit"
    assert small.status_code == 200


async def test_the_limit_also_applies_to_parsed_json(edge_client: EdgeClientFactory) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(40):
            yield b"n" * 65536
        yield b'"}'

    async with edge_client(max_request_body_bytes=1024 * 1024) as client:
        response = await client.post(
            "/api/v1/edge/items", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
