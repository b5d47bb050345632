"""OIDC_PROVIDERS is validated at start-up: each refusal names the entry and the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from libkoiki.config import Settings

STRONG = {"secret_key": "s" * 40, "jwt_secret": "j" * 40}


def entry(**overrides: Any) -> dict[str, Any]:
    value = {
        "name": "acme",
        "display_name": "Acme ID",
        "issuer": "https://id.acme.example",
        "client_id": "koiki",
        "client_secret": "a-client-secret",
    }
    value.update(overrides)
    return {key: item for key, item in value.items() if item is not None}


def settings(providers: Any, **values: Any) -> Settings:
    raw = providers if isinstance(providers, str) else json.dumps(providers)
    return Settings(_env_file=None, oidc_providers=raw, **values)  # type: ignore[call-arg]


def refusal(providers: Any, **values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        settings(providers, **values)
    return str(caught.value)


def test_a_valid_list_is_read_with_its_defaults() -> None:
    read = settings([entry(), entry(name="okta", private_key="PEM", client_secret=None)])
    acme, okta = read.oidc_providers
    assert acme.scopes == "openid email profile"
    assert acme.role_mapping == {}
    assert acme.client_secret is not None
    assert acme.client_secret.get_secret_value() == "a-client-secret"
    assert "a-client-secret" not in repr(read)
    assert okta.uses_private_key_jwt
    assert settings("").oidc_providers == []


@pytest.mark.parametrize(
    ("providers", "expected"),
    [
        ("[{", "not valid JSON"),
        ({"name": "acme"}, "must be a JSON list"),
        ([entry(name="Acme Co")], "entry 0 (Acme Co): name must be"),
        ([entry(issuer="ftp://id.acme.example")], "entry 0 (acme): issuer must be an https:// URL"),
        ([entry(client_id=None)], "entry 0 (acme): client_id: Field required"),
        ([entry(private_key="PEM")], "give exactly one of client_secret and private_key"),
        ([entry(scopes="email")], "scopes must include openid"),
        ([entry(allowed_domains=["Example.COM"])], "allowed_domains: 'Example.COM'"),
        ([entry(), entry()], "entry 1 (acme): name: 'acme' is used by another entry"),
        ([entry(colour="red")], "entry 0 (acme): colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_entry_is_refused_naming_entry_and_field(providers: Any, expected: str) -> None:
    assert expected in refusal(providers)


def test_production_refuses_a_plain_http_issuer_except_on_loopback() -> None:
    plain = [entry(issuer="http://id.acme.example")]
    assert "entry 0 (acme): issuer: production needs https://" in refusal(
        plain, app_env="production", **STRONG
    )
    loopback = settings([entry(issuer="http://127.0.0.1:9000")], app_env="production", **STRONG)
    assert loopback.oidc_providers[0].issuer_is_loopback
    assert settings(plain).oidc_providers[0].issuer == "http://id.acme.example"
