"""The Todo API through HTTP, on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.todos.models import Todo
from tests.fixtures.auth import AuthedUser, make_superuser, register_and_login

API = "/api/v1/todos"


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> AuthedUser:
    return await register_and_login(client, email="alice@example.com")


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> AuthedUser:
    return await register_and_login(client, email="bob@example.com")


async def create(client: httpx.AsyncClient, user: AuthedUser, **fields: Any) -> dict[str, Any]:
    response = await client.post(API, json={"title": "a todo", **fields}, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def listing(client: httpx.AsyncClient, user: AuthedUser, **params: Any) -> dict[str, Any]:
    response = await client.get(API, params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def error_fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["request_id"] == response.headers["X-Request-ID"]
    return {error["loc"][-1]: error["msg"] for error in body["detail"]}


async def test_crud_round_trip(client: httpx.AsyncClient, alice: AuthedUser) -> None:
    due = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    created = await create(
        client, alice, title="  Buy milk  ", description="2 litres", due_date=due.isoformat()
    )
    assert created["title"] == "Buy milk"  # trimmed
    assert created["description"] == "2 litres"
    assert created["is_completed"] is False
    assert created["owner_id"] == alice.id
    assert datetime.fromisoformat(created["due_date"]) == due
    assert created["created_at"].endswith("Z") or created["created_at"].endswith("+00:00")

    url = f"{API}/{created['id']}"
    assert (await client.get(url, headers=alice.headers)).json() == created

    patched = await client.patch(url, json={"is_completed": True}, headers=alice.headers)
    assert patched.status_code == 200
    assert patched.json()["is_completed"] is True
    assert patched.json()["title"] == "Buy milk"  # untouched by PATCH

    replaced = await client.put(url, json={"title": "Buy oat milk"}, headers=alice.headers)
    assert replaced.status_code == 200
    body = replaced.json()
    # PUT replaces the whole todo: what was left out returns to its default.
    assert (body["title"], body["description"], body["is_completed"], body["due_date"]) == (
        "Buy oat milk",
        None,
        False,
        None,
    )

    deleted = await client.delete(url, headers=alice.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = await client.get(url, headers=alice.headers)
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"


async def test_a_token_is_required(client: httpx.AsyncClient) -> None:
    response = await client.get(API)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] in ("not_authenticated", "invalid_token")


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"title": ""}, "title", "at least 1 character"),
        ({"title": "   \t "}, "title", "at least 1 character"),
        ({"title": "x" * 256}, "title", "at most 255 characters"),
        ({}, "title", "Field required"),
        ({"title": "ok", "description": "d" * 10_001}, "description", "at most 10000"),
        ({"title": "ok", "due_date": "2030-01-01T00:00:00"}, "due_date", "timezone"),
        ({"title": "ok", "owner_id": 1}, "owner_id", "Extra inputs are not permitted"),
    ],
)
async def test_invalid_todos_are_refused_with_the_field_named(
    client: httpx.AsyncClient, alice: AuthedUser, payload: dict[str, Any], field: str, message: str
) -> None:
    response = await client.post(API, json=payload, headers=alice.headers)
    assert message in error_fields(response)[field]
    assert (await listing(client, alice))["total"] == 0


async def test_title_of_exactly_255_characters_is_accepted(
    client: httpx.AsyncClient, alice: AuthedUser
) -> None:
    assert len((await create(client, alice, title="x" * 255))["title"]) == 255


async def test_patch_cannot_null_the_title(client: httpx.AsyncClient, alice: AuthedUser) -> None:
    todo = await create(client, alice, title="keep me")
    response = await client.patch(
        f"{API}/{todo['id']}", json={"title": None}, headers=alice.headers
    )
    assert "null" in error_fields(response)["title"]
    assert (await client.get(f"{API}/{todo['id']}", headers=alice.headers)).json()["title"] == (
        "keep me"
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "priority"}, "sort"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"skip": -1}, "skip"),
        ({"due_before": "yesterday"}, "due_before"),
    ],
)
async def test_invalid_list_parameters(
    client: httpx.AsyncClient, alice: AuthedUser, params: dict[str, Any], field: str
) -> None:
    response = await client.get(API, params=params, headers=alice.headers)
    assert field in error_fields(response)


async def test_unknown_sort_key_lists_the_allowed_ones(
    client: httpx.AsyncClient, alice: AuthedUser
) -> None:
    response = await client.get(API, params={"sort": "priority"}, headers=alice.headers)
    message = error_fields(response)["sort"]
    for key in ("created_at", "-created_at", "due_date", "-due_date", "title", "-title"):
        assert f"'{key}'" in message


async def test_pagination_reports_totals(client: httpx.AsyncClient, alice: AuthedUser) -> None:
    for number in range(25):
        await create(client, alice, title=f"todo {number:02d}")
    first = await listing(client, alice, sort="title", limit=10)
    last = await listing(client, alice, sort="title", skip=20, limit=10)
    beyond = await listing(client, alice, skip=40)
    # Past the end the total comes from a count of its own, with the same filters bound.
    beyond_filtered = await listing(client, alice, skip=40, q="todo 1", is_completed="false")
    assert (first["total"], first["skip"], first["limit"], len(first["items"])) == (25, 0, 10, 10)
    assert [item["title"] for item in last["items"]] == [f"todo {n}" for n in range(20, 25)]
    assert beyond["items"] == []
    assert beyond["total"] == 25
    assert (beyond_filtered["items"], beyond_filtered["total"]) == ([], 10)
    assert (await listing(client, alice))["limit"] == 20


async def test_filters_and_sorting(client: httpx.AsyncClient, alice: AuthedUser) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    soon = await create(
        client, alice, title="b soon", due_date=(now + timedelta(days=1)).isoformat()
    )
    later = await create(
        client, alice, title="c later", due_date=(now + timedelta(days=9)).isoformat()
    )
    undated = await create(client, alice, title="a undated", is_completed=True)

    def ids(page: dict[str, Any]) -> list[int]:
        return [item["id"] for item in page["items"]]

    assert ids(await listing(client, alice, is_completed=True)) == [undated["id"]]
    assert ids(await listing(client, alice, is_completed=False, sort="title")) == [
        soon["id"],
        later["id"],
    ]
    cutoff = (now + timedelta(days=5)).isoformat()
    assert ids(await listing(client, alice, due_before=cutoff)) == [soon["id"]]
    assert ids(await listing(client, alice, due_after=cutoff)) == [later["id"]]
    # Todos without a due date come last in both directions.
    assert ids(await listing(client, alice, sort="due_date")) == [
        soon["id"],
        later["id"],
        undated["id"],
    ]
    assert ids(await listing(client, alice, sort="-due_date")) == [
        later["id"],
        soon["id"],
        undated["id"],
    ]
    assert ids(await listing(client, alice, sort="-title")) == [
        later["id"],
        soon["id"],
        undated["id"],
    ]
    assert ids(await listing(client, alice, sort="created_at")) == [
        soon["id"],
        later["id"],
        undated["id"],
    ]


async def test_equal_sort_keys_keep_a_stable_order(
    client: httpx.AsyncClient, alice: AuthedUser
) -> None:
    created = [(await create(client, alice, title="same"))["id"] for _ in range(7)]
    pages = [
        item["id"]
        for skip in range(0, 7, 3)
        for item in (await listing(client, alice, sort="title", skip=skip, limit=3))["items"]
    ]
    assert pages == created


async def test_search_is_case_insensitive_and_literal(
    client: httpx.AsyncClient, alice: AuthedUser
) -> None:
    percent = await create(client, alice, title="Save 100% of it")
    underscore = await create(client, alice, title="rename file_name.txt")
    in_description = await create(client, alice, title="plain", description="Contains SECRET word")
    await create(client, alice, title="Save 1000 of it")
    await create(client, alice, title="rename filexname.txt")

    async def found(q: str) -> list[int]:
        return [item["id"] for item in (await listing(client, alice, q=q))["items"]]

    assert await found("100%") == [percent["id"]]
    assert await found("%") == [percent["id"]]
    assert await found("file_name") == [underscore["id"]]
    assert await found("secret") == [in_description["id"]]
    assert await found("SAVE 100%") == [percent["id"]]


async def test_japanese_text_round_trips_exactly(
    client: httpx.AsyncClient, alice: AuthedUser
) -> None:
    title = "牛乳を買う 🥛 「至急」"
    description = "スーパーで２本。ｶﾀｶﾅ、ひらがな、漢字"
    created = await create(client, alice, title=title, description=description)
    fetched = (await client.get(f"{API}/{created['id']}", headers=alice.headers)).json()
    assert (fetched["title"], fetched["description"]) == (title, description)
    assert [item["id"] for item in (await listing(client, alice, q="牛乳"))["items"]] == [
        created["id"]
    ]


async def test_another_users_todo_is_not_found_for_every_method(
    client: httpx.AsyncClient, alice: AuthedUser, bob: AuthedUser
) -> None:
    todo = await create(client, alice, title="alice's")
    url = f"{API}/{todo['id']}"
    missing = f"{API}/999999"
    for method, body in (
        ("GET", None),
        ("PUT", {"title": "x"}),
        ("PATCH", {"title": "x"}),
        ("DELETE", None),
    ):
        stolen = await client.request(method, url, json=body, headers=bob.headers)
        absent = await client.request(method, missing, json=body, headers=bob.headers)
        assert stolen.status_code == absent.status_code == 404, method
        assert stolen.json()["detail"] == absent.json()["detail"]
    assert (await client.get(url, headers=alice.headers)).json() == todo
    assert (await listing(client, bob))["total"] == 0


async def test_todos_read_all_lists_and_opens_others_todos_but_never_changes_them(
    client: httpx.AsyncClient, alice: AuthedUser, bob: AuthedUser, db_session: AsyncSession
) -> None:
    todo = await create(client, alice, title="alice's")
    url = f"{API}/{todo['id']}"
    refused = await client.get(API, params={"owner_id": alice.id}, headers=bob.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"

    admin = await make_superuser(client, db_session)
    granted = await client.patch(
        f"/api/v1/users/{bob.id}", json={"roles": ["user", "admin"]}, headers=admin.headers
    )
    assert granted.status_code == 200, granted.text
    allowed = await listing(client, bob, owner_id=alice.id)
    assert [item["title"] for item in allowed["items"]] == ["alice's"]
    assert (await listing(client, bob))["total"] == 0  # without the filter: bob's own
    assert (await client.get(url, headers=bob.headers)).json() == todo

    for method, body in (("PUT", {"title": "x", "is_completed": True}), ("PATCH", {"title": "x"})):
        refused_change = await client.request(method, url, json=body, headers=bob.headers)
        assert refused_change.status_code == 404, method
    assert (await client.delete(url, headers=bob.headers)).status_code == 404
    assert (await client.get(url, headers=alice.headers)).json() == todo


async def test_fifty_concurrent_creates(
    client: httpx.AsyncClient, alice: AuthedUser, db_session: AsyncSession
) -> None:
    responses = await asyncio.gather(
        *(
            client.post(API, json={"title": f"parallel {n}"}, headers=alice.headers)
            for n in range(50)
        )
    )
    assert [response.status_code for response in responses] == [201] * 50
    assert len({response.json()["id"] for response in responses}) == 50
    assert (await listing(client, alice))["total"] == 50
    rows = await db_session.scalar(select(func.count()).select_from(Todo))
    assert rows == 50
