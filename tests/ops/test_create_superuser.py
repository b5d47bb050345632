"""`python -m ops create-superuser`: the account it creates can log in through the real API, a
re-run changes nothing, and bad input is refused with the reason. Runs on SQLite and, in the
PostgreSQL pass, on a database of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.main import create_app
from libkoiki.config import Settings
from libkoiki.db.migrations import alembic_config
from tests.conftest import POSTGRES_SERVER_URL
from tests.ops.support import (
    STRONG_JWT_SECRET,
    STRONG_SECRET,
    ops_env,
    run_ops,
)
from tests.support.databases import scratch_database

PASSWORD = "Quiet-Harbour-Lantern-42"


def _env(database_url: str) -> dict[str, str]:
    return ops_env(
        DATABASE_URL=database_url, SECRET_KEY=STRONG_SECRET, JWT_SECRET=STRONG_JWT_SECRET
    )


@pytest.fixture(scope="module")
async def superuser_template(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A database migrated once; each test works on a copy of it."""
    folder = tmp_path_factory.mktemp("ops-su-template")
    name = f"koiki_ops_su_{uuid.uuid4().hex[:8]}"
    async with scratch_database(POSTGRES_SERVER_URL, folder, name) as url:
        # Alembic in this process: no interpreter to start. env.py runs a loop of its own.
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
        yield url


@pytest.fixture
async def ops_database_url(tmp_path: Path, superuser_template: str) -> AsyncIterator[str]:
    name = f"koiki_ops_su_{uuid.uuid4().hex[:8]}"
    async with scratch_database(
        POSTGRES_SERVER_URL, tmp_path, name, template=superuser_template
    ) as url:
        yield url


@pytest.fixture
def env(ops_database_url: str) -> dict[str, str]:
    return _env(ops_database_url)


async def _superusers(url: str) -> list[tuple[str, str]]:
    engine = create_async_engine(Settings(database_url=url).database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT email, hashed_password FROM users WHERE is_superuser")
            )
            return [(row[0], row[1]) for row in rows]
    finally:
        await engine.dispose()


async def _login(url: str, email: str, password: str) -> httpx.Response:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        app_env="test",
        database_url=url,
        secret_key=STRONG_SECRET,
        jwt_secret=STRONG_JWT_SECRET,
        rate_limit_enabled=False,
        # As in production: the operator vouches for the address, so the login is not refused.
        require_email_verification=True,
    )
    application = create_app(settings)
    async with (
        LifespanManager(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as client,
    ):
        return await client.post(
            "/api/v1/auth/login", data={"username": email, "password": password}
        )


async def test_created_superuser_can_log_in_and_rerun_changes_nothing(
    env: dict[str, str], ops_database_url: str, workdir: Path
) -> None:
    created = run_ops(
        "create-superuser",
        "--email",
        "Admin@Example.com",
        "--full-name",
        "First Admin",
        "--password-stdin",
        env=env,
        cwd=workdir,
        stdin=PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stderr
    assert "created admin@example.com" in created.stderr
    assert PASSWORD not in created.stdout + created.stderr
    [(email, password_hash)] = await _superusers(ops_database_url)
    assert email == "admin@example.com"
    assert PASSWORD not in password_hash

    response = await _login(ops_database_url, "admin@example.com", PASSWORD)
    assert response.status_code == 200, response.text
    assert response.json()["access_token"]

    # The entrypoint runs it on every start: an existing superuser keeps its password.
    again = run_ops(
        "create-superuser",
        "--if-configured",
        env={
            **env,
            "FIRST_SUPERUSER_EMAIL": "admin@example.com",
            "FIRST_SUPERUSER_PASSWORD": "Another-Password-Entirely-7",
        },
        cwd=workdir,
    )
    assert again.returncode == 0, again.stderr
    assert "already exists; left unchanged" in again.stderr
    assert await _superusers(ops_database_url) == [(email, password_hash)]


async def test_if_configured_skips_without_settings_and_uses_them_when_set(
    env: dict[str, str], ops_database_url: str, workdir: Path
) -> None:
    skipped = run_ops("create-superuser", "--if-configured", env=env, cwd=workdir)
    assert skipped.returncode == 0
    assert "skipped" in skipped.stderr
    assert await _superusers(ops_database_url) == []

    configured = {
        **env,
        "FIRST_SUPERUSER_EMAIL": "root@example.com",
        "FIRST_SUPERUSER_PASSWORD": PASSWORD,
    }
    created = run_ops("create-superuser", "--if-configured", env=configured, cwd=workdir)
    assert created.returncode == 0, created.stderr
    assert [e for e, _ in await _superusers(ops_database_url)] == ["root@example.com"]


@pytest.mark.parametrize(
    ("email", "password", "code", "message"),
    [
        ("ok@example.com", "short", 1, "at least 8 characters"),
        ("ok@example.com", "Welcome2026", 1, "too easy to guess"),
        ("ok@example.com", "koiki-2026", 1, "name of this service"),
        ("not-an-email", PASSWORD, 1, "not a valid email address"),
        # The rule, stated: the local part (not the whole address) may not appear.
        (
            "admin@example.com",
            "Admin-pass-for-newcomer-1",
            1,
            "password must not contain the email's local part ('admin', the part before the @)",
        ),
        ("ok@example.com", "", 2, "no password"),
    ],
)
async def test_bad_input_is_refused_with_the_reason(
    env: dict[str, str],
    ops_database_url: str,
    workdir: Path,
    email: str,
    password: str,
    code: int,
    message: str,
) -> None:
    completed = run_ops(
        "create-superuser",
        "--email",
        email,
        "--password-stdin",
        env=env,
        cwd=workdir,
        stdin=password + "\n",
    )
    assert completed.returncode == code
    assert message in completed.stderr
    assert await _superusers(ops_database_url) == []
