"""The client's address, taken from proxy headers only when the direct peer is a trusted proxy.

nginx (or a load balancer) connects on behalf of every client; without the forwarded address all
clients would share one rate limit and one line in the log. Anyone can send `X-Forwarded-For`, so
it is believed only when the connection comes from a network in `TRUSTED_PROXIES`, and the chain
is walked from the right: the first address that is not a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


# Every request parses its peer (and maybe a forwarded chain); a few thousand clients at a time
# are the common case, so the parses and trust decisions are remembered.
@lru_cache(maxsize=4096)
def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


_text = lru_cache(maxsize=4096)(str)


class TrustedProxies:
    def __init__(self, networks: Iterable[str]) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(network, strict=False) for network in networks
        )
        self._trusts = lru_cache(maxsize=4096)(self._in_networks)

    def _in_networks(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in self.networks)

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        return self._trusts(address)

    def resolve(self, peer: str | None, headers: Iterable[tuple[bytes, bytes]]) -> str:
        """The client address for a connection from `peer` carrying these raw headers."""
        peer_address = _parse_ip(peer) if peer else None
        if peer_address is None:
            return peer or UNKNOWN
        if peer_address not in self:
            return _text(peer_address)
        forwarded: list[str] = []
        real_ip: str | None = None
        for name, value in headers:
            if name == b"x-forwarded-for":
                forwarded.extend(value.decode("latin-1").split(","))
            elif name == b"x-real-ip":
                real_ip = value.decode("latin-1")
        if forwarded:
            client = peer_address
            for hop in reversed(forwarded):
                address = _parse_ip(hop)
                if address is None:
                    break  # garbage before this point was written by the client: stop trusting
                client = address
                if address not in self:
                    break
            return _text(client)
        if real_ip is not None and (address := _parse_ip(real_ip)) is not None:
            return _text(address)
        return _text(peer_address)


@lru_cache(maxsize=8)
def _trusted(networks: tuple[str, ...]) -> TrustedProxies:
    return TrustedProxies(networks)


def client_ip(request_or_scope: HTTPConnection | Scope) -> str:
    """The resolved client address of a request (set by `ClientIPMiddleware`)."""
    scope = (
        request_or_scope.scope if isinstance(request_or_scope, HTTPConnection) else request_or_scope
    )
    state = scope.setdefault("state", {})
    resolved = state.get("client_ip")
    if isinstance(resolved, str):
        return resolved
    # Outside the middleware (an app built without it): resolve the same way.
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    networks = tuple(settings.trusted_proxies) if settings is not None else ()
    peer = scope.get("client")
    resolved = _trusted(networks).resolve(peer[0] if peer else None, scope["headers"])
    state["client_ip"] = resolved
    return resolved


class ClientIPMiddleware:
    """Stores the resolved address in `scope["state"]["client_ip"]` for every request."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Iterable[str]) -> None:
        self.app = app
        self.trusted = TrustedProxies(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            scope.setdefault("state", {})["client_ip"] = self.trusted.resolve(
                peer[0] if peer else None, scope["headers"]
            )
        await self.app(scope, receive, send)
