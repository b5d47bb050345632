"""Refuse a URL longer than `MAX_URL_BYTES` (414) or headers larger than `MAX_REQUEST_HEADER_BYTES`
(431), with the usual error body.

uvicorn's httptools parser takes headers of any size and refuses URLs over 64 KiB with a bare
text/plain 400. By the time a request gets here the server has read it, so this does not save
memory (nginx refuses such requests first in production); it keeps the app from working on
megabyte tokens, user agents or query strings, and tells the client why in the API's own words.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from libkoiki.errors import error_response


class HeaderLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_url_bytes: int, max_header_bytes: int) -> None:
        self.app = app
        self.max_url_bytes = max_url_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(
            scope.get("query_string", b"")
        )
        header_bytes = sum(len(name) + len(value) for name, value in scope["headers"])
        if url_bytes > self.max_url_bytes:
            detail = f"The URL is longer than the limit of {self.max_url_bytes} bytes"
            response = error_response(Request(scope), 414, detail, "uri_too_long")
        elif header_bytes > self.max_header_bytes:
            detail = (
                f"The request headers are larger than the limit of {self.max_header_bytes} bytes"
            )
            response = error_response(Request(scope), 431, detail, "headers_too_large")
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)
