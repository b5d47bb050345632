"""Swagger UI and ReDoc served with assets from the application itself (no CDN).

Corporate networks behind proxies and offline machines must still render the documentation, and
the pages make no request to any other host: ReDoc's bundle names a logo on Redocly's CDN, which
is swapped for an inline image when the bundle is served. Every page answers HEAD like GET.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

DOCS_ASSETS_URL = "/docs-assets"
_ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
_PAGE_METHODS = ["GET", "HEAD"]
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
# The "API docs by Redocly" mark's place, as an inline image (the docs CSP allows data: images).
REDOC_LOCAL_LOGO = (
    b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
    b"%3Ccircle cx='8' cy='8' r='7' fill='%23dc3545'/%3E%3C/svg%3E"
)


@cache
def redoc_bundle() -> bytes:
    """ReDoc's bundle with the CDN logo replaced (read once, on first use)."""
    return (
        (_ASSETS_DIR / "redoc.standalone.js").read_bytes().replace(REDOC_CDN_LOGO, REDOC_LOCAL_LOGO)
    )


def install_docs(app: FastAPI) -> None:
    # Ahead of the static mount, which would otherwise serve the bundle as shipped.
    @app.api_route(
        f"{DOCS_ASSETS_URL}/redoc.standalone.js", methods=_PAGE_METHODS, include_in_schema=False
    )
    async def redoc_js() -> Response:
        return Response(
            redoc_bundle(),
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=_ASSETS_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = "/docs/oauth2-redirect"

    @app.api_route("/docs", methods=_PAGE_METHODS, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}",
            swagger_js_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.api_route(oauth2_redirect_url, methods=_PAGE_METHODS, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.api_route("/redoc", methods=_PAGE_METHODS, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
