"""Shared fixtures: one database per test run, a fresh app per test, state reset after each test.

Backend selection (the same suite runs on both):
- default: the embedded setup, a SQLite file in a temporary folder and in-process fallbacks;
- `KOIKI_TEST_DATABASE_URL` (a PostgreSQL server URL; the run creates and drops its own database)
  and `KOIKI_TEST_REDIS_URL`: PostgreSQL + Redis. An unreachable server fails the run.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

import app.models  # noqa: F401  (registers every table)
from app.main import create_app
from libkoiki.config import Settings
from libkoiki.db import Base
from libkoiki.db.migrations import alembic_config
from tests.support.databases import scratch_database
from tests.support.servers import RedisServer

pytest_plugins = ["tests.fixtures.auth", "tests.fixtures.sso"]

POSTGRES_SERVER_URL = os.environ.get("KOIKI_TEST_DATABASE_URL")
REDIS_SERVER_URL = os.environ.get("KOIKI_TEST_REDIS_URL")
RUN_ID = uuid.uuid4().hex[:10]

# Strong enough for the production checks, obviously not a real secret.
TEST_SECRET = "test-secret-key-0123456789abcdef0123456789"
TEST_JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789"

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def pytest_report_header(config: pytest.Config) -> str:
    database = "PostgreSQL" if POSTGRES_SERVER_URL else "SQLite (embedded)"
    redis = "Redis" if REDIS_SERVER_URL else "in-process"
    return f"koiki backends: database={database}, shared state={redis}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if POSTGRES_SERVER_URL:
        return
    reason = "PostgreSQL-only behaviour: runs in the PostgreSQL + Redis pass"
    for item in items:
        if item.get_closest_marker("postgres_only"):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with scratch_database(
        POSTGRES_SERVER_URL, tmp_path_factory.mktemp("db"), f"koiki_test_{RUN_ID}"
    ) as url:
        yield url


# Rows the migrations themselves insert (built-in roles...), restored after every test.
_seed_rows: dict[str, list[dict[str, Any]]] = {}


@pytest.fixture(scope="session")
async def migrated_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    # env.py runs its own event loop, so Alembic gets a thread of its own.
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")
    engine = create_async_engine(database_url)
    _seed_rows.update(await snapshot_rows(engine))
    yield engine
    await engine.dispose()


async def snapshot_rows(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, to put back later with `restore_rows`."""
    async with engine.connect() as connection:
        return {
            table.name: [dict(row) for row in (await connection.execute(select(table))).mappings()]
            for table in Base.metadata.sorted_tables
        }


async def restore_rows(engine: AsyncEngine, rows: dict[str, list[dict[str, Any]]]) -> None:
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))
        for table in Base.metadata.sorted_tables:
            if rows.get(table.name):
                await connection.execute(insert(table), rows[table.name])


async def restore_seed_state(engine: AsyncEngine) -> None:
    await restore_rows(engine, _seed_rows)


def base_settings(database_url: str, /, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": "test",
        "database_url": database_url,
        "redis_url": REDIS_SERVER_URL,
        "redis_key_prefix": f"koiki-test-{RUN_ID}:",
        "secret_key": TEST_SECRET,
        "jwt_secret": TEST_JWT_SECRET,
        "log_level": "INFO",
        "log_format": "json",
        # Never the developer's var/maintenance.json: a switch left on would fail every test.
        "maintenance_file": Path(tempfile.gettempdir()) / f"koiki-test-{RUN_ID}-maintenance.json",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def settings(database_url: str, migrated_engine: AsyncEngine) -> Settings:
    return base_settings(database_url)


@pytest.fixture
def make_app(database_url: str, migrated_engine: AsyncEngine) -> Callable[..., FastAPI]:
    def factory(**overrides: Any) -> FastAPI:
        return create_app(base_settings(database_url, **overrides))

    return factory


@pytest.fixture
def make_client(make_app: Callable[..., FastAPI]) -> ClientFactory:
    """Start an app instance (lifespan included) and give an HTTP client for it.

    Two clients from this factory are two replicas sharing the same database and Redis.
    """

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        application = make_app(**overrides)
        async with (
            LifespanManager(application),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application), base_url="http://testserver"
            ) as http_client,
        ):
            yield http_client

    return factory


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as http_client:
        yield http_client


@pytest.fixture
async def db_session(migrated_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(migrated_engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture(scope="session")
async def _redis_answers() -> None:
    """With KOIKI_TEST_REDIS_URL set, a Redis that does not answer fails the run at once."""
    if not REDIS_SERVER_URL:
        return
    client = Redis.from_url(REDIS_SERVER_URL, socket_connect_timeout=3)
    try:
        await client.ping()
    except RedisError as exc:
        pytest.fail(f"KOIKI_TEST_REDIS_URL is set but Redis does not answer: {exc}", pytrace=False)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_client(_redis_answers: None) -> AsyncIterator[Redis | None]:
    if not REDIS_SERVER_URL:
        yield None
        return
    client = Redis.from_url(REDIS_SERVER_URL)
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
async def _reset_state(
    request: pytest.FixtureRequest, redis_client: Redis | None
) -> AsyncIterator[None]:
    yield
    if "migrated_engine" in request.fixturenames:
        await restore_seed_state(request.getfixturevalue("migrated_engine"))
    if redis_client is not None:
        keys = [key async for key in redis_client.scan_iter(match=f"koiki-test-{RUN_ID}:*")]
        if keys:
            await redis_client.delete(*keys)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, to stop and start: the shared one is never touched."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
