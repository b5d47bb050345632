"""Query strings validated into a Pydantic model in one call.

    TodoQuery = Annotated[TodoFilters, query_model(TodoFilters)]

    @router.get("/todos")
    async def list_todos(query: TodoQuery) -> ...

FastAPI reads a query model (`Annotated[Model, Query()]`) field by field and inspects each
field's annotation again on every request: about 30 µs for the six filters of the todo list in
isolation, and a tenth of that route's CPU under load. `query_model` validates the query string
with one `model_validate` (about 2 µs). Clients see no difference: errors keep FastAPI's shape (a
422 whose `loc` is `["query", field]`), a field typed as a list collects a repeated key, the last
value of any other repeated key wins, keys the model does not know are left to its `extra`
setting, and `libkoiki.openapi` lists the model's fields as the operation's query parameters.
"""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends as DependsParam
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
_SEQUENCES = (list, tuple, set, frozenset)
QUERY_MODEL_ATTRIBUTE = "__koiki_query_model__"


def _is_sequence(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_sequence(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return any(_is_sequence(arg) for arg in get_args(annotation))
    return annotation in _SEQUENCES or origin in _SEQUENCES


def query_model(model: type[M]) -> DependsParam:
    """A dependency returning `model` validated from the request's query string."""
    repeated = frozenset(
        field.alias or name
        for name, field in model.model_fields.items()
        if _is_sequence(field.annotation)
    )

    async def parse(request: Request) -> M:
        query = request.query_params
        values = {key: query.getlist(key) if key in repeated else query[key] for key in query}
        try:
            return model.model_validate(values)
        except ValidationError as error:
            details = error.errors(include_url=False)
            raise RequestValidationError(
                [{**detail, "loc": ("query", *detail["loc"])} for detail in details]
            ) from None

    setattr(parse, QUERY_MODEL_ATTRIBUTE, model)
    marker: DependsParam = Depends(parse)
    return marker


def query_parameters(model: type[BaseModel]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """OpenAPI query parameters for `model`'s fields, as FastAPI writes them for a query model,
    and the component schemas they refer to."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", ()))
    parameters = []
    for name, field_schema in schema.get("properties", {}).items():
        if "default" in field_schema and field_schema["default"] is None:
            del field_schema["default"]  # FastAPI leaves a null default out of a parameter
        parameter = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": field_schema,
        }
        if "description" in field_schema:
            parameter["description"] = field_schema["description"]
        parameters.append(parameter)
    return parameters, schema.get("$defs", {})
