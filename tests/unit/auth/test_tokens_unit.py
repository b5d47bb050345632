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


def test_a_verified_token_is_remembered_for_its_key_only(jwt_settings: Settings) -> None:
    issued = create_access_token(jwt_settings, user_id=42, session_id="s-2")
    assert decode_access_token(jwt_settings, issued.token) == issued.claims
    assert decode_access_token(jwt_settings, issued.token) == issued.claims
    # Remembered by token and key together: another secret still refuses it.
    other = Settings(_env_file=None, app_env="test", jwt_secret="x" * 40)  # type: ignore[call-arg]
    with pytest.raises(InvalidTokenError):
        decode_access_token(other, issued.token)
    for _ in range(2):  # refusals are not remembered: each forged token is checked again
        with pytest.raises(InvalidTokenError):
            decode_access_token(jwt_settings, "garbage")


def token_expiring_at(settings: Settings, expires_at: int, jti: str) -> str:
    claims = {"sub": "1", "iat": expires_at - 60, "exp": expires_at, "jti": jti, "sid": "s"}
    claims |= {"typ": "access", "iss": settings.jwt_issuer, "aud": settings.jwt_audience}
    return jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")


def test_a_remembered_token_still_expires(jwt_settings: Settings) -> None:
    expires_at = int(time.time()) + 1
    token = token_expiring_at(jwt_settings, expires_at, "j-short")
    assert decode_access_token(jwt_settings, token).expires_at == expires_at
    time.sleep(max(0.0, expires_at - time.time()) + 0.05)
    with pytest.raises(InvalidTokenError, match="expired"):
        decode_access_token(jwt_settings, token)


def test_expired_tokens_fail_to_decode(jwt_settings: Settings) -> None:
    token = token_expiring_at(jwt_settings, int(time.time()) - 10, "j")
    with pytest.raises(InvalidTokenError, match="expired"):
        decode_access_token(jwt_settings, token)


def test_opaque_tokens_are_long_random_and_hashed_with_sha256() -> None:
    first, second = new_opaque_token(), new_opaque_token()
    assert first != second
    assert len(first) >= 43  # 32 random bytes
    assert len(hash_opaque_token(first)) == 64
    assert hash_opaque_token(first) == hash_opaque_token(first)
