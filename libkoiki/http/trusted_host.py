"""Refuse requests whose `Host` is not one of `TRUSTED_HOSTS` (Host-header poisoning of links).

Probes are exempt: a container health check calls `http://127.0.0.1:8000/health`, and refusing it
would get a healthy replica restarted.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from libkoiki.errors import error_response


def _host_of(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"host":
            host: str = value.decode("latin-1").strip().lower()
            if host.startswith("["):  # [::1]:8000
                return host[: host.find("]") + 1]
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return ""


class TrustedHostMiddleware:
    def __init__(
        self, app: ASGIApp, *, allowed_hosts: Iterable[str], exempt_paths: frozenset[str]
    ) -> None:
        self.app = app
        exact: set[str] = set()
        suffixes: list[str] = []
        for pattern in (host.strip().lower() for host in allowed_hosts):
            if pattern.startswith("*."):
                suffixes.append(pattern[1:])  # "*.example.com" -> ".example.com"
            elif pattern:
                exact.add(pattern)
        self.exact = frozenset(exact)
        self.suffixes = tuple(suffixes)
        self.exempt_paths = exempt_paths

    def allowed(self, host: str) -> bool:
        return host in self.exact or (bool(host) and host.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] in self.exempt_paths
            or self.allowed(_host_of(scope))
        ):
            await self.app(scope, receive, send)
            return
        response = error_response(Request(scope), 400, "Invalid host header", "invalid_host")
        await response(scope, receive, send)
