"""Security headers on every kind of response, and a docs CSP that still lets the docs run."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx

from tests.integration.edge.conftest import EdgeClientFactory

BASELINE = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def assert_secured(response: httpx.Response) -> None:
    for name, value in BASELINE.items():
        assert response.headers.get(name) == value, (response.status_code, name)
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert response.headers["Content-Security-Policy"] == API_CSP
    assert response.headers["X-Request-ID"]


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


async def test_every_outcome_carries_the_headers(edge_client: EdgeClientFactory) -> None:
    async with edge_client(rate_limit_default="5/minute") as client:
        responses = {
            200: await client.get("/api/v1/edge/ping"),
            404: await client.get("/api/v1/edge/nowhere"),
            405: await client.delete("/api/v1/edge/ping"),
            422: await client.post("/api/v1/edge/items", json={"name": ""}),
            500: await client.get("/api/v1/edge/boom"),
            413: await client.post("/api/v1/edge/echo", content=b"x" * (1024 * 1024 + 1)),
        }
        for _ in range(3):
            await client.get("/api/v1/edge/ping")
        responses[429] = await client.get("/api/v1/edge/ping")
    for status, response in responses.items():
        assert response.status_code == status, response.text
        assert_secured(response)
        if status >= 400:
            assert response.json()["request_id"] == response.headers["X-Request-ID"]
    assert responses[500].json()["detail"] == "Internal server error"


async def test_hsts_only_when_enabled(edge_client: EdgeClientFactory) -> None:
    async with edge_client() as client:
        assert "Strict-Transport-Security" not in (await client.get("/health")).headers
    async with edge_client(hsts_enabled=True, hsts_max_age=600) as client:
        for path in ("/health", "/api/v1/edge/nowhere"):
            response = await client.get(path)
            assert response.headers["Strict-Transport-Security"] == "max-age=600; includeSubDomains"


async def test_production_sends_hsts_by_default(edge_client: EdgeClientFactory) -> None:
    async with edge_client(app_env="production", cors_origins="https://app.example.com") as client:
        response = await client.get("/health")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


async def test_auth_responses_are_never_cached(edge_client: EdgeClientFactory) -> None:
    async with edge_client() as client:
        for path in ("/api/v1/auth/edge-probe", "/api/v1/auth/no-such-thing"):
            response = await client.get(path)
            assert response.headers["Cache-Control"] == "no-store", path
            assert_secured(response)
        assert "Cache-Control" not in (await client.get("/api/v1/edge/ping")).headers


async def test_docs_csp_allows_the_self_hosted_assets_and_inline_init_only(
    edge_client: EdgeClientFactory,
) -> None:
    async with edge_client() as client:
        for page in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            response = await client.get(page)
            assert response.status_code == 200
            csp = csp_directives(response.headers["Content-Security-Policy"])
            html = response.text
            scripts = csp["script-src"]
            assert "'self'" in scripts
            assert "'unsafe-inline'" not in scripts
            assert "'unsafe-eval'" not in scripts
            # Every inline <script> on the page is allowed by its exact hash...
            inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, re.S)
            for body in inline:
                digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
                assert f"'sha256-{digest}'" in scripts, page
            assert len([s for s in scripts if s.startswith("'sha256-")]) == len(set(inline))
            # ...and every external asset is same-origin, under /docs-assets/.
            for asset in re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html):
                assert asset.startswith("/docs-assets/"), asset
            assert csp["frame-ancestors"] == ["'none'"]
            assert csp["connect-src"] == ["'self'"]  # "Try it out" calls this API only
            assert response.headers["X-Frame-Options"] == "DENY"
        assert "SwaggerUIBundle(" in (await client.get("/docs")).text
        asset = await client.get("/docs-assets/swagger-ui-bundle.js")
        assert asset.status_code == 200
        assert asset.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_changed_inline_script_is_not_allowed(edge_client: EdgeClientFactory) -> None:
    """The hash is of the page as served: an injected script would not match it."""
    async with edge_client() as client:
        response = await client.get("/docs")
    scripts = csp_directives(response.headers["Content-Security-Policy"])["script-src"]
    tampered = response.text.replace("SwaggerUIBundle({", "SwaggerUIBundle({evil: 1, ")
    body = re.search(r"<script>(.*?)</script>", tampered, re.S)
    assert body is not None
    digest = base64.b64encode(hashlib.sha256(body.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" not in scripts
