"""Error bodies, request ids and what reaches the log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Form
from pydantic import BaseModel, Field
from sqlalchemy import text

from libkoiki.app_factory import create_app
from libkoiki.db import SessionDep
from tests.conftest import base_settings

probe = APIRouter(prefix="/probe")


class Item(BaseModel):
    name: str = Field(min_length=1)
    quantity: int = Field(ge=1)


@probe.post("/items", status_code=201)
async def create_item(item: Item) -> Item:
    return item


@probe.post("/login-form")
async def login_form(
    username: Annotated[str, Form()], password: Annotated[str, Form(min_length=200)]
) -> dict[str, str]:
    return {"username": username}


@probe.get("/boom")
async def boom() -> None:
    raise RuntimeError("database password is hunter2-in-the-trace")


@probe.get("/db")
async def touch_database(session: SessionDep) -> dict[str, int]:
    return {"one": (await session.execute(text("SELECT 1"))).scalar_one()}


@probe.get("/overflow")
async def overflow(session: SessionDep) -> None:
    await session.execute(text("SELECT CAST(:value AS bigint)::int"), {"value": 99_999_999_999})


@probe.get("/missing-table")
async def missing_table(session: SessionDep) -> None:
    await session.execute(text("SELECT id FROM table_of_a_later_migration"))


@probe.get("/boom-with-locals")
async def boom_with_locals() -> None:
    password = "hunter2-in-a-local-variable"
    raise RuntimeError(f"failed after {len(password)} characters")


@probe.get("/terminated")
async def terminated(session: SessionDep) -> None:
    # PostgreSQL ends this very connection, as it does to every backend when it shuts down.
    await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))


@probe.get("/silent-timeout")
async def silent_timeout() -> None:
    raise TimeoutError  # a connect timeout carries no message at all


@pytest.fixture
def probe_client(database_url: str, migrated_engine: Any) -> Callable[..., Any]:
    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(base_settings(database_url, **overrides), routers=[probe])
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with (
            LifespanManager(app),
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        ):
            yield client

    return factory


def log_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


async def test_validation_error_names_the_fields(probe_client: Callable[..., Any]) -> None:
    async with probe_client() as client:
        response = await client.post("/probe/items", json={"name": "", "quantity": 0})
    body = response.json()
    assert response.status_code == 422
    assert body["code"] == "validation_error"
    assert body["request_id"] == response.headers["X-Request-ID"]
    fields = {tuple(error["loc"]) for error in body["detail"]}
    assert fields == {("body", "name"), ("body", "quantity")}
    assert all(error["msg"] for error in body["detail"])


async def test_malformed_json_is_a_422_not_a_500(probe_client: Callable[..., Any]) -> None:
    async with probe_client() as client:
        response = await client.post(
            "/probe/items", content=b"{not json", headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_unknown_route_and_method(probe_client: Callable[..., Any]) -> None:
    async with probe_client() as client:
        missing = await client.get("/probe/nothing-here")
        wrong_method = await client.delete("/probe/items")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"


async def test_unhandled_error_is_generic_for_the_client_and_complete_in_the_log(
    probe_client: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    async with probe_client() as client:
        response = await client.get("/probe/boom", headers={"X-Request-ID": "trace-me-42"})
    assert response.status_code == 500
    assert response.json() == {
        "detail": "Internal server error",
        "code": "internal_error",
        "request_id": "trace-me-42",
    }
    assert "hunter2" not in response.text
    errors = [
        line for line in log_lines(capsys.readouterr().err) if line["event"] == "unhandled_error"
    ]
    assert errors, "the 500 must be logged"
    assert errors[0]["request_id"] == "trace-me-42"
    assert "RuntimeError" in errors[0]["exception"]


async def test_unreachable_database_is_503_not_500(probe_client: Callable[..., Any]) -> None:
    # Nothing listens on port 1: the connect is refused at once.
    async with probe_client(database_url="postgresql://nobody@127.0.0.1:1/none") as client:
        response = await client.get("/probe/db")
        liveness = await client.get("/health")
        readiness = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["Retry-After"]
    assert liveness.status_code == 200
    assert readiness.status_code == 503
    assert readiness.json()["checks"]["database"].startswith("error")


@pytest.mark.postgres_only
async def test_a_server_ending_the_connection_is_503_not_500(
    probe_client: Callable[..., Any],
) -> None:
    async with probe_client() as client:
        response = await client.get("/probe/terminated")
        after = await client.get("/probe/db")
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "database_unavailable"
    assert after.status_code == 200  # the pool replaced the dead connection


async def test_an_unavailable_database_error_without_a_message_is_still_a_503(
    probe_client: Callable[..., Any],
) -> None:
    async with probe_client() as client:
        response = await client.get("/probe/silent-timeout")
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"


async def test_a_schema_behind_the_code_is_503_naming_the_fix_in_the_log(
    probe_client: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    async with probe_client() as client:
        response = await client.get("/probe/missing-table")
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "database_not_migrated"
    assert response.headers["Retry-After"]
    assert "table_of_a_later_migration" not in response.text
    [logged] = [
        line
        for line in log_lines(capsys.readouterr().err)
        if line["event"] == "database_not_migrated"
    ]
    assert "migrate" in logged["fix"]
    assert "table_of_a_later_migration" in logged["error"]


async def test_console_log_traces_leave_local_variables_out(
    probe_client: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    async with probe_client(log_format="console") as client:
        response = await client.get("/probe/boom-with-locals")
    assert response.status_code == 500
    output = capsys.readouterr().err
    assert "RuntimeError: failed after 27 characters" in output
    assert "hunter2-in-a-local-variable" not in output


@pytest.mark.postgres_only
async def test_a_value_the_database_cannot_store_is_a_422(probe_client: Callable[..., Any]) -> None:
    async with probe_client() as client:
        response = await client.get("/probe/overflow")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_value"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("client-id_1.2:3", True),
        ("x" * 129, False),
        ("has spaces", False),
        ("<script>", False),
        ("line\\nbreak", False),
    ],
)
async def test_request_id_is_kept_only_when_sane(
    probe_client: Callable[..., Any], sent: str, kept: bool
) -> None:
    async with probe_client() as client:
        response = await client.get("/health", headers={"X-Request-ID": sent})
    returned = response.headers["X-Request-ID"]
    assert (returned == sent) is kept
    assert 1 <= len(returned) <= 128


async def test_one_access_line_per_request_with_its_context(
    probe_client: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    async with probe_client() as client:
        capsys.readouterr()
        await client.post("/probe/items", json={"name": "a", "quantity": 2})
    lines = [line for line in log_lines(capsys.readouterr().err) if line["event"] == "request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["method"] == "POST"
    assert line["route"] == "/probe/items"
    assert line["status"] == 201
    assert line["duration_ms"] >= 0
    assert line["client_ip"] == "127.0.0.1"
    assert len(line["request_id"]) == 32


async def test_secrets_never_reach_the_log(
    probe_client: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "S3cret-Value-Nobody-May-See"
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    async with probe_client(log_level="DEBUG") as client:
        response = await client.post(
            "/probe/login-form",
            data={"username": "someone@example.com", "password": secret},
            headers={"Authorization": f"Bearer {jwt_like}", "Cookie": f"session={secret}"},
        )
        await client.get(f"/probe/nothing?token={jwt_like}")
    assert response.status_code == 422  # too short for this probe: the error must not echo it
    assert secret not in response.text
    captured = capsys.readouterr()
    output = captured.err + captured.out
    assert output, "the requests were logged"
    assert secret not in output
    assert jwt_like not in output


def test_structured_fields_named_like_secrets_are_redacted() -> None:
    from libkoiki.observability.logging import REDACTED, redact_secrets

    event = redact_secrets(
        None,
        "info",
        {
            "event": "login with Authorization: Bearer abc.def.ghi",
            "password": "pw",
            "refresh_token": "rt",
            "headers": {"cookie": "c", "accept": "json"},
            "url": "postgresql://user:dbpass@db/koiki",
        },
    )
    assert event["password"] == event["refresh_token"] == REDACTED
    assert event["headers"] == {"cookie": REDACTED, "accept": "json"}
    assert "abc.def.ghi" not in event["event"]
    assert "dbpass" not in event["url"]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("BEARER abc123", "abc123"),
        ("bAsIc dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("token EYJ: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "eyJzdWIiOiIxIn0"),
        ("redis://app:hunter2@cache:6379", "hunter2"),
        # Outside ASCII, matched as the expressions match: "ſ" is an "s" to them.
        ("Baſic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("ログイン: Bearer abc123 で失敗", "abc123"),
    ],
)
def test_credentials_in_free_text_are_redacted_whatever_their_case_and_script(
    text: str, secret: str
) -> None:
    from libkoiki.observability.logging import REDACTED, redact_secrets

    event = redact_secrets(None, "info", {"event": text, "detail": text})
    for value in (event["event"], event["detail"]):
        assert secret not in value
        assert REDACTED in value
