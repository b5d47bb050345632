"""`query_model` answers every query string as FastAPI's own query models do, and documents the
same parameters: a route can switch between the two without a client noticing."""

# No `from __future__ import annotations`: the test routes annotate with the model passed in, which
# FastAPI must see as an object, not as a name to resolve later.

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

import httpx
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel, Field

from app.todos.schemas import TodoFilters
from libkoiki.errors import install_error_handlers
from libkoiki.http.query import query_model
from libkoiki.openapi import document_query_models
from libkoiki.pagination import PageParams


class Search(BaseModel):
    tags: list[str] = []
    kind: Literal["a", "b"] | None = None
    since: datetime | None = None
    limit: int = Field(default=10, ge=1, le=50, description="How many")
    exact: bool = False


def fastapi_app(model: type[BaseModel]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/items")
    async def items(query: Annotated[model, Query()]) -> Any:  # type: ignore[valid-type]
        return query.model_dump(mode="json")

    return app


def koiki_app(model: type[BaseModel]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/items")
    async def items(query: Annotated[model, query_model(model)]) -> Any:  # type: ignore[valid-type]
        return query.model_dump(mode="json")

    return app


@pytest.fixture
async def clients() -> AsyncIterator[dict[type[BaseModel], tuple[httpx.AsyncClient, ...]]]:
    models = (Search, TodoFilters, PageParams)
    pairs = {model: (fastapi_app(model), koiki_app(model)) for model in models}
    opened = {
        model: tuple(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
            for app in apps
        )
        for model, apps in pairs.items()
    }
    yield opened
    for pair in opened.values():
        for client in pair:
            await client.aclose()


QUERIES: dict[type[BaseModel], list[str]] = {
    Search: [
        "",
        "tags=x&tags=y&kind=a",
        "tags=&kind=c",
        "kind=a&kind=b",  # the last value of a repeated key wins
        "limit=0",
        "limit=abc&exact=maybe",
        "limit=50&exact=true&since=2026-12-06T12:00:00Z",
        "since=yesterday",
        "unknown=1&tags=z",
    ],
    TodoFilters: [
        "",
        "is_completed=true&q=%20milk%20&sort=title",
        "is_completed=&q=a%00b",
        "owner_id=0&sort=size",
        "due_before=2026-12-31T00:00:00%2B09:00&due_after=2026-01-01T00:00:00",
        "q=" + "x" * 201,
    ],
    PageParams: ["", "skip=5&limit=100", "skip=-1", "limit=101", "limit=1.5", "skip=1e3"],
}


@pytest.mark.parametrize("model", list(QUERIES), ids=lambda model: model.__name__)
async def test_the_same_answer_as_fastapi_for_every_query(
    clients: dict[type[BaseModel], tuple[httpx.AsyncClient, ...]], model: type[BaseModel]
) -> None:
    theirs, ours = clients[model]
    for query in QUERIES[model]:
        expected = await theirs.get(f"/items?{query}")
        answer = await ours.get(f"/items?{query}")
        assert answer.status_code == expected.status_code, query
        body, expected_body = answer.json(), expected.json()
        for payload in (body, expected_body):
            payload.pop("request_id", None)
        assert body == expected_body, query


@pytest.mark.parametrize("model", list(QUERIES), ids=lambda model: model.__name__)
def test_the_same_parameters_in_the_openapi_document(model: type[BaseModel]) -> None:
    expected = fastapi_app(model).openapi()
    app = koiki_app(model)
    document = document_query_models(app, app.openapi())
    operation, expected_operation = (doc["paths"]["/items"]["get"] for doc in (document, expected))
    assert operation["parameters"] == expected_operation["parameters"]
    assert "422" in operation["responses"]
