"""The OpenID Connect relying party: discovery, JWKS, authorization URL, code exchange, ID token.

The protocol is authlib's (authorization URL with PKCE S256, token request with client_secret_basic
or private_key_jwt) and joserfc's (JWS and JWT claims). This module is imported on the first SSO
request only: it loads cryptography, which nothing else needs.

What the ID token must pass (OpenID Connect Core 3.1.3.7): an asymmetric signature from the
provider's JWKS (`alg` in our allow-list and in the provider's advertised ones, so `none` and HS*
signed with the client secret are refused), `iss` equal to the configured issuer, `aud` containing
our client id, `azp` equal to it when present or when there are several audiences, `exp` and
`iat` within the allowed clock skew, and `nonce` equal to the one this sign-in sent.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from libkoiki.sso.errors import SSOError, provider_unavailable

with warnings.catch_warnings():
    # authlib 1.9 announces a move of its client to the httpx2 package; until then its httpx
    # client is the supported one and the warning only fills the log at the first sign-in.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
from libkoiki.sso.settings import OIDCProviderConfig

logger = structlog.get_logger("koiki.sso")

# Asymmetric only: with an HMAC algorithm the "key" would be our own client secret.
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
HTTP_TIMEOUT_SECONDS = 10.0
DISCOVERY_MAX_AGE_SECONDS = 3600.0


@dataclass
class _ProviderCache:
    metadata: dict[str, Any] | None = None
    fetched_at: float = 0.0
    keys: KeySet | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


# Public data of each provider (discovery document, signing keys), per process.
_cache: dict[str, _ProviderCache] = {}


def _entry(provider: OIDCProviderConfig) -> _ProviderCache:
    return _cache.setdefault(provider.issuer, _ProviderCache())


async def _get_json(url: str, provider: OIDCProviderConfig) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
            response = await http.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        logger.warning("sso_provider_unreachable", provider=provider.name, error=str(exc))
        raise provider_unavailable(provider.display_name) from None
    if not isinstance(document, dict):
        raise provider_unavailable(provider.display_name)
    return document


async def discover(provider: OIDCProviderConfig) -> dict[str, Any]:
    """The provider's discovery document, cached for an hour; its `issuer` must be ours."""
    entry = _entry(provider)

    def stale() -> bool:
        return time.monotonic() - entry.fetched_at >= DISCOVERY_MAX_AGE_SECONDS

    if entry.metadata is not None and not stale():
        return entry.metadata
    async with entry.lock:
        if entry.metadata is None or stale():
            url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
            metadata = await _get_json(url, provider)
            # OpenID Connect Discovery 4.3: a document for another issuer is not this provider's.
            if metadata.get("issuer") != provider.issuer:
                logger.error(
                    "sso_discovery_issuer_mismatch",
                    provider=provider.name,
                    issuer=metadata.get("issuer"),
                )
                raise provider_unavailable(provider.display_name)
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(metadata.get(name), str):
                    raise provider_unavailable(provider.display_name)
            entry.metadata, entry.fetched_at = metadata, time.monotonic()
    assert entry.metadata is not None
    return entry.metadata


async def _signing_keys(provider: OIDCProviderConfig, *, refresh: bool = False) -> KeySet:
    entry = _entry(provider)
    if entry.keys is not None and not refresh:
        return entry.keys
    metadata = await discover(provider)
    document = await _get_json(metadata["jwks_uri"], provider)
    try:
        keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
    except (JoseError, KeyError, TypeError, ValueError):
        raise provider_unavailable(provider.display_name) from None
    entry.keys = keys
    return keys


async def check_provider(provider: OIDCProviderConfig) -> int:
    """Fetch the discovery document and the JWKS afresh; the number of keys (ops doctor)."""
    _cache.pop(provider.issuer, None)
    await discover(provider)
    return len(list(await _signing_keys(provider)))


def new_secret() -> str:
    return str(generate_token(48))


def _client(provider: OIDCProviderConfig, metadata: dict[str, Any], redirect_uri: str) -> Any:
    secret = provider.private_key or provider.client_secret
    assert secret is not None  # the settings require one of them
    client = AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=secret.get_secret_value(),
        scope=provider.scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=(
            "private_key_jwt" if provider.uses_private_key_jwt else "client_secret_basic"
        ),
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    if provider.uses_private_key_jwt:
        headers = {"kid": provider.private_key_id} if provider.private_key_id else None
        client.register_client_auth_method(
            PrivateKeyJWT(metadata["token_endpoint"], headers=headers)
        )
    return client


async def authorization_url(
    provider: OIDCProviderConfig,
    *,
    redirect_uri: str,
    state: str,
    nonce: str,
    code_verifier: str,
) -> str:
    metadata = await discover(provider)
    async with _client(provider, metadata, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            metadata["authorization_endpoint"],
            state=state,
            nonce=nonce,
            code_verifier=code_verifier,
        )
    return str(url)


async def exchange_code(
    provider: OIDCProviderConfig, *, redirect_uri: str, code: str, code_verifier: str
) -> dict[str, Any]:
    """The token response for this code; a refusal by the provider is `sso_code_rejected`."""
    metadata = await discover(provider)
    async with _client(provider, metadata, redirect_uri) as client:
        try:
            token = await client.fetch_token(
                metadata["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
            )
        except httpx.HTTPError as exc:
            logger.warning("sso_token_request_failed", provider=provider.name, error=str(exc))
            raise provider_unavailable(provider.display_name) from None
        except (AuthlibBaseError, ValueError) as exc:  # an OAuth error, or no JSON at all
            error = getattr(exc, "error", None) or type(exc).__name__
            if error in ("invalid_client", "unauthorized_client"):
                # Our credentials (secret, private key, its kid) do not match the provider's
                # registration: no retry by the user helps, only the administrator can.
                logger.error("sso_client_rejected", provider=provider.name, error=error)
                raise SSOError(
                    502,
                    f"{provider.display_name} refused this application's client credentials; "
                    "ask your administrator to check the provider's configuration",
                    "sso_client_rejected",
                    reason=str(error),
                ) from None
            logger.info("sso_code_rejected", provider=provider.name, error=error)
            raise SSOError(
                400,
                "The identity provider refused the sign-in code (used already, expired, or "
                "not issued for this sign-in); start again",
                "sso_code_rejected",
                reason=str(error),
            ) from None
    if not isinstance(token, dict) or not isinstance(token.get("id_token"), str):
        raise SSOError(
            400, "The identity provider sent no ID token", "sso_invalid_id_token", reason="missing"
        )
    return dict(token)


def _invalid(reason: str) -> SSOError:
    return SSOError(
        400,
        f"The identity provider's ID token is not valid ({reason})",
        "sso_invalid_id_token",
        reason=reason,
    )


async def validate_id_token(
    provider: OIDCProviderConfig, id_token: str, *, nonce: str, leeway: int
) -> dict[str, Any]:
    """The ID token's claims after every check of OpenID Connect Core 3.1.3.7."""
    metadata = await discover(provider)
    try:
        header = jws.extract_compact(id_token.encode()).headers()
    except (JoseError, ValueError):
        raise _invalid("malformed") from None
    advertised = set(metadata.get("id_token_signing_alg_values_supported") or ["RS256"])
    algorithm = header.get("alg")
    if algorithm not in ALLOWED_ALGORITHMS or algorithm not in advertised:
        raise _invalid(f"algorithm {algorithm!r} not allowed")
    kid = header.get("kid")
    keys = await _signing_keys(provider)
    try:
        key = keys.get_by_kid(kid)
    except InvalidKeyIdError:
        # A key we do not know: the provider may have rotated. Only the provider's own token
        # endpoint (over TLS) hands us ID tokens, so this refetch cannot be driven by others.
        keys = await _signing_keys(provider, refresh=True)
        try:
            key = keys.get_by_kid(kid)
        except InvalidKeyIdError:
            raise _invalid("unknown signing key") from None
    try:
        claims = jwt.decode(id_token, key, algorithms=[algorithm]).claims
    except BadSignatureError:
        raise _invalid("bad signature") from None
    except (JoseError, ValueError):
        raise _invalid("malformed") from None
    registry = jwt.JWTClaimsRegistry(
        leeway=leeway,
        iss={"essential": True, "value": provider.issuer},
        sub={"essential": True},
        aud={"essential": True, "value": provider.client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise _invalid("expired") from None
    except MissingClaimError as exc:
        raise _invalid(f"missing {exc.claim}") from None
    except InvalidClaimError as exc:
        raise _invalid(f"wrong {exc.claim}") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != provider.client_id:
        raise _invalid("wrong azp")
    return claims


# What an ID token is about and for: never taken from UserInfo, which only adds claims about the
# user.
_PROTOCOL_CLAIMS = frozenset(
    {"iss", "sub", "aud", "azp", "exp", "iat", "nbf", "nonce", "auth_time"}
)


def _invalid_userinfo(reason: str) -> SSOError:
    return SSOError(
        400,
        f"The identity provider's UserInfo answer is not valid ({reason})",
        "sso_invalid_userinfo",
        reason=f"userinfo: {reason}",
    )


async def with_userinfo(
    provider: OIDCProviderConfig, claims: dict[str, Any], tokens: dict[str, Any]
) -> dict[str, Any]:
    """The ID token's claims, completed from the UserInfo endpoint when they lack the email (or
    the groups claim): providers may send those there only (OIDC Core 5.4). UserInfo's `sub`
    must be the ID token's (5.3.2); its claims never replace the ID token's."""
    wanted = ["email"] + ([provider.groups_claim] if provider.groups_claim else [])
    if all(name in claims for name in wanted):
        return claims
    metadata = await discover(provider)
    endpoint = metadata.get("userinfo_endpoint")
    access_token = tokens.get("access_token")
    if not isinstance(endpoint, str) or not isinstance(access_token, str):
        return claims  # nothing to ask: the checks of the missing email decide
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
            response = await http.get(
                endpoint,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
    except httpx.HTTPError as exc:
        logger.warning("sso_userinfo_unreachable", provider=provider.name, error=str(exc))
        raise provider_unavailable(provider.display_name) from None
    if response.status_code >= 500:
        raise provider_unavailable(provider.display_name)
    if response.status_code != 200:
        raise _invalid_userinfo(f"status {response.status_code}")
    # A signed or encrypted UserInfo (application/jwt) is only sent to clients registered for
    # it; ours asks for plain JSON.
    try:
        userinfo = response.json()
    except ValueError:
        raise _invalid_userinfo("not JSON") from None
    if not isinstance(userinfo, dict):
        raise _invalid_userinfo("not a JSON object")
    if userinfo.get("sub") != claims["sub"]:
        logger.warning("sso_userinfo_sub_mismatch", provider=provider.name)
        raise _invalid_userinfo("sub differs from the ID token's")
    extra = {
        name: value
        for name, value in userinfo.items()
        if name not in _PROTOCOL_CLAIMS and name not in claims
    }
    return {**claims, **extra}


async def end_session_url(provider: OIDCProviderConfig, *, return_url: str) -> str | None:
    """Where to send the browser to sign out at the provider too (None: it has no such page)."""
    metadata = await discover(provider)
    endpoint = metadata.get("end_session_endpoint")
    if not isinstance(endpoint, str):
        return None
    query = httpx.QueryParams(client_id=provider.client_id, post_logout_redirect_uri=return_url)
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
