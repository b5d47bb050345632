"""Every endpoint and dependency of the app runs on the event loop.

FastAPI calls a plain `def` endpoint or dependency, and a class used as a dependency (such as
`Depends(OAuth2PasswordRequestForm)`), in its thread pool: a thread hop on every request, and
after a burst, idle threads keeping the memory they used. Nothing of ours may take that path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.main import ROUTERS, create_app
from libkoiki.config import Settings
from libkoiki.health import router as health_router


def _runs_on_the_loop(call: Callable[..., Any]) -> bool:
    def is_async(function: object) -> bool:
        return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)

    if is_async(call):
        return True
    return not inspect.isclass(call) and is_async(getattr(call, "__call__", None))  # noqa: B004


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    if dependant.call is not None:
        yield dependant.call
    for dependency in dependant.dependencies:
        yield from _calls(dependency)


def test_no_endpoint_or_dependency_runs_in_the_thread_pool() -> None:
    app = create_app(Settings(_env_file=None, app_env="test"))  # type: ignore[call-arg]
    # The app's own routes (metrics, docs) and those of every router it includes.
    routes = [
        route
        for route in [
            *app.routes,
            *(r for router in [health_router, *ROUTERS] for r in router.routes),
        ]
        if isinstance(route, APIRoute)
    ]
    assert len(routes) > 45  # the whole API, not a stub
    in_threads = sorted(
        {
            f"{route.path}: {getattr(call, '__qualname__', repr(call))}"
            for route in routes
            for call in _calls(route.dependant)
            if not _runs_on_the_loop(call)
        }
    )
    assert in_threads == []
