"""Refuse request bodies larger than `MAX_REQUEST_BODY_BYTES` before they are read into memory.

A declared `Content-Length` over the limit is answered at once, without reading a byte. A body
without one (chunked transfer encoding) is counted while the application reads it; the chunk that
crosses the limit is never handed over, and the request ends with 413 instead.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libkoiki.errors import error_response


class PayloadTooLargeError(HTTPException):
    # An HTTPException, so FastAPI's body parsing re-raises it instead of reporting a parse error,
    # and the app's handler renders the usual error body.
    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body is larger than the limit of {limit} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        has_body = False
        for name, value in scope["headers"]:
            if name == b"transfer-encoding":
                has_body = True
            elif name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1  # the server rejects malformed lengths before we see them
                if declared > limit:
                    error = PayloadTooLargeError(limit)
                    response = error_response(Request(scope), 413, error.detail, error.code)
                    # The client may be waiting for "100 Continue": answering now spares it the
                    # upload, and the server closes the connection rather than drain the body.
                    await response(scope, receive, send)
                    return
                has_body = has_body or declared != 0
        if not has_body and scope.get("http_version") in ("1.0", "1.1"):
            # Neither a length nor chunks: HTTP/1 says there is no body, so nothing to count.
            # (HTTP/2 may send a body without a length: it is always counted.)
            await self.app(scope, receive, send)
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLargeError(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except PayloadTooLargeError as error:
            # Read outside a route (a middleware, a raw ASGI app): nobody turned it into a response.
            if response_started:
                raise
            response = error_response(Request(scope), 413, error.detail, error.code)
            await response(scope, receive, send)
