"""An app with probe routes behind the full middleware stack, reachable from chosen client IPs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from libkoiki.app_factory import create_app
from libkoiki.ratelimit import check_rate_limit, rate_limit
from tests.conftest import REDIS_SERVER_URL, base_settings
from tests.support.servers import RedisServer

probe = APIRouter(prefix="/api/v1/edge")
auth_probe = APIRouter(prefix="/api/v1/auth")


class Item(BaseModel):
    name: str = Field(min_length=1)


@probe.get("/ping")
async def ping(request: Request) -> dict[str, Any]:
    return {"client_ip": request.state.client_ip}


@probe.get("/varies")
async def varies(response: Response) -> dict[str, bool]:
    response.headers["Vary"] = "Accept-Language"
    return {"ok": True}


@probe.post("/echo")
async def echo(request: Request) -> dict[str, int]:
    return {"received": len(await request.body())}


@probe.post("/items")
async def create_item(item: Item) -> Item:
    return item


@probe.get("/boom")
async def boom() -> None:
    raise RuntimeError("unexpected failure in a handler")


@probe.get("/strict", dependencies=[rate_limit("2/minute", scope="edge-strict", per="ip")])
async def strict() -> dict[str, bool]:
    return {"ok": True}


@probe.get("/per-user", dependencies=[rate_limit("2/minute", scope="edge-user", per="user")])
async def per_user() -> dict[str, bool]:
    return {"ok": True}


@probe.post("/reset-request")
async def reset_request(request: Request, email: str) -> dict[str, bool]:
    await check_rate_limit(request, "2/minute", scope="edge-email", key=email)
    return {"ok": True}


@auth_probe.get("/edge-probe")
async def auth_page() -> dict[str, str]:
    return {"token": "not-a-real-token"}


EdgeClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
EdgeAppFactory = Callable[..., AbstractAsyncContextManager[FastAPI]]
DEFAULT_CLIENT = ("203.0.113.10", 40000)


def client_for(app: FastAPI, ip: str = DEFAULT_CLIENT[0], port: int = 40000) -> httpx.AsyncClient:
    """An HTTP client reaching `app` from the TCP peer `ip:port` (close it after use)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, port))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
def edge_app(database_url: str, migrated_engine: Any) -> EdgeAppFactory:
    """`edge_app(**setting_overrides)` -> a started app with the probe routes.

    Every call builds its own app instance: two calls with the same Redis are two replicas.
    """

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[FastAPI]:
        app = create_app(base_settings(database_url, **overrides), routers=[probe, auth_probe])
        async with LifespanManager(app):
            yield app

    return factory


@pytest.fixture
def edge_client(edge_app: EdgeAppFactory) -> EdgeClientFactory:
    """`edge_client(client=("1.2.3.4", 123), **setting_overrides)` -> a client of a new app."""

    @asynccontextmanager
    async def factory(
        client: tuple[str, int] = DEFAULT_CLIENT, **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        async with edge_app(**overrides) as app, client_for(app, *client) as http_client:
            yield http_client

    return factory


@pytest.fixture(scope="session")
def _private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer | None]:
    if REDIS_SERVER_URL:
        yield None
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def shared_redis_url(_private_redis: RedisServer | None) -> AsyncIterator[str]:
    """The suite's Redis when there is one, else a private server: sharing needs a real Redis."""
    if _private_redis is None:
        assert REDIS_SERVER_URL is not None
        yield REDIS_SERVER_URL  # the suite clears the run's key prefix after each test
        return
    yield _private_redis.url
    client = Redis.from_url(_private_redis.url)
    await client.flushdb()  # our own server: nobody else's keys live there
    await client.aclose()
