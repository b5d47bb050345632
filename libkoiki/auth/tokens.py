"""Access tokens (JWT) and the opaque secrets used for refresh and password-reset tokens.

Only access tokens are JWTs. Refresh and reset tokens are random strings the server stores as
SHA-256 hashes, so none of the three can stand in for another: an opaque string is not a JWT,
and a JWT is never the preimage of a stored hash. Access tokens also carry `typ: "access"` so a
future JWT of another kind signed with the same key is still refused.

The algorithm comes from the settings and is the only one accepted (`alg: none`, another HMAC
size, or an RSA/EC header are all rejected before the signature is looked at).
"""

from __future__ import annotations

import hashlib
import secrets
import sys
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

from libkoiki.config import Settings

# PyJWT imports cryptography whenever it is installed, for RSA/EC algorithms our HMAC tokens never
# use: about 10 MB of resident memory in every process (measured with `import main`). It is on
# the locks for single sign-on only (libkoiki.sso), which loads it on its first request; hidden
# while PyJWT loads, PyJWT registers its HMAC algorithms only. Pinned by
# tests/unit/auth/test_import_footprint.py.
# (redis imports the light `cryptography` package itself; the weight is in these two.)
_HIDDEN = (
    ("cryptography.hazmat", "cryptography.x509")
    if "cryptography.hazmat" not in sys.modules and "jwt" not in sys.modules
    else ()
)
for _name in _HIDDEN:
    sys.modules[_name] = None  # type: ignore[assignment]
try:
    import jwt
finally:
    for _name in _HIDDEN:
        del sys.modules[_name]

ACCESS_TOKEN_TYPE = "access"  # noqa: S105  (a claim value, not a secret)
REQUIRED_CLAIMS = ("sub", "exp", "iat", "jti", "typ", "iss", "aud", "sid")
OPAQUE_TOKEN_BYTES = 32


class InvalidTokenError(Exception):
    """The token is malformed, badly signed, expired, or not an access token."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    jti: str
    session_id: str
    # Float seconds: "tokens issued before T are invalid" must not swallow a token issued a few
    # milliseconds after T in the same second.
    issued_at: float
    expires_at: int


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    token: str
    claims: AccessClaims


def create_access_token(settings: Settings, *, user_id: int, session_id: str) -> IssuedAccessToken:
    now = time.time()
    expires_at = int(now) + settings.access_token_expire_minutes * 60
    jti = uuid.uuid4().hex
    payload = {
        "sub": str(user_id),
        "iat": round(now, 6),
        "exp": expires_at,
        "jti": jti,
        "typ": ACCESS_TOKEN_TYPE,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sid": session_id,
    }
    token = jwt.encode(
        payload, settings.jwt_secret.get_secret_value(), algorithm=settings.jwt_algorithm
    )
    claims = AccessClaims(
        user_id=user_id,
        jti=jti,
        session_id=session_id,
        issued_at=payload["iat"],  # type: ignore[arg-type]
        expires_at=expires_at,
    )
    return IssuedAccessToken(token=token, claims=claims)


_DECODE_OPTIONS: jwt.types.Options = {"require": list(REQUIRED_CLAIMS)}


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    claims = _verified_claims(
        token,
        settings.jwt_secret.get_secret_value(),
        settings.jwt_algorithm,
        settings.jwt_audience,
        settings.jwt_issuer,
    )
    # A remembered verification still expires: checked on every use, as PyJWT would.
    if claims.expires_at <= time.time():
        raise InvalidTokenError("Signature has expired")
    return claims


# Clients send the same token with every request until it expires: a signature verified once is
# remembered (by the whole token and key), so the next requests skip the HMAC and the JSON
# parsing. Failures are never remembered, so forged tokens cannot push valid ones out.
@lru_cache(maxsize=2048)
def _verified_claims(
    token: str, key: str, algorithm: str, audience: str, issuer: str
) -> AccessClaims:
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            options=_DECODE_OPTIONS,
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from exc
    if payload.get("typ") != ACCESS_TOKEN_TYPE:
        raise InvalidTokenError("not an access token")
    try:
        return AccessClaims(
            user_id=int(payload["sub"]),
            jti=str(payload["jti"]),
            session_id=str(payload["sid"]),
            issued_at=float(payload["iat"]),
            expires_at=int(payload["exp"]),
        )
    except (TypeError, ValueError) as exc:
        raise InvalidTokenError("malformed claims") from exc


def new_opaque_token() -> str:
    return secrets.token_urlsafe(OPAQUE_TOKEN_BYTES)


def hash_opaque_token(token: str) -> str:
    # A fast hash is right here: the token has 256 bits of entropy, nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
