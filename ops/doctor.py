"""`ops doctor`: the deployment guide's troubleshooting section as checks with a verdict.

Each check answers one question an operator asks when the service misbehaves, says what it saw,
and how to fix it. The exit code is 0 when nothing failed (warnings allowed, unless --strict),
1 otherwise, so scripts and CI can gate on it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import smtplib
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError, model_validator
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from libkoiki.config import MIN_SECRET_LENGTH, PLACEHOLDER_SECRETS, Settings
from libkoiki.db.failover import connect_to_each_host_in_turn
from libkoiki.db.migrations import alembic_config
from libkoiki.mail.sender import IMPLICIT_TLS_PORT, open_smtp
from libkoiki.redis_client import SENTINEL_SCHEME, connect, describe_redis_url, parse_sentinel_url
from ops.backup import human_size, list_backups
from ops.database import PgTarget, describe_error
from ops.replication import server_state, servers_of, verdict
from ops.sentinel import survey
from ops.settings import validation_lines

Status = Literal["ok", "warn", "fail", "skip"]
_MARK = {"ok": "  ok ", "warn": " WARN", "fail": " FAIL", "skip": " skip"}
_TIMEOUT = 5.0
# Passwords that ship in examples (compose defaults, the guide's CI file).
_DEFAULT_DB_PASSWORDS = frozenset({"koiki_password", "password", "postgres", "test_password"})
_MIN_FREE_BYTES = 1024**3


@dataclass
class CheckResult:
    name: str
    status: Status
    summary: str
    hint: str | None = None


class _LenientSettings(Settings):
    """Settings without the production safety rules: lets the doctor go on checking the database
    and Redis when the only problem is, say, a weak secret (reported by the settings check)."""

    @model_validator(mode="after")
    def _production_safety(self) -> _LenientSettings:
        if self.rate_limit_strategy is None:
            self.rate_limit_strategy = "redis" if self.redis_url else "memory"
        return self


def check_settings() -> tuple[CheckResult, Settings | None]:
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = validation_lines(exc)
        result = CheckResult(
            "settings",
            "fail",
            "invalid: " + "; ".join(problems),
            "fix the variables named above in the environment or .env (see .env.example)",
        )
        try:
            return result, _LenientSettings()
        except ValidationError:
            return result, None
    return CheckResult("settings", "ok", f"valid (APP_ENV={settings.app_env})"), settings


def _secret_problem(name: str, value: str) -> str | None:
    if value.lower() in PLACEHOLDER_SECRETS or "change-me" in value.lower():
        return f"{name} is a placeholder/default value"
    if len(value) < MIN_SECRET_LENGTH:
        return f"{name} has {len(value)} characters (at least {MIN_SECRET_LENGTH})"
    if len(set(value)) < 10:
        return f"{name} uses only {len(set(value))} distinct characters"
    return None


def check_secrets(settings: Settings) -> CheckResult:
    problems = []
    secret_key = settings.secret_key.get_secret_value()
    jwt_secret = settings.jwt_secret.get_secret_value()
    for name, value in (("SECRET_KEY", secret_key), ("JWT_SECRET", jwt_secret)):
        if problem := _secret_problem(name, value):
            problems.append(problem)
    if secret_key == jwt_secret:
        problems.append("JWT_SECRET equals SECRET_KEY")
    if not settings.is_sqlite:
        password = PgTarget.from_url(settings.database_url).password
        if password is not None and password.lower() in _DEFAULT_DB_PASSWORDS:
            problems.append("the database password is an example default")
    if not problems:
        return CheckResult("secrets", "ok", "strong enough for " + settings.app_env)
    strict = settings.app_env in ("production", "staging")
    return CheckResult(
        "secrets",
        "fail" if strict else "warn",
        "; ".join(problems),
        "generate each with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        + ("" if strict else " (acceptable on a developer machine only)"),
    )


def check_http_edge(settings: Settings) -> CheckResult:
    """What a browser-facing production deployment needs beyond what the settings enforce."""
    if settings.app_env not in ("production", "staging"):
        return CheckResult("http-edge", "ok", f"not checked for {settings.app_env}")
    problems = []
    if "*" in settings.trusted_hosts:
        problems.append("TRUSTED_HOSTS allows any Host header")
    plain = [o for o in settings.cors_origins if o.startswith("http://")]
    if plain:
        problems.append(f"CORS_ORIGINS has plain-HTTP origins ({', '.join(plain)})")
    if not settings.cors_origins:
        problems.append("CORS_ORIGINS is empty (browsers on other origins cannot call the API)")
    if not problems:
        return CheckResult("http-edge", "ok", "hosts and origins restricted")
    return CheckResult(
        "http-edge",
        "warn",
        "; ".join(problems),
        "set TRUSTED_HOSTS and CORS_ORIGINS to the public host name and https:// origin",
    )


def _smtp_handshake(settings: Settings) -> None:
    """Everything the app does before sending (connect, TLS, login), then a polite QUIT."""
    with open_smtp(settings, timeout=_TIMEOUT) as smtp:
        smtp.noop()


async def check_mail(settings: Settings) -> CheckResult:
    """Confirmation and password-reset links reach people only through SMTP."""
    if not settings.smtp_host:
        if settings.app_env == "development":
            return CheckResult("mail", "ok", "SMTP_HOST unset: mails are logged (development)")
        if settings.email_verification_on:
            return CheckResult(
                "mail",
                "fail",
                "SMTP_HOST is unset while REQUIRE_EMAIL_VERIFICATION is on: confirmation mails"
                " are only logged, so a new account can never sign in",
                "set SMTP_HOST (SMTP_USER, SMTP_PASSWORD), or REQUIRE_EMAIL_VERIFICATION=false"
                " where admins create the accounts",
            )
        return CheckResult(
            "mail",
            "warn",
            "SMTP_HOST is unset: password-reset mails are only logged",
            "set SMTP_HOST (SMTP_USER, SMTP_PASSWORD)",
        )
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        await asyncio.to_thread(_smtp_handshake, settings)
    except (smtplib.SMTPException, OSError) as exc:
        return CheckResult(
            "mail",
            "fail",
            f"{where}: {type(exc).__name__}: {exc}",
            "check SMTP_HOST, SMTP_PORT, SMTP_TLS and the credentials; can this host reach it?",
        )
    secured = "TLS" if settings.smtp_port == IMPLICIT_TLS_PORT or settings.smtp_tls else "no TLS"
    login = ", logged in" if settings.smtp_user else ""
    return CheckResult("mail", "ok", f"{where} answered ({secured}{login})")


async def _timed_ms(probe: Callable[[], Awaitable[Any]], samples: int = 3) -> float:
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        await asyncio.wait_for(probe(), _TIMEOUT)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


async def check_database(settings: Settings) -> tuple[CheckResult, int | None, int | None]:
    """Return the check and, on PostgreSQL, the database size in bytes and the server's major
    version (the backup check compares pg_dump's with it)."""
    engine = create_async_engine(
        settings.database_url,
        poolclass=NullPool,
        connect_args={} if settings.is_sqlite else {"timeout": _TIMEOUT},
    )
    connect_to_each_host_in_turn(engine)
    where = (
        settings.database_url.split("///", 1)[-1]
        if settings.is_sqlite
        else PgTarget.from_url(settings.database_url).describe()
    )
    try:
        async with engine.connect() as connection:
            latency = await _timed_ms(lambda: connection.execute(text("SELECT 1")))
            size = major = None
            version = "SQLite"
            if not settings.is_sqlite:
                version = "PostgreSQL " + str(await connection.scalar(text("SHOW server_version")))
                major = int(await connection.scalar(text("SHOW server_version_num"))) // 10000
                size = int(
                    await connection.scalar(text("SELECT pg_database_size(current_database())"))
                )
    except Exception as exc:
        return (
            CheckResult(
                "database",
                "fail",
                f"cannot reach {where}: {describe_error(exc)}",
                "is the database running (docker compose ps db; docker compose logs db)? "
                "Is DATABASE_URL's host, port, user, password and name right?",
            ),
            None,
            None,
        )
    finally:
        await engine.dispose()
    status: Status = "ok" if latency < 50 else "warn"
    hint = None if status == "ok" else "high latency: check the network path and the DB load"
    size_text = f", {human_size(size)}" if size is not None else ""
    return (
        CheckResult(
            "database", status, f"{where} reachable, {version}, {latency:.1f} ms{size_text}", hint
        ),
        size,
        major,
    )


def _current_heads(sync_connection: Any) -> set[str]:
    return set(MigrationContext.configure(sync_connection).get_current_heads())


async def check_migrations(settings: Settings) -> CheckResult:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    engine = create_async_engine(settings.database_url, poolclass=NullPool)
    connect_to_each_host_in_turn(engine)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(_current_heads)
    finally:
        await engine.dispose()
    shown = ", ".join(sorted(current)) or "<empty>"
    if current == heads:
        return CheckResult("migrations", "ok", f"at head ({shown})")
    unknown = current - set(_all_revisions())
    if unknown:
        return CheckResult(
            "migrations",
            "fail",
            f"database is at {shown}, unknown to this code (newer release deployed before?)",
            "deploy the release that wrote it, or restore a matching backup",
        )
    return CheckResult(
        "migrations",
        "fail",
        f"database at {shown}, code expects {', '.join(sorted(heads))}",
        "run: python -m ops migrate (the container entrypoint does it on start)",
    )


def _all_revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in script.walk_revisions()]


async def check_redis(settings: Settings) -> CheckResult:
    if not settings.redis_url:
        if settings.app_env in ("production", "staging"):
            return CheckResult(
                "redis",
                "warn",
                "REDIS_URL not set: rate limits and lockouts are per process",
                "with more than one replica, set REDIS_URL so every replica shares them",
            )
        return CheckResult("redis", "ok", "not configured (in-process fallbacks)")
    view = None
    if settings.redis_url.startswith(f"{SENTINEL_SCHEME}://"):
        target = parse_sentinel_url(settings.redis_url)
        view = await survey(target, settings.redis_sentinel_password, _TIMEOUT)
    client = connect(
        settings.redis_url,
        timeout_seconds=_TIMEOUT,
        sentinel_password=settings.redis_sentinel_password,
        role="doctor",
    )
    try:
        latency = await _timed_ms(client.ping)
    except Exception as exc:
        return CheckResult(
            "redis",
            "fail",
            f"cannot reach Redis ({describe_redis_url(settings.redis_url)}): {describe_error(exc)}"
            + (f"; {'; '.join(view.problems)}" if view is not None and view.problems else ""),
            "is Redis running (docker compose ps redis)? Check REDIS_URL and its password"
            + ("; and the sentinels (REDIS_SENTINEL_PASSWORD)" if view is not None else ""),
        )
    finally:
        await client.aclose()
    status: Status = "ok" if latency < 20 else "warn"
    if view is None:
        return CheckResult("redis", status, f"reachable, {latency:.1f} ms")
    summary = f"master {', '.join(sorted(view.masters))} reachable, {latency:.1f} ms; "
    summary += view.summary(target)
    if view.problems:
        return CheckResult(
            "redis",
            "warn",
            f"{summary}; {'; '.join(view.problems)}",
            "start the missing sentinels/replica (docker compose -f docker-compose.prod.yml"
            " -f docker-compose.ha.yml ps); see docs/operations.md, Redis Sentinel",
        )
    return CheckResult("redis", status, summary)


def _pg_dump_major() -> int | None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        return None
    completed = subprocess.run([pg_dump, "--version"], capture_output=True, text=True, check=False)
    for word in completed.stdout.split():
        head = word.split(".")[0]
        if head.isdigit():
            return int(head)
    return None


def _existing_ancestor(path: Path) -> Path:
    path = path.resolve()
    while not path.exists():
        path = path.parent
    return path


def check_backups(
    settings: Settings, database_size: int | None, server_major: int | None
) -> CheckResult:
    backup_dir = settings.backup_dir
    anchor = _existing_ancestor(backup_dir)
    if not os.access(anchor, os.W_OK):
        return CheckResult(
            "backups",
            "fail",
            f"BACKUP_DIR {backup_dir} is not writable by this user",
            "mount a writable volume there or change BACKUP_DIR",
        )
    free = shutil.disk_usage(anchor).free
    existing = list_backups(backup_dir)
    # The next dump is about as big as the last one; with none yet, a custom-format dump is
    # usually well under the live database size, which is a safe upper estimate.
    expected = existing[-1].path.stat().st_size if existing else (database_size or 0)
    notes = [f"{human_size(free)} free in {backup_dir}", f"{len(existing)} backups"]
    if existing:
        notes.append(f"latest {existing[-1].path.name}")
    problems = []
    status: Status = "ok"
    if free < expected:
        status = "fail"
        problems.append(f"not enough space for a backup of about {human_size(expected)}")
    elif free < max(3 * expected, _MIN_FREE_BYTES):
        status = "warn"
        problems.append("less than 3 backups' worth of free space")
    if not settings.is_sqlite:
        client_major = _pg_dump_major()
        if client_major is None:
            status = "fail" if status == "fail" else "warn"
            problems.append("pg_dump not installed (apt-get install postgresql-client)")
        elif server_major is not None and client_major < server_major:
            status = "fail" if status == "fail" else "warn"
            problems.append(f"pg_dump {client_major} is older than the server ({server_major})")
    summary = ", ".join(notes)
    if problems:
        summary += "; " + "; ".join(problems)
    return CheckResult(
        "backups",
        status,
        summary,
        "free space or lower BACKUP_RETENTION_DAYS" if status != "ok" else None,
    )


async def run_checks() -> list[CheckResult]:
    settings_result, settings = check_settings()
    results = [settings_result]
    if settings is None:
        for name in ("secrets", "http-edge", "mail", "database", "migrations", "redis", "backups"):
            results.append(CheckResult(name, "skip", "settings could not be read"))
        return results
    results.append(check_secrets(settings))
    results.append(check_http_edge(settings))
    results.append(await check_mail(settings))
    database_result, database_size, server_major = await check_database(settings)
    results.append(database_result)
    if database_result.status == "fail":
        results.append(CheckResult("migrations", "skip", "database unreachable"))
    else:
        results.append(await check_migrations(settings))
    results.append(await check_redis(settings))
    results.append(check_backups(settings, database_size, server_major))
    replication = await check_replication(settings)
    if replication is not None:
        results.append(replication)
    if settings.oidc_providers:
        results.append(await check_sso(settings))
    return results


async def check_sso(settings: Settings) -> CheckResult:
    """Each identity provider's discovery document and signing keys, fetched as a sign-in would."""
    from libkoiki.errors import AppError
    from libkoiki.sso.oidc import check_provider

    seen, problems = [], []
    for provider in settings.oidc_providers:
        try:
            keys = await asyncio.wait_for(check_provider(provider), _TIMEOUT * 3)
        except (AppError, TimeoutError):
            problems.append(
                f"{provider.name}: no valid discovery document or JWKS at {provider.issuer}"
            )
            continue
        seen.append(f"{provider.name} ({keys} signing key{'s' if keys != 1 else ''})")
    if problems:
        return CheckResult(
            "sso",
            "fail",
            "; ".join(problems + seen),
            "check the issuer URL of OIDC_PROVIDERS (its /.well-known/openid-configuration must "
            "name that same issuer) and that this host can reach the provider (proxy, firewall)",
        )
    return CheckResult("sso", "ok", "providers answer: " + ", ".join(seen))


async def check_replication(settings: Settings) -> CheckResult | None:
    """With several servers (a multi-host DATABASE_URL, or read replicas): each one's role,
    how its standbys stream and how far behind each standby is. None with a single server."""
    if settings.is_sqlite:
        return None
    servers = servers_of(settings.database_url, settings.database_read_url)
    if len(servers) < 2:
        return None
    states = await asyncio.gather(
        *(server_state(server, settings.database_read_max_lag_seconds) for server in servers)
    )
    status, summary, hint = verdict(list(states))
    return CheckResult("replication", status, summary, hint)  # type: ignore[arg-type]


def exit_code(results: list[CheckResult], *, strict: bool) -> int:
    bad = {"fail", "warn"} if strict else {"fail"}
    return 1 if any(r.status in bad for r in results) else 0


def render(results: list[CheckResult], out: TextIO) -> None:
    print("KOIKI-FW doctor", file=out)
    width = max(len(r.name) for r in results)
    for result in results:
        print(f"[{_MARK[result.status]}] {result.name:<{width}}  {result.summary}", file=out)
        if result.hint:
            print(f"        {'':<{width}}  -> {result.hint}", file=out)
    counts = {status: sum(r.status == status for r in results) for status in _MARK}
    print(
        f"{counts['ok']} ok, {counts['warn']} warnings, {counts['fail']} failures, "
        f"{counts['skip']} skipped",
        file=out,
    )


def render_json(results: list[CheckResult], out: TextIO) -> None:
    json.dump({"checks": [asdict(r) for r in results]}, out, indent=2)
    out.write("\n")
