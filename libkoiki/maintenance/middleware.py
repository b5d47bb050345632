"""While maintenance is on, the API answers 503 `maintenance` with the message and `Retry-After`.

Probes are not touched: `/health` stays 200 (an orchestrator must not restart the replicas) and
`/health/ready` reports the maintenance itself. Operators pass, so the smoke test can run before
the public comes back: clients in `MAINTENANCE_ALLOW_IPS` (the address `ClientIPMiddleware`
resolved) and requests carrying the operator token in `X-Maintenance-Token`.

`GET /api/v1/maintenance` tells anyone whether the switch is on (200 `{"maintenance": false}`, or
the same 503 the API answers), operators included: the frontend's servers ask it every second, and
it is answered here, before rate limiting, authentication or the database.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from libkoiki.errors import error_response
from libkoiki.http.client_ip import TrustedProxies, client_ip
from libkoiki.maintenance.switch import MaintenanceSwitch

TOKEN_HEADER = b"x-maintenance-token"
MAINTENANCE_CODE = "maintenance"
STATUS_PATH = "/api/v1/maintenance"
_OFF = b'{"maintenance":false}'


class MaintenanceMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        switch: MaintenanceSwitch,
        allow_ips: Iterable[str] = (),
        operator_token: str | None = None,
        path_prefix: str = "/api/",
    ) -> None:
        self.app = app
        self.switch = switch
        # The same parsing and per-address cache as the proxy list: "is this address in these
        # networks" is the question both ask.
        self.allowed = TrustedProxies(allow_ips)
        self.token = operator_token.encode() if operator_token else None
        self.path_prefix = path_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.path_prefix):
            await self.app(scope, receive, send)
            return
        state = self.switch.state()
        if scope["path"] == STATUS_PATH:
            if state is None:
                off = Response(
                    _OFF, media_type="application/json", headers={"Cache-Control": "no-store"}
                )
                await off(scope, receive, send)
                return
        elif state is None or self._operator(scope):
            await self.app(scope, receive, send)
            return
        response = error_response(
            Request(scope),
            503,
            state.message,
            MAINTENANCE_CODE,
            {"Retry-After": str(state.retry_after)},
        )
        await response(scope, receive, send)

    def _operator(self, scope: Scope) -> bool:
        if self.allowed.networks and _parse(client_ip(scope)) in self.allowed:
            return True
        if self.token is None:
            return False
        for name, value in scope["headers"]:
            if name == TOKEN_HEADER:
                return hmac.compare_digest(value, self.token)
        return False


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None
