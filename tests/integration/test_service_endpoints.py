"""The deployment guide's service contract: info, liveness, readiness, docs and metrics."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from libkoiki import __version__

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


async def test_root_describes_the_service(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.json() == {
        "service": "KOIKI Framework API",
        "version": __version__,
        "docs": "/docs",
        "health": "/health",
    }


async def test_health_is_the_guide_contract(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"status", "service", "version", "timestamp"}
    assert body["status"] == "healthy"
    assert body["service"] == "koiki-framework"
    assert body["version"] == __version__ == "0.6.0"
    assert ISO_UTC.match(body["timestamp"])
    stamp = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - stamp) < timedelta(seconds=30)


async def test_health_answers_head_like_get(client: httpx.AsyncClient) -> None:
    get = await client.get("/health")
    head = await client.head("/health")
    assert get.status_code == head.status_code == 200
    assert head.content == b""
    assert int(get.headers["content-length"]) == len(get.content)
    for header in ("content-type", "content-length", "x-request-id", "x-content-type-options"):
        assert header in head.headers, header
    assert head.headers["content-type"] == get.headers["content-type"] == "application/json"


async def test_health_names_the_configured_service(make_client) -> None:
    async with make_client(service_name="orders-api") as client:
        body = (await client.get("/health")).json()
    assert body["service"] == "orders-api"
    assert body["status"] == "healthy"


async def test_ready_checks_every_dependency(client: httpx.AsyncClient, settings) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    expected_redis = "ok" if settings.redis_url else "disabled"
    assert response.json() == {
        "status": "ready",
        "checks": {
            "database": "ok",
            "redis": expected_redis,
            "migrations": "ok",
            "maintenance": "ok",
        },
    }


async def test_ready_names_an_unreachable_redis(make_client) -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    async with make_client(redis_url="redis://127.0.0.1:1/0", rate_limit_enabled=False) as client:
        response = await client.get("/health/ready")
        liveness = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")
    assert response.json()["checks"]["database"] == "ok"
    assert liveness.status_code == 200


async def test_docs_are_served_without_a_cdn(client: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
        assert assets, page
        for asset in assets:
            assert asset.startswith("/docs-assets/"), f"{page} loads {asset} from elsewhere"
            assert (await client.get(asset)).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert schema["info"]["version"] == __version__


async def test_docs_pages_answer_head_like_get(client: httpx.AsyncClient) -> None:
    pages = (
        "/docs",
        "/redoc",
        "/docs/oauth2-redirect",
        "/openapi.json",
        "/docs-assets/redoc.standalone.js",
        "/docs-assets/swagger-ui-bundle.js",
    )
    for page in pages:
        get = await client.get(page)
        head = await client.head(page)
        assert get.status_code == head.status_code == 200, page
        assert head.content == b"", page
        for header in ("content-type", "content-length", "content-security-policy"):
            assert head.headers[header] == get.headers[header], (page, header)


async def test_redoc_names_no_other_host(client: httpx.AsyncClient) -> None:
    # ReDoc's bundle as shipped loads its logo from cdn.redoc.ly, which the docs CSP blocks.
    bundle = (await client.get("/docs-assets/redoc.standalone.js")).content
    assert b"cdn.redoc.ly" not in bundle
    assert b'src:"data:image/svg+xml,' in bundle
    assert b"redocly logo" in bundle  # still the bundle ReDoc ships, only the image swapped


async def test_every_operation_has_one_lowercase_tag(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operations = [
        (method, path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]
    for method, path, operation in operations:
        tags = operation.get("tags", [])
        assert len(tags) == 1, (method, path, tags)
        assert re.fullmatch(r"[a-z]+", tags[0]), (method, path, tags)
    root = [operation for method, path, operation in operations if path == "/"]
    assert [operation["tags"] for operation in root] == [["health"]]
    used = {operation["tags"][0] for _, _, operation in operations}
    assert {"health", "auth", "users", "roles", "audit", "todos"} <= used


async def test_docs_are_off_in_production_unless_enabled(make_client) -> None:
    async with make_client(app_env="production", cors_origins="https://app.example.com") as client:
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 404
        assert (await client.get("/")).json()["docs"] is None
    async with make_client(
        app_env="production", cors_origins="https://app.example.com", docs_enabled=True
    ) as client:
        assert (await client.get("/docs")).status_code == 200


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/")
    await client.get("/no/such/page")
    text = (await client.get("/metrics")).text
    assert re.search(r'http_requests_total\{handler="/",method="GET",status="2xx"\} 1\.0', text)
    assert re.search(r'http_requests_total\{handler="none",method="GET",status="4xx"\} 1\.0', text)
    assert 'http_request_duration_seconds_bucket{handler="/",le="0.1",method="GET"}' in text
    assert "/no/such/page" not in text  # untemplated paths would explode label cardinality
