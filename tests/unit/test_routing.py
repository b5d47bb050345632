"""`register_router` and `KoikiRoute`: the same routes, answers and OpenAPI document as FastAPI's
`include_router` and route handler, with less of FastAPI's work per request."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import fastapi.routing
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request, Response, status
from fastapi.exceptions import ResponseValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from app.main import ROUTERS
from libkoiki.health import router as health_router
from libkoiki.routing import KoikiRoute, register_router


class Item(BaseModel):
    name: str
    note: str | None = None
    secret: str = "hidden"


calls: list[str] = []


async def caller(request: Request) -> str:
    calls.append("caller")
    name = request.headers.get("x-user")
    if name is None:
        raise HTTPException(401, "Who are you?")
    return name


User = Annotated[str, Depends(caller)]


async def label(*, request: Request) -> str:  # the request by keyword only
    return request.headers.get("x-label", "none")


async def audited() -> None:
    calls.append("audited")


async def refuse() -> None:
    raise HTTPException(403, "Refused here")


class Feed:
    """An endpoint that is a callable object, streaming."""

    async def __call__(self) -> AsyncIterator[Item]:
        yield {"name": "fed", "secret": "a model drops what it does not declare"}  # type: ignore[misc]


def make_router() -> APIRouter:
    router = APIRouter(prefix="/things", tags=["things"], dependencies=[Depends(audited)])

    @router.get(
        "", response_model_exclude={"__all__": {"secret"}}, response_model_exclude_none=True
    )
    async def list_things(user: User, again: User) -> list[Item]:
        return [Item(name=user), Item(name=again, note="twice")]

    @router.post("", status_code=status.HTTP_201_CREATED)
    async def create(user: User) -> Item:
        return Item(name=user)

    @router.delete("", status_code=status.HTTP_204_NO_CONTENT)
    async def delete(user: User) -> None:
        return None

    @router.get("/raw")
    async def raw(request: Request, user: User) -> Response:
        return Response(f"{request.url.path} for {user}", media_type="text/plain")

    @router.get("/plain")
    async def plain(user: User) -> dict[str, Any]:
        return {"user": user, "float": 1.5}

    @router.get("/untyped")
    async def untyped(user: User, tag: Annotated[str, Depends(label)]):  # type: ignore[no-untyped-def]
        return {"user": user, "label": tag}

    @router.get("/invalid")
    async def invalid(user: User) -> Item:
        return {"note": "no name"}  # type: ignore[return-value]

    # Streamed: FastAPI's inclusion serves these and every route declared after them.
    @router.get("/stream")
    async def stream(user: User) -> AsyncIterator[Item]:
        yield {"name": user, "secret": "a model drops what it does not declare"}  # type: ignore[misc]

    router.add_api_route("/feed", Feed(), methods=["GET"])

    @router.get("/{name}")
    async def by_name(name: str, user: User) -> Item:  # a path parameter: FastAPI's solver
        return Item(name=name, note=user)

    return router


@asynccontextmanager
async def served(
    direct: bool, raise_app_exceptions: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    """The router registered by `register_router`, or included by FastAPI alone (the reference)."""
    app = FastAPI()
    if direct:
        register_router(app, make_router())
    else:
        app.include_router(make_router())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


REQUESTS = [
    ("GET", "/things", {"x-user": "ann"}),
    ("GET", "/things", {}),
    ("POST", "/things", {"x-user": "ann"}),
    ("DELETE", "/things", {"x-user": "ann"}),
    ("GET", "/things/raw", {"x-user": "ann"}),
    ("GET", "/things/untyped", {"x-user": "ann", "x-label": "blue"}),
    ("GET", "/things/stream", {"x-user": "ann"}),
    ("GET", "/things/feed", {}),
    ("DELETE", "/things/stream", {"x-user": "ann"}),
    ("GET", "/things/plain", {"x-user": "ann"}),
    ("GET", "/things/invalid", {"x-user": "ann"}),
    ("GET", "/things/bob", {"x-user": "ann"}),
    ("PUT", "/things", {"x-user": "ann"}),
]


@pytest.mark.parametrize(("method", "path", "headers"), REQUESTS)
async def test_direct_routes_answer_as_fastapi_does(
    method: str, path: str, headers: dict[str, str]
) -> None:
    answers = []
    for direct in (True, False):
        calls.clear()
        async with served(direct) as client:
            response = await client.request(method, path, headers=headers)
        answers.append((response.status_code, response.content, dict(response.headers), calls[:]))
    assert answers[0] == answers[1]


async def test_routes_of_request_only_dependencies_skip_fastapis_solver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    solved: list[str] = []
    solve = fastapi.routing.solve_dependencies

    async def counted(**arguments: Any) -> Any:
        solved.append(arguments["request"].url.path)
        return await solve(**arguments)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    async with served(direct=True) as client:
        for path in ("/things", "/things/plain", "/things/untyped", "/things/bob"):
            assert (await client.get(path, headers={"x-user": "ann"})).status_code == 200
    assert solved == ["/things/bob"]


async def test_a_dependency_runs_once_a_request_after_the_route_level_ones() -> None:
    calls.clear()
    async with served(direct=True) as client:
        response = await client.get("/things", headers={"x-user": "ann"})
    assert response.json() == [{"name": "ann"}, {"name": "ann", "note": "twice"}]
    assert calls == ["audited", "caller"]


@dataclass
class Fixed:  # compares by value, so it cannot be hashed: an override need not be
    name: str

    async def __call__(self, request: Request) -> str:
        return self.name


async def test_overrides_are_honoured_whatever_their_parameters() -> None:
    app = FastAPI()
    register_router(app, make_router())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def as_carol(request: Request) -> str:
            return "carol"

        app.dependency_overrides[caller] = as_carol
        assert (await client.get("/things")).json()[0]["name"] == "carol"

        app.dependency_overrides[caller] = Fixed("erin")
        assert (await client.get("/things")).json()[0]["name"] == "erin"

        def from_query(user: str) -> str:  # a query parameter and a thread: FastAPI's solver
            return user

        app.dependency_overrides[caller] = from_query
        assert (await client.get("/things?user=dave")).json()[0]["name"] == "dave"
        assert (await client.get("/things")).status_code == 422

        app.dependency_overrides.clear()
        assert (await client.get("/things", headers={"x-user": "ann"})).status_code == 200


async def first() -> int:
    return 1


async def second() -> int:
    return 2


runs: list[int] = []


async def counted() -> int:
    runs.append(1)
    return len(runs)


async def test_one_override_of_two_dependencies_runs_for_each_as_in_fastapi() -> None:
    answers = []
    for direct in (True, False):
        runs.clear()

        router = APIRouter()

        @router.get("/pair")
        async def pair(
            a: Annotated[int, Depends(first)], b: Annotated[int, Depends(second)]
        ) -> dict[str, int]:
            return {"a": a, "b": b}

        app = FastAPI()
        register_router(app, router, direct=direct)
        app.dependency_overrides.update({first: counted, second: counted})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers.append((await client.get("/pair")).json())
    assert answers == [{"a": 1, "b": 2}] * 2


async def test_an_inclusion_keeps_its_own_dependencies() -> None:
    inner = APIRouter(route_class=KoikiRoute)

    @inner.get("/open")
    async def open_route(user: User) -> dict[str, str]:
        return {"user": user}

    app = FastAPI()
    app.include_router(inner, prefix="/guarded", dependencies=[Depends(refuse)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/guarded/open", headers={"x-user": "ann"})
    assert response.status_code == 403


async def test_an_answer_failing_its_model_names_the_endpoint_as_fastapi_does() -> None:
    errors = []
    for direct in (True, False):
        async with served(direct, raise_app_exceptions=True) as client:
            with pytest.raises(ResponseValidationError) as failed:
                await client.get("/things/invalid", headers={"x-user": "ann"})
        errors.append(str(failed.value))
    assert errors[0] == errors[1]
    assert "GET /things/invalid" in errors[0]


def test_with_telemetry_every_route_keeps_fastapis_handler() -> None:
    app = FastAPI()
    register_router(app, make_router(), direct=False)
    assert not any(isinstance(route, KoikiRoute) for route in app.routes)


def test_the_openapi_document_is_the_one_include_router_gives() -> None:
    registered, included = FastAPI(), FastAPI()
    for router in (health_router, *ROUTERS, make_router()):
        register_router(registered, router)
        included.include_router(router)

    def document(app: FastAPI) -> dict[str, Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a copy in the document: "Duplicate Operation ID"
            return get_openapi(title="t", version="1", routes=app.routes)

    assert document(registered) == document(included)


started: list[str] = []


@asynccontextmanager
async def warm_lifespan(app: FastAPI) -> AsyncIterator[None]:
    started.append("lifespan")
    yield


async def warm_up() -> None:
    started.append("start-up hook")


class TimedRoute(APIRoute):
    """A route class of an application's own, as FastAPI's documentation shows them."""

    def get_route_handler(self) -> Any:
        handler = super().get_route_handler()

        async def timed(request: Request) -> Response:
            response: Response = await handler(request)
            response.headers["X-Timed"] = "yes"
            return response

        return timed


def router_with(kind: str, tmp_path: Path) -> APIRouter:
    if kind == "frontend":
        router = APIRouter()
        (tmp_path / "index.html").write_text("<h1>app</h1>")
        router.frontend("/", directory=tmp_path)
    else:
        router = {
            "start-up hook": lambda: APIRouter(on_startup=[warm_up]),
            "lifespan": lambda: APIRouter(lifespan=warm_lifespan),
            "route class": lambda: APIRouter(route_class=TimedRoute),
            "form limits": lambda: APIRouter(form_limits={"max_fields": 1}),
        }[kind]()

    @router.post("/form")
    async def form(a: Annotated[str, Form()]) -> dict[str, str]:
        return {"a": a}

    return router


@pytest.mark.parametrize(
    "kind", ["start-up hook", "lifespan", "route class", "form limits", "frontend"]
)
async def test_what_a_router_brings_besides_routes_is_kept(kind: str, tmp_path: Path) -> None:
    app = FastAPI()
    register_router(app, router_with(kind, tmp_path))
    started.clear()
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        form = await client.post("/form", data={"a": "1", "b": "2"})
        page = await client.get("/")
    assert form.status_code == (400 if kind == "form limits" else 200), form.text
    assert (form.headers.get("X-Timed") == "yes") == (kind == "route class")
    assert (page.status_code == 200) == (kind == "frontend")
    assert (kind in started) == (kind in ("start-up hook", "lifespan"))


async def test_a_route_added_to_a_router_after_registration_is_served() -> None:
    router = APIRouter()
    app = FastAPI()
    register_router(app, router)

    @router.get("/late")
    async def late() -> dict[str, bool]:
        return {"late": True}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/late")).json() == {"late": True}
