"""Routes served without FastAPI's per-request generality where a route does not use it.

FastAPI 0.165 finds a request's route by walking the routers included in the app, matching each
candidate twice, and then solves the route's parameters with a solver built for every kind of
parameter. A bearer list request spent 6 % of its instructions on the first and 12 % on the
second (`bench.instructions list`). Two changes keep FastAPI's way of declaring routes, its
dependency overrides and its OpenAPI document, and take that cost off the request path:

- `register_router` adds a router's routes to the app itself, as FastAPI's `include_router`
  did before 0.165: Starlette then matches them once each, in order. KOIKI's routers carry
  everything at declaration (prefix, tags, dependencies, responses), so nothing is lost; a
  router that also brings start-up hooks, a lifespan or other kinds of route is included.
- `KoikiRoute` answers a request itself when each of the endpoint's parameters (and each
  route-level dependency) is an `async` dependency that takes the request alone, or nothing:
  the caller, the reader, a query model. It awaits them in order, each once, calls the endpoint
  and serialises its answer with FastAPI's `serialize_response`. Every other route, and every
  request while an override replaces one of those dependencies with something that is not of
  that kind, goes through FastAPI's own handler.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute, serialize_response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# (name the endpoint takes it by, or None for a route-level dependency; the callable; whether it
# takes the request)
Step = tuple[str | None, Callable[..., Any], bool]

# What a route was declared with, by the names `add_api_route` takes: an APIRoute keeps each.
ROUTE_OPTIONS = tuple(
    name
    for name in inspect.signature(APIRouter.add_api_route).parameters
    if name not in ("self", "path", "endpoint", "route_class_override")
)
_DEFAULT_LIFESPAN = type(APIRouter().lifespan_context)


def register_router(app: FastAPI, router: APIRouter, *, direct: bool = True) -> None:
    """Serve `router`'s routes from the app's own route list (see the module's docstring).

    `direct=False` keeps FastAPI's handler on every route: FastAPI's telemetry spans the steps
    of that handler, which `KoikiRoute` does not take.
    """
    routes = [route for route in router.routes if isinstance(route, APIRoute)]
    if (
        router.on_startup
        or router.on_shutdown
        or type(router.lifespan_context) is not _DEFAULT_LIFESPAN
        or len(routes) != len(router.routes)
    ):
        app.include_router(router)
        return
    for route in routes:
        app.router.add_api_route(
            route.path,
            route.endpoint,
            # A route class of the router's own keeps its own handler.
            route_class_override=KoikiRoute if direct and type(route) is APIRoute else type(route),
            **{name: getattr(route, name) for name in ROUTE_OPTIONS},
        )


def _awaited(call: Any) -> bool:
    """FastAPI awaits `call` (rather than running it in a thread, or iterating it)."""
    if inspect.isclass(call):
        return False
    return inspect.iscoroutinefunction(call if inspect.isroutine(call) else type(call).__call__)


def _parameters_are_dependencies(dependant: Dependant) -> bool:
    """Every parameter of `dependant` is a dependency or the request: nothing FastAPI parses."""
    return not (
        dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
    )


def _takes_request_at_most(dependant: Dependant) -> bool:
    """FastAPI would await this dependency with the request alone (or nothing), once a request."""
    return (
        _awaited(dependant.call)
        and _parameters_are_dependencies(dependant)
        and not (
            dependant.dependencies or dependant.own_oauth_scopes or dependant.parent_oauth_scopes
        )
        and dependant.scope is None
        and dependant.concurrency is None
        and dependant.use_cache
    )


def direct_plan(dependant: Dependant) -> list[Step] | None:
    """The steps that answer for `dependant`'s endpoint, or None where FastAPI's solver must."""
    if not (_awaited(dependant.call) and _parameters_are_dependencies(dependant)):
        return None
    steps: list[Step] = []
    for sub in dependant.dependencies:
        if not _takes_request_at_most(sub):
            return None
        steps.append((sub.name, sub.call, sub.request_param_name is not None))  # type: ignore[arg-type]
    return steps


class KoikiRoute(APIRoute):
    """An APIRoute that answers requests itself where `direct_plan` allows (module docstring).

    Only the handler built when the route is created is the direct one. FastAPI builds the
    handler again for each router that includes this route, with that inclusion's dependencies
    and overrides, which only its own handler knows: those handlers are FastAPI's.
    """

    _direct_built = False

    def get_route_handler(self) -> Handler:
        fastapi_handler = super().get_route_handler()
        if self._direct_built:
            return fastapi_handler
        self._direct_built = True
        plan = direct_plan(self.dependant)
        if plan is None or not isinstance(self.response_class, DefaultPlaceholder):
            return fastapi_handler
        return self._direct_handler(plan, self.response_class.value, fastapi_handler)

    def _direct_handler(
        self, plan: list[Step], response_class: type[Response], fastapi_handler: Handler
    ) -> Handler:
        endpoint = self.dependant.call
        assert endpoint is not None
        takes_request = self.dependant.request_param_name
        field = self.response_field
        status_code = self.status_code or 200
        provider = self.dependency_overrides_provider
        calls = {call for _name, call, _request in plan}
        override_steps: dict[Callable[..., Any], Step | None] = {}

        def overridden(overrides: Mapping[Any, Any]) -> list[Step] | None:
            steps = []
            for name, call, takes in plan:
                if call in overrides:
                    replacement = overrides[call]
                    if replacement not in override_steps:
                        sub = get_dependant(path=self.path_format, call=replacement, name=name)
                        override_steps[replacement] = (
                            (name, replacement, sub.request_param_name is not None)
                            if _takes_request_at_most(sub)
                            else None
                        )
                    step = override_steps[replacement]
                    if step is None:
                        return None
                    steps.append((name, step[1], step[2]))
                else:
                    steps.append((name, call, takes))
            return steps

        async def handler(request: Request) -> Response:
            steps: list[Step] | None = plan
            overrides = getattr(provider, "dependency_overrides", None)
            if overrides and not calls.isdisjoint(overrides):
                steps = overridden(overrides)
                if steps is None:
                    return await fastapi_handler(request)
            values: dict[str, Any] = {}
            solved: dict[Callable[..., Any], Any] = {}
            for name, call, takes in steps:  # type: ignore[union-attr]
                if call in solved:
                    value = solved[call]
                else:
                    value = solved[call] = await (call(request) if takes else call())
                if name is not None:
                    values[name] = value
            if takes_request:
                values[takes_request] = request
            raw = await endpoint(**values)
            if isinstance(raw, Response):
                return raw
            content = await serialize_response(
                field=field,
                response_content=raw,
                include=self.response_model_include,
                exclude=self.response_model_exclude,
                by_alias=self.response_model_by_alias,
                exclude_unset=self.response_model_exclude_unset,
                exclude_defaults=self.response_model_exclude_defaults,
                exclude_none=self.response_model_exclude_none,
                dump_json=field is not None,
            )
            if field is not None:
                response = Response(content, status_code, media_type="application/json")
            else:
                response = response_class(content, status_code)
            if not is_body_allowed_for_status_code(response.status_code):
                response.body = b""
            return response

        return handler
