from __future__ import annotations

import time

import jwt
import pytest

from libkoiki.auth.tokens import (
    InvalidTokenError,
    create_access_token,
    decode_access_token,
    hash_opaque_token,
    new_opaque_token,
    request_access_claims,
)
from libkoiki.config import Settings
from tests.conftest import TEST_JWT_SECRET


@pytest.fixture
def jwt_settings() -> Settings:
    return Settings(_env_file=None, app_env="test", jwt_secret=TEST_JWT_SECRET)  # type: ignore[call-arg]


def test_round_trip_keeps_sub_second_issue_time(jwt_settings: Settings) -> None:
    issued = create_access_token(jwt_settings, user_id=7, session_id="s-1")
    claims = decode_access_token(jwt_settings, issued.token)
    assert claims == issued.claims
    assert claims.user_id == 7
    assert claims.session_id == "s-1"
    assert abs(claims.issued_at - time.time()) < 5
    assert claims.expires_at - int(claims.issued_at) == 30 * 60


def test_claims_are_checked_once_per_request_and_remembered(jwt_settings: Settings) -> None:
    issued = create_access_token(jwt_settings, user_id=42, session_id="s-2")
    state: dict[str, object] = {}
    assert request_access_claims(state, jwt_settings, issued.token) == issued.claims
    # A second caller in the same request gets the same answer without another signature check,
    # even with settings that would refuse it now.
    other = Settings(_env_file=None, app_env="test", jwt_secret="x" * 40)  # type: ignore[call-arg]
    assert request_access_claims(state, other, issued.token) == issued.claims
    # Another request (fresh state) is checked again; so is another token in the same request.
    with pytest.raises(InvalidTokenError):
        request_access_claims({}, other, issued.token)
    with pytest.raises(InvalidTokenError):
        request_access_claims(state, jwt_settings, "garbage")
    with pytest.raises(InvalidTokenError):  # the refusal is remembered too
        request_access_claims(state, jwt_settings, "garbage")


def test_expired_tokens_fail_to_decode(jwt_settings: Settings) -> None:
    now = int(time.time())
    token = jwt.encode(
        {
            "sub": "1",
            "iat": now - 100,
            "exp": now - 10,
            "jti": "j",
            "typ": "access",
            "iss": jwt_settings.jwt_issuer,
            "aud": jwt_settings.jwt_audience,
            "sid": "s",
        },
        TEST_JWT_SECRET,
        algorithm="HS256",
    )
    with pytest.raises(InvalidTokenError, match="expired"):
        decode_access_token(jwt_settings, token)


def test_opaque_tokens_are_long_random_and_hashed_with_sha256() -> None:
    first, second = new_opaque_token(), new_opaque_token()
    assert first != second
    assert len(first) >= 43  # 32 random bytes
    assert len(hash_opaque_token(first)) == 64
    assert hash_opaque_token(first) == hash_opaque_token(first)
