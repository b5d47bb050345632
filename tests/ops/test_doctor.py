"""`python -m ops doctor` against real services: a readable verdict per check and an exit code."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.fixtures.auth import SmtpServer
from tests.ops.support import (
    STRONG_JWT_SECRET,
    STRONG_SECRET,
    ScratchDatabase,
    free_port,
    ops_env,
    run_ops,
)
from tests.support.oidc import LoopbackOP

pytestmark = pytest.mark.postgres_only


def _lines(output: str) -> dict[str, str]:
    """check name -> its report line."""
    found = {}
    for line in output.splitlines():
        if line.startswith("["):
            name = line.split("]", 1)[1].split()[0]
            found[name] = line
    return found


def _production_env(database: ScratchDatabase, backup_dir: Path) -> dict[str, str]:
    values = {
        "APP_ENV": "production",
        "DATABASE_URL": database.url,
        "SECRET_KEY": STRONG_SECRET,
        "JWT_SECRET": STRONG_JWT_SECRET,
        "CORS_ORIGINS": "https://koiki.example",
        "TRUSTED_HOSTS": "koiki.example,localhost",
        "BACKUP_DIR": str(backup_dir),
    }
    redis_url = os.environ.get("KOIKI_TEST_REDIS_URL")
    if redis_url:
        values["REDIS_URL"] = redis_url
    return ops_env(**values)


@pytest.fixture
def production_env(scratch_db: ScratchDatabase, tmp_path: Path) -> dict[str, str]:
    """Production settings on an empty database."""
    return _production_env(scratch_db, tmp_path / "backups")


@pytest.fixture
def migrated(
    migrated_db: ScratchDatabase, tmp_path: Path, smtp_server: SmtpServer
) -> dict[str, str]:
    """Production settings on a database at head, mailing through a loopback SMTP server."""
    return {
        **_production_env(migrated_db, tmp_path / "backups"),
        "SMTP_HOST": smtp_server.host,
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_TLS": "false",
    }


def test_healthy_production_setup_passes(migrated: dict[str, str], workdir: Path) -> None:
    completed = run_ops("doctor", env=migrated, cwd=workdir)
    assert completed.returncode == 0, completed.stdout
    lines = _lines(completed.stdout)
    assert set(lines) == {
        *("settings", "secrets", "http-edge", "mail", "database", "migrations", "redis", "backups")
    }
    assert "answered (no TLS)" in lines["mail"]
    for name in ("settings", "secrets", "http-edge", "mail", "database", "migrations"):
        assert lines[name].startswith("[  ok ]"), lines[name]
    assert "APP_ENV=production" in lines["settings"]
    assert " ms" in lines["database"]  # latency is measured
    assert "at head" in lines["migrations"]
    if "REDIS_URL" in migrated:
        assert lines["redis"].startswith("[  ok ]"), lines["redis"]
    assert "0 failures" in completed.stdout


def test_weak_secret_is_reported_with_a_non_zero_exit(
    migrated: dict[str, str], workdir: Path
) -> None:
    env = {**migrated, "SECRET_KEY": "too-short"}
    completed = run_ops("doctor", env=env, cwd=workdir)
    assert completed.returncode == 1
    lines = _lines(completed.stdout)
    assert lines["settings"].startswith("[ FAIL]")
    assert "SECRET_KEY must be at least 32 characters" in lines["settings"]
    assert lines["secrets"].startswith("[ FAIL]")
    assert "secrets.token_urlsafe" in completed.stdout  # how to fix it
    # The other checks still ran, so one bad setting does not hide a second problem.
    assert lines["database"].startswith("[  ok ]")
    assert lines["migrations"].startswith("[  ok ]")


def test_unreachable_database_fails_and_skips_migrations(
    production_env: dict[str, str], workdir: Path
) -> None:
    env = {**production_env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x"}
    completed = run_ops("doctor", env=env, cwd=workdir)
    assert completed.returncode == 1
    lines = _lines(completed.stdout)
    assert lines["database"].startswith("[ FAIL]")
    assert "cannot reach" in lines["database"]
    assert "docker compose logs db" in completed.stdout
    assert lines["migrations"].startswith("[ skip]")


def test_pending_migrations_fail(production_env: dict[str, str], workdir: Path) -> None:
    completed = run_ops("doctor", env=production_env, cwd=workdir)
    assert completed.returncode == 1
    line = _lines(completed.stdout)["migrations"]
    assert line.startswith("[ FAIL]")
    assert "<empty>" in line
    assert "python -m ops migrate" in completed.stdout


@pytest.mark.parametrize(
    ("mail", "status", "said"),
    [
        ({"SMTP_HOST": ""}, "[ FAIL]", "a new account can never sign in"),
        (
            {"SMTP_HOST": "", "REQUIRE_EMAIL_VERIFICATION": "false"},
            "[ WARN]",
            "password-reset mails are only logged",
        ),
        ({"SMTP_PORT": str(free_port())}, "[ FAIL]", "ConnectionRefusedError"),
    ],
)
def test_mail_that_cannot_reach_people_is_reported(
    migrated: dict[str, str], workdir: Path, mail: dict[str, str], status: str, said: str
) -> None:
    completed = run_ops("doctor", env={**migrated, **mail}, cwd=workdir)
    line = _lines(completed.stdout)["mail"]
    assert line.startswith(status), line
    assert said in line
    assert completed.returncode == (1 if status == "[ FAIL]" else 0)
    assert "SMTP_HOST" in completed.stdout  # the fix is named


def test_unreachable_redis_fails(migrated: dict[str, str], workdir: Path) -> None:
    env = {**migrated, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    completed = run_ops("doctor", env=env, cwd=workdir)
    assert completed.returncode == 1
    assert _lines(completed.stdout)["redis"].startswith("[ FAIL]")


def test_open_hosts_and_plain_http_origins_are_warned_about(
    migrated: dict[str, str], workdir: Path
) -> None:
    env = {**migrated, "TRUSTED_HOSTS": "*", "CORS_ORIGINS": "http://koiki.example"}
    completed = run_ops("doctor", env=env, cwd=workdir)
    assert completed.returncode == 0, completed.stdout  # warnings only
    line = _lines(completed.stdout)["http-edge"]
    assert line.startswith("[ WARN]")
    assert "TRUSTED_HOSTS allows any Host header" in line
    assert "http://koiki.example" in line


def test_json_output_and_strict_mode(migrated: dict[str, str], workdir: Path) -> None:
    env = {k: v for k, v in migrated.items() if k != "REDIS_URL"}  # production without Redis
    completed = run_ops("doctor", "--json", env=env, cwd=workdir)
    assert completed.returncode == 0, completed.stdout
    checks = {c["name"]: c for c in json.loads(completed.stdout)["checks"]}
    assert checks["redis"]["status"] == "warn"
    assert "per process" in checks["redis"]["summary"]
    strict = run_ops("doctor", "--strict", env=env, cwd=workdir)
    assert strict.returncode == 1


def test_each_identity_provider_is_checked(
    migrated: dict[str, str], workdir: Path, test_op: LoopbackOP
) -> None:
    answering = test_op.provider_entry()
    silent = {**answering, "name": "gone", "issuer": f"http://127.0.0.1:{free_port()}"}
    env = {**migrated, "OIDC_PROVIDERS": json.dumps([answering])}
    healthy = run_ops("doctor", env=env, cwd=workdir)
    assert healthy.returncode == 0, healthy.stdout
    assert "providers answer: testop (1 signing key)" in _lines(healthy.stdout)["sso"]

    env["OIDC_PROVIDERS"] = json.dumps([answering, silent])
    broken = run_ops("doctor", env=env, cwd=workdir)
    assert broken.returncode == 1
    line = _lines(broken.stdout)["sso"]
    assert "FAIL" in line
    assert "gone: no valid discovery document or JWKS" in line
