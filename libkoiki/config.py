"""Settings: one typed class read from the environment and `.env`, validated at start-up.

Variable names are the field names upper-cased; the deployment guide's names are the
public contract.
"""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from limits import parse as parse_rate_limit
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

from libkoiki.redis_client import check_redis_url
from libkoiki.sso.settings import OIDCProviderConfig, parse_providers

Environment = Literal["development", "staging", "production", "test"]

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/koiki.db"
MIN_SECRET_LENGTH = 32
MIN_METRICS_TOKEN_LENGTH = 24

# Values shipped in `.env.example` or the deployment guide: a production deployment that still
# carries one of them has not been configured.
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "secret",
        "your-super-secret-key-here",
        "your-jwt-secret-key",
        "dev-secret-key-change-me-please-0123456789",
        "dev-jwt-secret-change-me-please-0123456789",
    }
)
# Development defaults, listed above so production refuses them.
_DEV_SECRET_KEY = "dev-secret-key-change-me-please-0123456789"  # noqa: S105
_DEV_JWT_SECRET = "dev-jwt-secret-change-me-please-0123456789"  # noqa: S105


def _split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string (the guide uses the latter)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


StrList = Annotated[list[str], NoDecode]


def async_database_url(url: str) -> str:
    """Accept the URLs people paste (`postgres://`, `postgresql://`); use the async driver.

    libpq's several hosts (`postgresql://u:p@h1:5432,h2:5432/db`) become SQLAlchemy's
    (`postgresql+asyncpg://u:p@/db?host=h1:5432&host=h2:5432`)."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return multihost_query_url("postgresql+asyncpg://" + url[len(prefix) :])
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    if url.startswith("postgresql+asyncpg://"):
        return multihost_query_url(url)
    return url


def multihost_query_url(url: str) -> str:
    """`scheme://userinfo@h1:p1,h2/db?q` as `scheme://userinfo@/db?host=h1:p1&host=h2:5432&q`.

    SQLAlchemy reads several hosts only from the query, each with its port."""
    scheme, _, rest = url.partition("://")
    before_query, _, query = rest.partition("?")
    userinfo, at, hostpath = before_query.rpartition("@")
    hosts, _, path = hostpath.partition("/")
    if "," not in hosts:
        return url
    listed = []
    for host in hosts.split(","):
        bracketed = host.endswith("]")  # an IPv6 address without a port
        name, port = (host, "5432") if bracketed else [*host.rsplit(":", 1), "5432"][:2]
        if not name or not port.isdigit():
            raise ValueError(f"host {host!r} of a multi-host URL must be host or host:port")
        listed.append(f"host={name}:{port}")
    query = "&".join([*listed, query] if query else listed)
    return f"{scheme}://{userinfo}{at}/{path}?{query}"


# What libpq's target_session_attrs may ask of the server every write goes to.
_WRITABLE_ATTRS = ("read-write", "primary", "any")


def primary_url(url: str) -> str:
    """A URL naming several hosts must say that writes go to the primary: `read-write` unless it
    says `primary`. One that would accept a standby is refused."""
    if not url.startswith("postgresql"):
        return url
    query = make_url(url).query
    attrs = query.get("target_session_attrs")
    if isinstance(attrs, tuple):
        attrs = attrs[-1]
    if attrs is not None and attrs not in _WRITABLE_ATTRS:
        raise ValueError(
            f"DATABASE_URL: target_session_attrs={attrs} could reach a standby; writes need "
            "read-write or primary (standbys belong in DATABASE_READ_URL)"
        )
    if attrs is None and isinstance(query.get("host"), tuple):
        return url + "&target_session_attrs=read-write"
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- application ---
    app_env: Environment = "development"
    app_name: str = "KOIKI Framework API"
    service_name: str = "koiki-framework"
    secret_key: SecretStr = SecretStr(_DEV_SECRET_KEY)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    docs_enabled: bool | None = None
    metrics_enabled: bool = True
    # Who may read /metrics on the app port (nginx never serves it): peers in these networks
    # (the connection's address, never a forwarded one) and/or callers presenting this bearer
    # token. Both unset: anyone who reaches the port, as before; both set: either one suffices.
    metrics_allow_ips: StrList = Field(default_factory=list)
    metrics_bearer_token: SecretStr | None = None
    # Statements slower than this are logged (duration, request id, never the values) and
    # counted in koiki_db_slow_queries_total; 0 turns the check off.
    db_slow_query_ms: float = Field(default=0, ge=0)
    # Shown in koiki_build_info (the image's commit, set by the build).
    build_commit: str = "unknown"
    # FastAPI's native OpenTelemetry (spans, metrics, logs to the process's OTel providers).
    # Off, the per-request check whether a provider is configured is skipped too.
    otel_enabled: bool = False

    # --- database ---
    database_url: str = DEFAULT_SQLITE_URL
    # A pool that keeps what it opens: overflow connections are closed as soon as they come back
    # while the pool is full, so a load above the pool size opened and closed connections all the
    # time (a fifth of the CPU of a todo list under wrk). Same ceiling as 10 + 10, no churn.
    db_pool_size: int = Field(default=20, ge=1, le=200)
    db_max_overflow: int = Field(default=0, ge=0, le=200)
    db_pool_timeout: float = Field(default=10.0, gt=0, le=300)
    db_pool_recycle_seconds: int = Field(default=1800, ge=0)
    # A ping per checkout costs three round trips on asyncpg (about 2 ms of CPU per request).
    # Without it, a connection the server dropped fails its request with a 503, and SQLAlchemy
    # then discards every pooled connection older than the failure, so one request pays, not all.
    db_pool_pre_ping: bool = False
    db_echo: bool = False
    # Read replicas for the routes that read through ReaderDep (libkoiki.db.replicas); unset,
    # every read goes to DATABASE_URL. A replica further behind than the bound is not used.
    database_read_url: str | None = None
    database_read_max_lag_seconds: float = Field(default=5.0, gt=0, le=3600)
    database_read_check_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    db_wait_retries: int = Field(default=30, ge=1)
    db_wait_interval_seconds: float = Field(default=2.0, gt=0)
    health_check_timeout_seconds: float = Field(default=1.5, gt=0, le=30)

    # --- redis (unset: in-process fallbacks, single process only) ---
    # One server (redis://) or the master that Sentinel names (redis+sentinel://, see
    # libkoiki.redis_client); REDIS_SENTINEL_PASSWORD is the sentinels' own, when they need one.
    redis_url: str | None = None
    redis_sentinel_password: SecretStr | None = None
    redis_key_prefix: str = "koiki:"

    # --- HTTP edge ---
    cors_origins: StrList = Field(default_factory=list)
    trusted_proxies: StrList = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    trusted_hosts: StrList = Field(default_factory=lambda: ["*"])
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # nginx's defaults: an 8 KiB request line, 32 KiB of headers in all.
    max_url_bytes: int = Field(default=8 * 1024, ge=1024)
    max_request_header_bytes: int = Field(default=32 * 1024, ge=4096)
    hsts_enabled: bool | None = None
    hsts_max_age: int = Field(default=31536000, ge=0)

    # --- authentication ---
    jwt_secret: SecretStr = SecretStr(_DEV_JWT_SECRET)
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_issuer: str = "koiki-fw"
    jwt_audience: str = "koiki-fw-api"
    access_token_expire_minutes: int = Field(default=30, ge=1, le=24 * 60)
    refresh_token_expire_days: int = Field(default=7, ge=1, le=365)
    password_reset_token_expire_minutes: int = Field(default=60, ge=5, le=24 * 60)
    # Unset: on in staging and production, off in development and test (see email_verification_on).
    require_email_verification: bool | None = None
    email_verification_token_expire_minutes: int = Field(default=24 * 60, ge=5, le=7 * 24 * 60)
    password_min_length: int = Field(default=8, ge=8, le=64)
    # zxcvbn's score a new password must reach: 3 is at least 10^8 guesses, 4 at least 10^10.
    password_min_score: int = Field(default=3, ge=2, le=4)
    # Hashes at once per process. "auto": the CPUs this process may use (affinity, cgroup quota)
    # less one for the event loop, between 1 and 4. Hashing threads beside a busy loop slow every
    # other request (the GIL, the cache): on 2 cores `/health`'s p99 during `make bench`'s login
    # flood was 5-27 x the quiet one with four threads, ~2.9 x with two, 1.7-2.1 x with one.
    password_hash_concurrency: Annotated[int, Field(ge=1, le=64)] | Literal["auto"] = Field(
        default="auto"
    )
    # argon2id cost; OWASP's floor is 19 MiB / 2 passes / 1 lane. Raising either re-hashes
    # every password at its owner's next login.
    password_hash_memory_kib: int = Field(default=19456, ge=19456, le=1024 * 1024)
    password_hash_time_cost: int = Field(default=2, ge=2, le=20)
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=20, ge=1)
    login_failure_window_minutes: int = Field(default=15, ge=1)
    # Authenticated principals are remembered this long at most, and only while their security
    # stamps in Redis are unchanged (libkoiki.auth.principals); 0 checks every request in the
    # database. Needs RATE_LIMIT_STRATEGY=redis, whose script reads the stamps.
    principal_cache_seconds: float = Field(default=10.0, ge=0, le=3600)

    # --- single sign-on (OpenID Connect, libkoiki.sso) ---
    # A JSON list, one object per identity provider (see .env.example); empty: no SSO at all.
    oidc_providers: Annotated[list[OIDCProviderConfig], NoDecode] = Field(default_factory=list)
    # First sign-in of an unknown identity creates the account (a provider's auto_create wins).
    sso_auto_create: bool = False
    # Where providers send the browser back (register it at each provider); unset: the BFF's
    # FRONTEND_URL/api/auth/sso/callback. Signing out at the provider comes back to
    # SSO_POST_LOGOUT_REDIRECT_URL (unset: FRONTEND_URL/login?reason=logged_out).
    sso_redirect_url: str | None = None
    sso_post_logout_redirect_url: str | None = None
    # How long a started sign-in may take at the provider.
    sso_state_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    # Seconds of clock difference tolerated on the ID token's exp and iat.
    sso_clock_skew_seconds: int = Field(default=60, ge=0, le=300)

    # --- rate limiting ---
    rate_limit_enabled: bool = True
    # Unset: Redis when REDIS_URL is configured, else in-process memory.
    rate_limit_strategy: Literal["redis", "memory"] | None = None
    rate_limit_default: str = "100/minute"
    rate_limit_fail_open: bool = True
    # Redis answers in well under a millisecond: waiting longer only delays every API request.
    rate_limit_backend_timeout_seconds: float = Field(default=0.5, gt=0, le=10)
    # After a backend failure, requests skip it (fail-open or 503) for this long, then retry.
    rate_limit_backend_retry_seconds: float = Field(default=1.0, gt=0, le=300)

    # --- mail ---
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: bool = True
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "KOIKI-FW <no-reply@localhost>"
    frontend_url: str = "http://localhost:3000"

    # --- bootstrap and operations ---
    first_superuser_email: str | None = None
    first_superuser_password: SecretStr | None = None
    backup_dir: Path = Path("./backups")
    backup_retention_days: int = Field(default=30, ge=1)
    # Point-in-time recovery: base backups (pg_basebackup) and the WAL PostgreSQL archives.
    wal_archive_dir: Path = Path("./backups/wal")
    base_backup_dir: Path = Path("./backups/base")
    base_backup_keep: int = Field(default=2, ge=1)

    # --- maintenance mode (ops maintenance on|off) ---
    # The switch lives in Redis (every replica sees it) and in this file (the embedded default,
    # nginx's fallback page, and a Redis that is itself being repaired); either one turns it on.
    maintenance_file: Path = Path("./var/maintenance.json")
    maintenance_poll_seconds: float = Field(default=1.0, ge=0.1, le=30)
    # Operators pass during maintenance: clients in these networks (as resolved behind
    # TRUSTED_PROXIES) or requests with `X-Maintenance-Token: <token>` (>= 24 characters).
    maintenance_allow_ips: StrList = Field(default_factory=list)
    maintenance_operator_token: SecretStr | None = None
    # `ops smoke`: a pre-made, verified account to use instead of registering a throwaway one.
    smoke_email: str | None = None
    smoke_password: SecretStr | None = None

    @field_validator(
        "cors_origins",
        "trusted_proxies",
        "trusted_hosts",
        "metrics_allow_ips",
        "maintenance_allow_ips",
        mode="before",
    )
    @classmethod
    def _parse_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("oidc_providers", mode="before")
    @classmethod
    def _parse_providers(cls, value: Any, info: ValidationInfo) -> Any:
        return parse_providers(value, production=info.data.get("app_env") == "production")

    @field_validator("rate_limit_default")
    @classmethod
    def _valid_limit(cls, value: str) -> str:
        try:
            parse_rate_limit(value)
        except ValueError as exc:
            raise ValueError(
                f"RATE_LIMIT_DEFAULT: {value!r} is not a limit like '100/minute'"
            ) from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return primary_url(async_database_url(value))

    @field_validator("database_read_url")
    @classmethod
    def _read_driver(cls, value: str | None) -> str | None:
        if not value:
            return None
        url = async_database_url(value)
        if not url.startswith("postgresql"):
            raise ValueError("DATABASE_READ_URL must be a PostgreSQL URL (read replicas)")
        return url

    @field_validator("trusted_proxies", "metrics_allow_ips", "maintenance_allow_ips")
    @classmethod
    def _valid_networks(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                name = (info.field_name or "").upper()
                raise ValueError(f"{name}: {network!r} is not an IP network") from exc
        return value

    @field_validator("metrics_bearer_token", "maintenance_operator_token")
    @classmethod
    def _strong_metrics_token(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < MIN_METRICS_TOKEN_LENGTH:
            name = (info.field_name or "").upper()
            raise ValueError(f"{name} must be at least {MIN_METRICS_TOKEN_LENGTH} characters")
        return value

    @field_validator("redis_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        if value:
            check_redis_url(value)
        return value or None

    @model_validator(mode="after")
    def _production_safety(self) -> Settings:
        if self.rate_limit_strategy is None:
            self.rate_limit_strategy = "redis" if self.redis_url else "memory"
        if self.database_read_url and self.is_sqlite:
            raise ValueError("DATABASE_READ_URL needs a PostgreSQL DATABASE_URL")
        if self.rate_limit_enabled and self.rate_limit_strategy == "redis" and not self.redis_url:
            raise ValueError("RATE_LIMIT_STRATEGY=redis needs REDIS_URL")
        if not self.is_production:
            return self
        for name in ("secret_key", "jwt_secret"):
            secret = getattr(self, name).get_secret_value()
            if secret.lower() in PLACEHOLDER_SECRETS or "change-me" in secret.lower():
                raise ValueError(f"{name.upper()} is a default/placeholder value; set a real one")
            if len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(f"{name.upper()} must be at least {MIN_SECRET_LENGTH} characters")
        if self.secret_key.get_secret_value() == self.jwt_secret.get_secret_value():
            raise ValueError("JWT_SECRET must differ from SECRET_KEY")
        if "*" in self.cors_origins:
            raise ValueError("CORS_ORIGINS must list origins in production, not '*'")
        return self

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def docs_on(self) -> bool:
        if self.docs_enabled is not None:
            return self.docs_enabled
        return not self.is_production

    @property
    def hsts_on(self) -> bool:
        if self.hsts_enabled is not None:
            return self.hsts_enabled
        return self.is_production

    @property
    def email_verification_on(self) -> bool:
        if self.require_email_verification is not None:
            return self.require_email_verification
        return self.app_env in ("staging", "production")

    @property
    def sso_callback_url(self) -> str:
        return self.sso_redirect_url or f"{self.frontend_url.rstrip('/')}/api/auth/sso/callback"

    @property
    def sso_logout_return_url(self) -> str:
        return self.sso_post_logout_redirect_url or (
            f"{self.frontend_url.rstrip('/')}/login?reason=logged_out"
        )

    @property
    def json_logs(self) -> bool:
        if self.log_format != "auto":
            return self.log_format == "json"
        return self.app_env in ("staging", "production")


class ConfigurationError(SystemExit):
    """Raised at start-up for invalid settings: a readable message and a non-zero exit, no trace."""


def describe_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]).upper()
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  - {name}: {message}" if name else f"  - {message}")
    return "\n".join(lines)


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(
            "KOIKI-FW refuses to start, the settings are invalid:\n" + describe_errors(exc)
        ) from None
