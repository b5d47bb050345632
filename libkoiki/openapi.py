"""The OpenAPI document lists every answer an operation can give, not only its route's own.

Some answers come from outside the route: the middleware (413 body too large, 414 URL too long,
431 headers too large, 429 rate limited, 503 database or limiter down), the bearer dependency
(401) and FastAPI's validation (422, which FastAPI documents with its own body shape, not ours).
Adding them here, once, keeps each router to the answers only it knows (400, 403, 404, 409) and
covers a new route the day it is mounted.

The query parameters of models read with `libkoiki.http.query.query_model` are added here too:
FastAPI cannot see them, since the dependency reads the query string itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from libkoiki.errors import ERROR_BODY_REF, ErrorBody, error_response_object
from libkoiki.http.query import QUERY_MODEL_ATTRIBUTE, query_parameters

_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path, operation)
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if method in _METHODS
    ]


def _answers(
    path: str, operation: dict[str, Any], api_prefix: str, rate_limited: bool
) -> list[int]:
    codes = [414, 431]
    if operation.get("security"):
        codes.append(401)
    if "requestBody" in operation:
        codes.append(413)
    if path.startswith(api_prefix):
        codes += [429, 503] if rate_limited else [503]
    return codes


def complete_error_responses(
    document: dict[str, Any], *, api_prefix: str, rate_limited: bool
) -> dict[str, Any]:
    """Document the answers that come from outside the routes; `document` is changed in place.

    Operations under `api_prefix` use the database (503 when it is down) and, when
    `rate_limited`, pass the rate limiter (429, and 503 when it fails closed).
    """
    for path, operation in _operations(document):
        responses = operation.setdefault("responses", {})
        if "422" in responses and _body_ref(responses["422"]) != ERROR_BODY_REF:
            responses["422"] = error_response_object(422)
        for code in _answers(path, operation, api_prefix, rate_limited):
            responses.setdefault(str(code), error_response_object(code))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorBody", ErrorBody.model_json_schema())
    # Only FastAPI's 422 used these, and every one of those now says ErrorBody.
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def _query_models(dependant: Dependant) -> list[Any]:
    found = [getattr(dependant.call, QUERY_MODEL_ATTRIBUTE, None)]
    found += [model for sub in dependant.dependencies for model in _query_models(sub)]
    return [model for model in found if model is not None]


def document_query_models(app: FastAPI, document: dict[str, Any]) -> dict[str, Any]:
    """Add the fields of each route's query models to its parameters; `document` is changed in
    place."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    # Route contexts: routes of included routers, with their prefixes and router dependencies.
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for model in dict.fromkeys(_query_models(route.dependant)):  # once each, in order
            parameters, definitions = query_parameters(model)
            for name, definition in definitions.items():
                schemas.setdefault(name, definition)
            for method in route.methods or ():
                operation = document["paths"].get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                listed = operation.setdefault("parameters", [])
                known = {(parameter["name"], parameter["in"]) for parameter in listed}
                listed += [p for p in parameters if (p["name"], p["in"]) not in known]
                operation.setdefault("responses", {}).setdefault("422", error_response_object(422))
    return document


def _body_ref(response: dict[str, Any]) -> str | None:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref: str | None = schema.get("$ref")
    return ref


def install_openapi(app: FastAPI, *, api_prefix: str, rate_limited: bool) -> None:
    """Make `app.openapi()` (and so `/openapi.json`) return the completed document."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_error_responses(
                document_query_models(app, generate()),
                api_prefix=api_prefix,
                rate_limited=rate_limited,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
