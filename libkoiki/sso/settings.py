"""`OIDC_PROVIDERS`: one validated entry per identity provider (no protocol library imported)."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")


class OIDCProviderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="URL-safe: lower-case letters, digits, - and _")
    display_name: str = Field(min_length=1, max_length=64)
    issuer: str
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    # PEM private key: the client authenticates with a signed JWT (private_key_jwt) instead.
    private_key: SecretStr | None = None
    private_key_id: str | None = None
    scopes: str = "openid email profile"
    allowed_domains: list[str] = Field(default_factory=list)
    groups_claim: str | None = None
    # None: SSO_AUTO_CREATE decides.
    auto_create: bool | None = None
    role_mapping: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> OIDCProviderConfig:
        if not PROVIDER_NAME.match(self.name):
            raise ValueError("name must be 1-32 of a-z, 0-9, - and _ (it is part of URLs)")
        parts = urlsplit(self.issuer)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("issuer must be an https:// URL")
        if parts.query or parts.fragment:
            raise ValueError("issuer must not have a query or fragment")
        if "openid" not in self.scopes.split():
            raise ValueError("scopes must include openid")
        if (self.client_secret is None) == (self.private_key is None):
            raise ValueError("give exactly one of client_secret and private_key")
        for domain in self.allowed_domains:
            if not DOMAIN.match(domain):
                raise ValueError(f"allowed_domains: {domain!r} is not a lower-case domain name")
        return self

    @property
    def issuer_is_loopback(self) -> bool:
        host = urlsplit(self.issuer).hostname or ""
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def uses_private_key_jwt(self) -> bool:
        return self.private_key is not None

    def email_domain_allowed(self, email: str) -> bool:
        if not self.allowed_domains:
            return True
        return email.rpartition("@")[2].lower() in self.allowed_domains


def parse_providers(value: Any, *, production: bool) -> list[OIDCProviderConfig]:
    """The JSON list (or already parsed list); each error names the entry and the field."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(value, list):
        raise ValueError("must be a JSON list of provider objects")
    providers: list[OIDCProviderConfig] = []
    for index, entry in enumerate(value):
        label = f"entry {index}"
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            label += f" ({entry['name']})"
        if isinstance(entry, OIDCProviderConfig):
            provider = entry
        else:
            try:
                provider = OIDCProviderConfig.model_validate(entry)
            except ValidationError as exc:
                first = exc.errors()[0]
                message = first["msg"].removeprefix("Value error, ")
                field = ".".join(str(part) for part in first["loc"])
                # Whole-entry checks name their field in the message itself.
                where = f"{label}: {field}" if field else label
                raise ValueError(f"{where}: {message}") from None
        if production and provider.issuer.startswith("http://") and not provider.issuer_is_loopback:
            raise ValueError(f"{label}: issuer: production needs https://, not http://")
        if any(other.name == provider.name for other in providers):
            raise ValueError(f"{label}: name: {provider.name!r} is used by another entry")
        providers.append(provider)
    return providers
