"""The bad-input corpus: hostile or broken requests get a clear 4xx, and the server stays healthy.

Each entry is one request a client could send by mistake or on purpose: bodies too large, too deep,
not UTF-8 or of the wrong type, NUL characters (PostgreSQL refuses them in text), integers of
thousands of digits, SQL and HTML meant to be executed, huge headers, URLs and query strings. The
answer must be a 4xx with the API's `{detail, code, request_id}`, never a 500, and afterwards the
app must still be ready and still store and return data exactly. Most run in-process; what the
HTTP server itself decides (header and URL sizes, bytes it refuses to parse) runs over a real
uvicorn on a loopback port.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.main import create_app
from app.todos.models import Todo
from tests.conftest import base_settings
from tests.fixtures.auth import AuthedUser, login, make_superuser, register_and_login
from tests.support.servers import serving

TOO_BIG = 99_999_999_999_999_999_999
INT32_OVERFLOW = 3_000_000_000


@pytest.fixture
async def admin(client: httpx.AsyncClient, db_session: AsyncSession) -> AuthedUser:
    return await make_superuser(client, db_session)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"detail", "code", "request_id"}, body
    assert body["code"] == code, body
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def assert_field_error(response: httpx.Response, field: str) -> None:
    body = assert_error(response, 422, "validation_error")
    assert field in {str(error["loc"][-1]) for error in body["detail"]}, body


# (method, path, the parameter the 422 must name)
UNSTORABLE_PARAMETERS = [
    ("GET", f"/api/v1/todos/{TOO_BIG}", "todo_id"),
    ("GET", f"/api/v1/todos/{INT32_OVERFLOW}", "todo_id"),
    ("DELETE", f"/api/v1/todos/{INT32_OVERFLOW}", "todo_id"),
    ("GET", f"/api/v1/todos?skip={TOO_BIG}", "skip"),
    ("GET", f"/api/v1/todos?owner_id={INT32_OVERFLOW}", "owner_id"),
    ("GET", "/api/v1/todos?q=a%00b", "q"),
    ("GET", "/api/v1/todos?due_before=9999-12-31T23:59:59-05:00", "due_before"),
    ("GET", f"/api/v1/users/{INT32_OVERFLOW}", "user_id"),
    ("PATCH", f"/api/v1/roles/{TOO_BIG}", "role_id"),
    ("GET", "/api/v1/users?q=%00", "q"),
    ("GET", f"/api/v1/audit-events?actor_id={INT32_OVERFLOW}", "actor_id"),
    ("GET", "/api/v1/audit-events?action=auth.%00", "action"),
    ("GET", "/api/v1/audit-events?actor=a%00", "actor"),
    ("GET", f"/api/v1/audit-events/export?actor_id={INT32_OVERFLOW}", "actor_id"),
    ("GET", "/api/v1/audit-events/export?actor=%00", "actor"),
    ("DELETE", "/api/v1/auth/sessions/a%00b", "session_id"),
]


async def test_unstorable_parameters_are_refused(
    client: httpx.AsyncClient, admin: AuthedUser
) -> None:
    wrong = []
    for method, path, parameter in UNSTORABLE_PARAMETERS:
        body = {"description": "x"} if method == "PATCH" else None
        response = await client.request(method, path, json=body, headers=admin.headers)
        try:
            assert_field_error(response, parameter)
        except AssertionError as error:
            wrong.append(f"{method} {path}: {error}")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "a\u0000b"}, "title"),
        ({"title": "ok", "description": "line\u0000break"}, "description"),
        ({"title": "ok", "due_date": "9999-12-31T23:59:59-05:00"}, "due_date"),
    ],
)
async def test_unstorable_todos_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, admin: AuthedUser, payload: dict[str, Any], field: str
) -> None:
    assert_field_error(
        await client.post("/api/v1/todos", json=payload, headers=admin.headers), field
    )
    listing = await client.get("/api/v1/todos", headers=admin.headers)
    assert listing.json()["total"] == 0


async def test_unstorable_profile_names_are_refused(
    client: httpx.AsyncClient, admin: AuthedUser
) -> None:
    registered = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "nul@example.com",
            "password": "plum-orbit-kettle-42",
            "full_name": "a\u0000",
        },
    )
    assert_field_error(registered, "full_name")
    profile = await client.patch(
        "/api/v1/users/me", json={"full_name": "b\u0000"}, headers=admin.headers
    )
    assert_field_error(profile, "full_name")


@pytest.mark.parametrize("username", ["x" * 400 + "@example.com", "a\u0000b@example.com"])
async def test_impossible_login_names_get_the_ordinary_answer(
    client: httpx.AsyncClient, username: str
) -> None:
    response = await login(client, username, "whatever-password-1")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


# --- bodies, content types, numbers and headers ---------------------------------------------

MIB = 1024 * 1024
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class Bad:
    """One bad request and the answer it must get (`field`: the location the 422 names)."""

    method: str
    path: str
    status: int
    code: str
    content: bytes | None = None
    headers: dict[str, str | bytes] = field(default_factory=dict)
    field: str | None = None


def _nested(depth: int, opening: bytes, closing: bytes) -> bytes:
    return b'{"title": ' + opening * depth + closing * depth + b"}"


CORPUS: dict[str, Bad] = {
    "oversized JSON": Bad(
        "POST",
        "/api/v1/todos",
        413,
        "payload_too_large",
        b'{"title": "' + b"a" * MIB + b'"}',
        JSON,
    ),
    "JSON nested 100,000 arrays deep": Bad(
        "POST",
        "/api/v1/todos",
        422,
        "validation_error",
        _nested(100_000, b"[", b"]"),
        JSON,
        "body",
    ),
    "JSON nested 100,000 objects deep": Bad(
        "POST",
        "/api/v1/todos",
        422,
        "validation_error",
        _nested(100_000, b'{"a":', b"}"),
        JSON,
        "body",
    ),
    "JSON nested 500 deep, parsable": Bad(
        "POST",
        "/api/v1/todos",
        422,
        "validation_error",
        _nested(500, b"[", b"]"),
        JSON,
        "title",
    ),
    "JSON that is not UTF-8": Bad(
        "POST",
        "/api/v1/todos",
        422,
        "validation_error",
        b'{"title": "caf\xe9 \xff\xfe"}',
        JSON,
        "body",
    ),
    "JSON with a lone surrogate": Bad(
        "POST",
        "/api/v1/todos",
        422,
        "validation_error",
        b'{"title": "\\ud800"}',
        JSON,
        "title",
    ),
    "JSON integer of 5,000 digits": Bad(
        "POST",
        "/api/v1/todos",
        422,
        "validation_error",
        b'{"title": "x", "is_completed": ' + b"9" * 5000 + b"}",
        JSON,
        "body",
    ),
    "JSON number as a date": Bad(
        "POST",
        "/api/v1/todos",
        422,
        "validation_error",
        b'{"title": "x", "due_date": 1700000000}',
        JSON,
        "due_date",
    ),
    "JSON 1 as a boolean": Bad(
        "POST",
        "/api/v1/todos",
        422,
        "validation_error",
        b'{"title": "x", "is_completed": 1}',
        JSON,
        "is_completed",
    ),
    "JSON NaN and Infinity": Bad(
        "POST",
        "/api/v1/todos",
        422,
        "validation_error",
        b'{"title": NaN, "due_date": Infinity}',
        JSON,
        "title",
    ),
    "a JSON array instead of an object": Bad(
        "POST", "/api/v1/todos", 422, "validation_error", b"[1, 2, 3]", JSON, "body"
    ),
    "JSON sent as text/plain": Bad(
        "POST",
        "/api/v1/todos",
        422,
        "validation_error",
        b'{"title": "x"}',
        {"Content-Type": "text/plain"},
        "body",
    ),
    "XML": Bad(
        "POST",
        "/api/v1/todos",
        422,
        "validation_error",
        b"<todo><title>x</title></todo>",
        {"Content-Type": "application/xml"},
        "body",
    ),
    "a malformed content type": Bad(
        "POST",
        "/api/v1/todos",
        422,
        "validation_error",
        b'{"title": "x"}',
        {"Content-Type": "application/;;json=="},
        "body",
    ),
    "JSON to the login form": Bad(
        "POST",
        "/api/v1/auth/login",
        422,
        "validation_error",
        b'{"username": "a@example.com", "password": "x"}',
        JSON,
        "username",
    ),
    "a multipart form without its boundary": Bad(
        "POST",
        "/api/v1/auth/login",
        422,
        "validation_error",
        b"--x\r\nContent-Disposition: form-data",
        {"Content-Type": "multipart/form-data"},
        "body",
    ),
    "5,000 form fields": Bad(
        "POST",
        "/api/v1/auth/login",
        422,
        "validation_error",
        "&".join(f"field{i}=1" for i in range(5000)).encode(),
        FORM,
        "body",
    ),
    "a path id of 5,000 digits": Bad(
        "GET", "/api/v1/todos/" + "9" * 5000, 422, "validation_error", field="todo_id"
    ),
    "a query integer of 5,000 digits": Bad(
        "GET", "/api/v1/todos?limit=" + "9" * 5000, 422, "validation_error", field="limit"
    ),
    "a numeric string as a date": Bad(
        "GET", "/api/v1/todos?due_before=1700000000", 422, "validation_error", field="due_before"
    ),
    "a sort key written as SQL": Bad(
        "GET", "/api/v1/todos?sort=title;DROP TABLE todos", 422, "validation_error", field="sort"
    ),
    "a URL of 9 KiB": Bad("GET", "/api/v1/todos?q=" + "a" * 9 * 1024, 414, "uri_too_long"),
    "5,000 query parameters": Bad(
        "GET", "/api/v1/todos?" + "&".join(f"p{i}=1" for i in range(5000)), 414, "uri_too_long"
    ),
    "a 40 KiB header": Bad(
        "GET", "/api/v1/todos", 431, "headers_too_large", headers={"X-Padding": "a" * 40_960}
    ),
    "a 30 KiB bearer token": Bad(
        "GET",
        "/api/v1/todos",
        401,
        "invalid_token",
        headers={"Authorization": "Bearer " + "a" * 30_000},
    ),
    "a bearer token that is not ASCII": Bad(
        "GET",
        "/api/v1/auth/me",
        401,
        "invalid_token",
        headers={"Authorization": "Bearer Ω.Ω.Ω".encode()},
    ),
}


@pytest.fixture
async def author(client: httpx.AsyncClient) -> AuthedUser:
    return await register_and_login(client)


async def assert_still_healthy(client: httpx.AsyncClient, user: AuthedUser) -> None:
    ready = await client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    created = await client.post("/api/v1/todos", json={"title": "still fine"}, headers=user.headers)
    assert created.status_code == 201, created.text
    assert (await client.get(f"/api/v1/todos/{created.json()['id']}", headers=user.headers)).json()[
        "title"
    ] == "still fine"


async def test_each_bad_request_gets_a_clear_4xx(
    client: httpx.AsyncClient, author: AuthedUser
) -> None:
    # One app and one account for the whole corpus (a test each would spend most of its time
    # hashing passwords); every entry is still reported on its own.
    wrong = []
    for name, entry in CORPUS.items():
        headers = {**author.headers, **entry.headers}
        response = await client.request(
            entry.method, entry.path, content=entry.content, headers=headers
        )
        try:
            body = assert_error(response, entry.status, entry.code)
            if entry.field is not None:
                assert entry.field in {str(error["loc"][-1]) for error in body["detail"]}, body
        except AssertionError as error:
            wrong.append(f"{name}: {error}")
        assert (await client.get("/health/ready")).status_code == 200, name
    assert wrong == [], "\n".join(wrong)
    await assert_still_healthy(client, author)


async def test_a_thousand_query_parameters_under_the_url_limit_are_served(
    client: httpx.AsyncClient, author: AuthedUser
) -> None:
    # Unknown parameters are ignored and a repeated one counts once, as the contract allows.
    await client.post("/api/v1/todos", json={"title": "one"}, headers=author.headers)
    unknown = "&".join(f"p{i}=1" for i in range(1000))
    repeated = "&".join("is_completed=false" for _ in range(400))
    for query in (unknown, repeated):
        response = await client.get(f"/api/v1/todos?{query}", headers=author.headers)
        assert response.status_code == 200, response.text
        assert response.json()["total"] == 1


# --- injection: stored and returned verbatim, never executed ---------------------------------

INJECTIONS = [
    "'; DROP TABLE todos; --",
    "' OR '1'='1",
    "1; DELETE FROM users WHERE 1=1",
    "%' UNION SELECT hashed_password FROM users --",
    "\\'; SELECT pg_sleep(10); --",
    "<script>alert(document.cookie)</script>",
    '<img src=x onerror="alert(1)">',
    "{{7*7}} ${7*7} <%= 7*7 %>",
    "%_%\\%",
]


async def test_injection_strings_are_stored_and_returned_verbatim(
    client: httpx.AsyncClient, author: AuthedUser, db_session: AsyncSession
) -> None:
    other = await register_and_login(client)
    await client.post("/api/v1/todos", json={"title": "someone else's"}, headers=other.headers)
    ids = []
    for payload in INJECTIONS:
        created = await client.post(
            "/api/v1/todos", json={"title": payload, "description": payload}, headers=author.headers
        )
        assert created.status_code == 201, created.text
        assert created.headers["content-type"] == "application/json"
        assert created.headers["x-content-type-options"] == "nosniff"
        assert (created.json()["title"], created.json()["description"]) == (payload, payload)
        ids.append(created.json()["id"])
    for todo_id, payload in zip(ids, INJECTIONS, strict=True):
        read = (await client.get(f"/api/v1/todos/{todo_id}", headers=author.headers)).json()
        assert read["title"] == payload
        # The search is literal: each payload finds exactly the todos containing it as text.
        found = await client.get("/api/v1/todos", params={"q": payload}, headers=author.headers)
        titles = [item["title"] for item in found.json()["items"]]
        assert titles, payload
        assert all(payload.lower() in title.lower() for title in titles), payload
    profile = await client.patch(
        "/api/v1/users/me", json={"full_name": INJECTIONS[5]}, headers=author.headers
    )
    assert profile.json()["full_name"] == INJECTIONS[5]
    # Every table is intact: all rows are there, and the other user's todo was not touched.
    assert await db_session.scalar(select(func.count()).select_from(Todo)) == len(INJECTIONS) + 1
    theirs = await client.get("/api/v1/todos", headers=other.headers)
    assert [item["title"] for item in theirs.json()["items"]] == ["someone else's"]
    assert (await client.get("/api/v1/auth/me", headers=other.headers)).status_code == 200


# --- over a real server: what uvicorn parses before the app sees anything -------------------


@pytest.fixture
async def server_port(database_url: str, migrated_engine: AsyncEngine) -> AsyncIterator[int]:
    async with serving(create_app(base_settings(database_url))) as port:
        yield port


async def raw_exchange(port: int, request: bytes) -> tuple[int, bytes, bytes]:
    """Send raw bytes; return the status, the head and the body (read to the end)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(-1), timeout=10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


def _get(target: bytes, *headers: bytes) -> bytes:
    lines = [b"GET " + target + b" HTTP/1.1", b"Host: localhost", b"Connection: close", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


# Raw requests, as the server receives them: (what, bytes, status, the app's code or None).
RAW_CORPUS = [
    # uvicorn takes headers of any size: the app refuses them, in its own words.
    (
        "a 1 MiB header",
        _get(b"/api/v1/todos", b"X-Padding: " + b"a" * MIB),
        431,
        b"headers_too_large",
    ),
    (
        "5,000 headers",
        _get(b"/api/v1/todos", *(b"X-H%d: v" % i for i in range(5000))),
        431,
        b"headers_too_large",
    ),
    ("a 20 KB URL", _get(b"/api/v1/todos?q=" + b"a" * 20_000), 414, b"uri_too_long"),
    ("escaped path bytes not UTF-8", _get(b"/api/v1/todos/%ff%fe"), 401, b"not_authenticated"),
    (
        "token bytes not UTF-8",
        _get(b"/api/v1/auth/me", b"Authorization: Bearer \xff\xfe.\x80.\x81"),
        401,
        b"invalid_token",
    ),
    # Beyond 64 KiB of URL, with a NUL in a header or raw non-ASCII bytes in the path, uvicorn's
    # parser answers a plain 400 itself: the app never sees the request, and must be unharmed.
    ("a 70 KB URL", _get(b"/api/v1/todos?q=" + b"a" * 70_000), 400, None),
    ("a NUL in a header", _get(b"/api/v1/auth/me", b"User-Agent: evil\x00agent"), 400, None),
    ("raw path bytes not UTF-8", _get(b"/api/v1/todos/\xff\xfe"), 400, None),
]


async def test_the_real_server_refuses_and_stays_up(server_port: int) -> None:
    wrong = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server_port}") as http:
        for name, request_bytes, status, code in RAW_CORPUS:
            answered, _, body = await raw_exchange(server_port, request_bytes)
            if answered != status or (code is not None and b'"code":"' + code + b'"' not in body):
                wrong.append(f"{name}: {answered} {body[:200]!r}")
            assert (await http.get("/health/ready")).status_code == 200, name
        assert wrong == [], "\n".join(wrong)
        await assert_still_healthy(http, await register_and_login(http))
