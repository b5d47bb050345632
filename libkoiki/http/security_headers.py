"""Security headers on every response, errors included.

API responses get a Content-Security-Policy that allows nothing: they are JSON, never a page, so
any HTML an attacker manages to get rendered from this origin can run nothing. The documentation
pages need their self-hosted assets under `/docs-assets/` plus the small inline script that starts
Swagger UI; that script is allowed by its SHA-256 hash, computed from the page actually sent, so the
policy needs no 'unsafe-inline' for scripts and stays right when FastAPI changes its template.

`Cache-Control: no-store` goes on every answer under /api/v1/auth/ and on every answer to a
request that carries `Authorization` (the API's only credential; the BFF turns its cookie into
it): a user's data must not stay in a browser's or a shared proxy's cache. A route that chose
`private` caching itself keeps its choice. The cost is one scan of the request's header names.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI and ReDoc render with inline styles (ReDoc injects <style> elements at run time) and
# ReDoc runs its search index in a blob: worker.
DOCS_CSP_TEMPLATE = (
    "default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
AUTH_PREFIX = "/api/v1/auth/"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.S | re.I)


def inline_script_hashes(html: bytes) -> list[str]:
    """CSP hash sources for every inline <script> of a page."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def docs_csp(html: bytes) -> str:
    hashes = "".join(f" {source}" for source in dict.fromkeys(inline_script_hashes(html)))
    return DOCS_CSP_TEMPLATE.format(hashes=hashes)


def _raw(name: str, value: str) -> tuple[bytes, bytes]:
    return name.lower().encode("latin-1"), value.encode("latin-1")


_API_CSP = _raw("Content-Security-Policy", API_CSP)


def _carries_credentials(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    # ASGI servers give header names in lower case. A plain loop: cheaper than any() over a
    # generator, and this runs on every request.
    for name, _ in headers:  # noqa: SIM110
        if name == b"authorization":
            return True
    return False


def _private(headers: list[tuple[bytes, bytes]]) -> bool:
    """The route chose caching for this user only (`private, no-cache` with a validator)."""
    return any(
        name.lower() == b"cache-control" and (b"private" in value or b"no-store" in value)
        for name, value in headers
    )


class SecurityHeadersMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts_max_age: int | None = None,
        docs_paths: Iterable[str] = DOCS_PATHS,
        no_store_prefix: str = AUTH_PREFIX,
    ) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)
        self.no_store_prefix = no_store_prefix
        headers = [
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
            ("Permissions-Policy", PERMISSIONS_POLICY),
        ]
        if hsts_max_age is not None:
            headers.append(
                ("Strict-Transport-Security", f"max-age={hsts_max_age}; includeSubDomains")
            )
        # Encoded once: every response gets those it did not set itself.
        self.common = tuple(_raw(name, value) for name, value in headers)

    def _apply(
        self, message: Message, path: str, csp: tuple[bytes, bytes], *, authenticated: bool
    ) -> None:
        headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
        present = {name.lower() for name, _ in headers}
        headers += [header for header in self.common if header[0] not in present]
        if b"content-security-policy" not in present:
            headers.append(csp)
        if path.startswith(self.no_store_prefix) or (authenticated and not _private(headers)):
            # Tokens and account data must not sit in a browser or proxy cache.
            headers = [header for header in headers if header[0].lower() != b"cache-control"]
            headers.append((b"cache-control", b"no-store"))
            if b"pragma" not in present:
                headers.append((b"pragma", b"no-cache"))
        message["headers"] = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]

        authenticated = _carries_credentials(scope["headers"])

        if path not in self.docs_paths:

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    self._apply(message, path, _API_CSP, authenticated=authenticated)
                await send(message)

            await self.app(scope, receive, send_with_headers)
            return

        # A documentation page: hold it back until the whole (small) page is known, to hash it.
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            csp = _raw("Content-Security-Policy", docs_csp(body))
            self._apply(start, path, csp, authenticated=authenticated)
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, send_buffered)
