"""HTTP for todos: parse, call the service, return. Rules live in the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from app.todos import service
from app.todos.schemas import (
    TodoCreate,
    TodoListQuery,
    TodoRead,
    TodoReplace,
    TodoUpdate,
)
from libkoiki.auth.dependencies import CurrentPrincipal
from libkoiki.db import ReaderDep, SessionDep
from libkoiki.errors import error_responses
from libkoiki.fields import RowIdPath
from libkoiki.http.query import query_model
from libkoiki.pagination import Page
from libkoiki.ratelimit import rate_limit

# 401, 413, 422, 429 and 503 are documented for every route by libkoiki.openapi.
router = APIRouter(prefix="/api/v1/todos", tags=["todos"])
NOT_FOUND_RESPONSE = error_responses(404)
TodoPage = Page[TodoRead]
# Reads are cheap; writes get a tighter per-user budget than the global default.
write_limit = rate_limit("60/minute", scope="todos:write", per="user")


@router.post(
    "", status_code=status.HTTP_201_CREATED, dependencies=[write_limit], summary="Create a todo"
)
async def create_todo(data: TodoCreate, caller: CurrentPrincipal, session: SessionDep) -> TodoRead:
    return TodoRead.model_validate(await service.create_todo(session, caller, data))


@router.get("", summary="List your todos", responses=error_responses(403))
async def list_todos(
    query: Annotated[TodoListQuery, query_model(TodoListQuery)],
    caller: CurrentPrincipal,
    reader: ReaderDep,
) -> TodoPage:
    todos, total = await service.list_todos(reader, caller, query)
    # One validation of the whole page (the rows are dicts), not one call per row.
    return TodoPage.model_validate(
        {"items": todos, "total": total, "skip": query.skip, "limit": query.limit}
    )


@router.get("/{todo_id}", summary="Get a todo", responses=NOT_FOUND_RESPONSE)
async def get_todo(todo_id: RowIdPath, caller: CurrentPrincipal, reader: ReaderDep) -> TodoRead:
    return TodoRead.model_validate(await service.get_todo(reader, caller, todo_id))


@router.put(
    "/{todo_id}", summary="Replace a todo", dependencies=[write_limit], responses=NOT_FOUND_RESPONSE
)
async def replace_todo(
    todo_id: RowIdPath, data: TodoReplace, caller: CurrentPrincipal, session: SessionDep
) -> TodoRead:
    return TodoRead.model_validate(await service.replace_todo(session, caller, todo_id, data))


@router.patch(
    "/{todo_id}", summary="Update a todo", dependencies=[write_limit], responses=NOT_FOUND_RESPONSE
)
async def update_todo(
    todo_id: RowIdPath, data: TodoUpdate, caller: CurrentPrincipal, session: SessionDep
) -> TodoRead:
    return TodoRead.model_validate(await service.update_todo(session, caller, todo_id, data))


@router.delete(
    "/{todo_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a todo",
    dependencies=[write_limit],
    responses=NOT_FOUND_RESPONSE,
)
async def delete_todo(todo_id: RowIdPath, caller: CurrentPrincipal, session: SessionDep) -> None:
    await service.delete_todo(session, caller, todo_id)
