"""Routes served without FastAPI's per-request generality where a route does not use it.

FastAPI 0.165 finds a request's route by walking the routers included in the app, matching each
candidate twice, and then solves the route's parameters with a solver built for every kind of
parameter. A bearer list request spent 6 % of its instructions on the first and 12 % on the
second (`bench.instructions list`). Two changes keep FastAPI's way of declaring routes, its
dependency overrides and its OpenAPI document, and take that cost off the request path:

- `register_router` puts a copy of each of a router's plain routes on the app itself, ahead of
  the router FastAPI includes as usual: Starlette matches a copy once, in order, where FastAPI
  0.165 would walk the included routers. Copying stops at the router's first route that is not
  plain (a stream, a route class of the router's own, a nested router), so no copy overtakes
  a route declared before it. The inclusion behind the copies keeps all the rest as FastAPI
  has it: the OpenAPI document (the copies stay out of it), lifespans and start-up hooks,
  `frontend()` routes, the routes past the first that is not plain, and routes added to the
  router later. A router with form limits is only included: FastAPI applies them as a request
  enters it.
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
from typing import Any, Literal, NamedTuple

from fastapi import APIRouter, FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.exceptions import EndpointContext
from fastapi.routing import APIRoute, serialize_response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class Step(NamedTuple):
    """One dependency of a route, as the direct handler runs it."""

    declared: Callable[..., Any]  # as the route declares it: FastAPI caches its value under it
    call: Callable[..., Any]  # what runs: `declared`, or what an override put in its place
    name: str | None  # the endpoint's parameter it fills; None for a route-level dependency
    request: str | None  # the parameter the request goes in, if it takes one


# What a route was declared with, by the names `add_api_route` takes: an APIRoute keeps each.
ROUTE_OPTIONS = tuple(
    name
    for name in inspect.signature(APIRouter.add_api_route).parameters
    if name not in ("self", "path", "endpoint", "route_class_override", "include_in_schema")
)


def register_router(app: FastAPI, router: APIRouter, *, direct: bool = True) -> None:
    """Include `router` in `app`, its plain routes copied ahead of it (the module's docstring).

    `direct=False` keeps FastAPI's handler on the copies: FastAPI's telemetry spans the steps of
    that handler, which `KoikiRoute` does not take.
    """
    if not router.form_limits:
        for route in router.routes:
            # Copies go ahead of the whole inclusion: past the first route that is not copied, a
            # copy would overtake it (and every route after it), so copying stops there.
            if type(route) is not APIRoute or _streams(route):
                break
            app.router.add_api_route(
                route.path,
                route.endpoint,
                route_class_override=KoikiRoute if direct else APIRoute,
                include_in_schema=False,
                **{name: getattr(route, name) for name in ROUTE_OPTIONS},
            )
    app.include_router(router)


def _streams(route: APIRoute) -> bool:
    """FastAPI streams the route's answer, from what it derived at declaration: not an option
    `add_api_route` takes, so a copy would lose it."""
    function = inspect.unwrap(route.endpoint)
    return bool(
        route.is_json_stream
        or route.is_sse_stream
        or route.stream_item_type is not None
        or inspect.isasyncgenfunction(function)
        or inspect.isgeneratorfunction(function)
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


def _direct_plan(dependant: Dependant) -> list[Step] | None:
    """The steps that answer for `dependant`'s endpoint, or None where FastAPI's solver must."""
    if not (
        _awaited(dependant.call)
        and _parameters_are_dependencies(dependant)
        and all(_takes_request_at_most(sub) for sub in dependant.dependencies)
    ):
        return None
    return [
        Step(sub.call, sub.call, sub.name, sub.request_param_name)  # type: ignore[arg-type]
        for sub in dependant.dependencies
    ]


def _endpoint_contexts(route: APIRoute) -> dict[str, EndpointContext]:
    """Where the endpoint is, by method, for the message of an answer failing its model."""
    where = EndpointContext()
    name = getattr(route.endpoint, "__name__", None)
    if name is not None:
        where["function"] = name
    try:
        where["file"] = inspect.getsourcefile(route.endpoint) or ""
        where["line"] = inspect.getsourcelines(route.endpoint)[1]
    except (OSError, TypeError):
        pass
    return {
        method: EndpointContext(**where, path=f"{method} {route.path_format}")
        for method in route.methods or ()
    }


class KoikiRoute(APIRoute):
    """An APIRoute that answers requests itself where `_direct_plan` allows (module docstring).

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
        plan = _direct_plan(self.dependant)
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
        declared = {step.declared for step in plan}
        contexts = _endpoint_contexts(self)
        include, exclude = self.response_model_include, self.response_model_exclude
        by_alias, exclude_none = self.response_model_by_alias, self.response_model_exclude_none
        exclude_unset = self.response_model_exclude_unset
        exclude_defaults = self.response_model_exclude_defaults
        # By declared dependency: the override last seen in its place, and the parameter it takes
        # the request by (False when FastAPI's solver must run it). Overrides are compared by
        # identity: they need not hash.
        seen: dict[Callable[..., Any], tuple[Any, str | Literal[False] | None]] = {}

        def overridden(overrides: Mapping[Any, Any]) -> list[Step] | None:
            steps = []
            for step in plan:
                replacement = overrides.get(step.declared, step.call)
                if replacement is not step.call:
                    known = seen.get(step.declared)
                    if known is None or known[0] is not replacement:
                        sub = get_dependant(path=self.path_format, call=replacement)
                        runs = _takes_request_at_most(sub)
                        known = seen[step.declared] = (
                            replacement,
                            sub.request_param_name if runs else False,
                        )
                    if known[1] is False:
                        return None
                    step = step._replace(call=replacement, request=known[1])
                steps.append(step)
            return steps

        async def handler(request: Request) -> Response:
            steps = plan
            overrides = getattr(provider, "dependency_overrides", None)
            if overrides and not declared.isdisjoint(overrides):
                replaced = overridden(overrides)
                if replaced is None:
                    return await fastapi_handler(request)
                steps = replaced
            values: dict[str, Any] = {}
            solved: dict[Callable[..., Any], Any] = {}
            for step in steps:
                if step.declared in solved:
                    value = solved[step.declared]
                elif step.request:
                    value = solved[step.declared] = await step.call(**{step.request: request})
                else:
                    value = solved[step.declared] = await step.call()
                if step.name is not None:
                    values[step.name] = value
            if takes_request:
                values[takes_request] = request
            raw = await endpoint(**values)
            if isinstance(raw, Response):
                return raw
            content = await serialize_response(
                field=field,
                response_content=raw,
                include=include,
                exclude=exclude,
                by_alias=by_alias,
                exclude_unset=exclude_unset,
                exclude_defaults=exclude_defaults,
                exclude_none=exclude_none,
                endpoint_ctx=contexts.get(request.method),
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
