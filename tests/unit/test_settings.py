"""Settings: the deployment guide's variables, the embedded default, and production refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from libkoiki.config import DEFAULT_SQLITE_URL, Settings

ROOT = Path(__file__).resolve().parents[2]
STRONG = "x" * 20 + "-strong-secret-value-1234"
STRONG_JWT = "y" * 20 + "-another-strong-secret-99"


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def production(**values: object) -> Settings:
    base: dict[str, object] = {
        "app_env": "production",
        "secret_key": STRONG,
        "jwt_secret": STRONG_JWT,
        "cors_origins": "https://app.example.com",
    }
    base.update(values)
    return make(**base)


def test_embedded_default_needs_no_services() -> None:
    settings = make()
    assert settings.database_url == DEFAULT_SQLITE_URL
    assert settings.redis_url is None
    assert settings.rate_limit_strategy == "memory"
    assert settings.docs_on


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/koiki", "postgresql+asyncpg://u:p@db:5432/koiki"),
        ("postgres://u:p@db/koiki", "postgresql+asyncpg://u:p@db/koiki"),
        ("postgresql+asyncpg://u:p@db/koiki", "postgresql+asyncpg://u:p@db/koiki"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
    ],
)
def test_database_urls_use_the_async_driver(given: str, expected: str) -> None:
    assert make(database_url=given).database_url == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (  # libpq's form, as pg_dump and psql take it
            "postgresql://u:p@h1:5432,h2:5433/koiki?target_session_attrs=read-write",
            "postgresql+asyncpg://u:p@/koiki?host=h1:5432&host=h2:5433"
            "&target_session_attrs=read-write",
        ),
        (  # ports default to 5432; writes default to the primary
            "postgres://u:p@h1,h2/koiki",
            "postgresql+asyncpg://u:p@/koiki?host=h1:5432&host=h2:5432"
            "&target_session_attrs=read-write",
        ),
        (  # SQLAlchemy's form, as it is
            "postgresql+asyncpg://u:p@/koiki?host=h1:5432&host=h2:5432&target_session_attrs=primary",
            "postgresql+asyncpg://u:p@/koiki?host=h1:5432&host=h2:5432&target_session_attrs=primary",
        ),
        (
            "postgresql://u@[::1]:5432,[::2]/koiki?sslmode=require",
            "postgresql+asyncpg://u@/koiki?host=[::1]:5432&host=[::2]:5432&sslmode=require"
            "&target_session_attrs=read-write",
        ),
    ],
)
def test_multi_host_urls_are_mapped_and_aim_at_the_primary(given: str, expected: str) -> None:
    assert make(database_url=given).database_url == expected


def test_a_database_url_that_could_reach_a_standby_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="DATABASE_READ_URL"):
        make(database_url="postgresql://u@h1,h2/db?target_session_attrs=prefer-standby")
    with pytest.raises(ValidationError, match="host:port"):
        make(database_url="postgresql://u@h1:x,h2/db")


def test_read_replicas_are_optional_and_need_postgresql() -> None:
    settings = make()
    assert settings.database_read_url is None
    assert settings.database_read_max_lag_seconds == 5
    read = make(
        database_url="postgresql://u@primary/db",
        database_read_url="postgresql://u@r1,r2/db?target_session_attrs=prefer-standby",
    )
    assert read.database_read_url == (
        "postgresql+asyncpg://u@/db?host=r1:5432&host=r2:5432&target_session_attrs=prefer-standby"
    )
    with pytest.raises(ValidationError, match="needs a PostgreSQL DATABASE_URL"):
        make(database_read_url="postgresql://u@r1/db")
    with pytest.raises(ValidationError, match="must be a PostgreSQL URL"):
        make(database_url="postgresql://u@p/db", database_read_url="sqlite:///x.db")


def test_lists_accept_commas_or_json() -> None:
    assert make(cors_origins="https://a.example, https://b.example").cors_origins == [
        "https://a.example",
        "https://b.example",
    ]
    assert make(cors_origins='["https://a.example"]').cors_origins == ["https://a.example"]


def test_redis_strategy_needs_a_redis_url() -> None:
    with pytest.raises(ValidationError, match="REDIS_URL"):
        make(rate_limit_strategy="redis")
    assert make(redis_url="redis://localhost:6379/0").rate_limit_strategy == "redis"


def test_untrusted_proxy_list_is_rejected_by_name() -> None:
    with pytest.raises(ValidationError, match="TRUSTED_PROXIES"):
        make(trusted_proxies="10.0.0.0/8,not-an-ip")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"secret_key": "your-super-secret-key-here"}, "SECRET_KEY"),
        ({"jwt_secret": "your-jwt-secret-key"}, "JWT_SECRET"),
        ({"secret_key": "short-but-not-default"}, "SECRET_KEY must be at least 32"),
        ({"jwt_secret": STRONG}, "JWT_SECRET must differ"),
        ({"cors_origins": "*"}, "CORS_ORIGINS"),
    ],
)
def test_production_refuses_weak_settings(values: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        production(**values)


def test_production_defaults_are_safe() -> None:
    settings = production()
    assert not settings.docs_on
    assert settings.hsts_on
    assert settings.json_logs
    assert production(docs_enabled=True).docs_on


def test_server_with_example_secrets_refuses_to_start_and_names_the_variable() -> None:
    example = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            example[key] = value
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOIKI_", "DATABASE_"))}
    env.update(example, APP_ENV="production", CORS_ORIGINS="https://app.example.com")
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "main:app", "--port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "refuses to start" in result.stderr
    assert "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr
