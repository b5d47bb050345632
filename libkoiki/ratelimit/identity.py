"""Who a request counts against: the authenticated user, else the client address.

A valid bearer token gives the user's own budget, so colleagues behind one NAT address do not
starve each other; the token is only checked for signature and expiry here (no database), which is
enough to pick a key: a forged token fails the check and falls back to the address. IPv6 clients
are keyed by their /64, since one host can rotate through a whole /64 at will.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Literal

from starlette.types import Scope

from libkoiki.auth.tokens import AccessClaims, InvalidTokenError, decode_access_token
from libkoiki.config import Settings
from libkoiki.http.client_ip import client_ip

Per = Literal["client", "ip", "user"]


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


def ip_identity(scope: Scope) -> str:
    return _ip_key(client_ip(scope))


@lru_cache(maxsize=4096)
def _ip_key(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"ip:{address}"
    if isinstance(parsed, ipaddress.IPv6Address):
        return f"ip6:{ipaddress.IPv6Network((parsed, 64), strict=False)}"
    return f"ip:{parsed}"


def bearer_claims(scope: Scope, settings: Settings) -> AccessClaims | None:
    """The claims of a well-signed, unexpired bearer token (revocation is not checked here)."""
    token = bearer_token(scope)
    if token is None:
        return None
    try:
        return decode_access_token(settings, token)
    except InvalidTokenError:
        return None


def client_identity(scope: Scope, claims: AccessClaims | None) -> str:
    """The user a valid bearer token names, else the client's address."""
    return ip_identity(scope) if claims is None else f"user:{claims.user_id}"


def identity(scope: Scope, settings: Settings, per: Per = "client") -> str:
    return client_identity(scope, None if per == "ip" else bearer_claims(scope, settings))
