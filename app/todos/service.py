"""Business rules of todos. Every function takes the caller: ownership is never optional."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.todos.models import Todo
from app.todos.schemas import (
    TodoCreate,
    TodoFilters,
    TodoListQuery,
    TodoReplace,
    TodoSort,
    TodoUpdate,
)
from libkoiki.auth.principals import Principal
from libkoiki.db import Reader
from libkoiki.db.query import contains_pattern, contains_text
from libkoiki.errors import AppError, NotFoundError
from libkoiki.pagination import paginate

READ_ALL_PERMISSION = "todos:read_all"

# Reads select the table's columns: rows, not ORM entities, for the two read routes every client
# calls most (the entity machinery cost more CPU than the query). Writes load entities.
_todos = Todo.__table__.c
_SORT_COLUMNS = {
    "created_at": _todos.created_at,
    "due_date": _todos.due_date,
    "title": _todos.title,
}
_ROW_BY_ID = select(Todo.__table__).where(_todos.id == bindparam("todo_id"))


@cache  # one statement per shape of filters: 6 sort orders x 2^4 at most
def _list_query(
    sort: TodoSort, *, completed: bool, search: bool, due_before: bool, due_after: bool
) -> Select[Any]:
    """The list statement for one combination of filters, built once; values are bound per call."""
    statement = select(Todo.__table__).where(_todos.owner_id == bindparam("owner_id"))
    if completed:
        statement = statement.where(_todos.is_completed == bindparam("is_completed"))
    if search:
        statement = statement.where(contains_text(bindparam("q"), _todos.title, _todos.description))
    if due_before:
        statement = statement.where(_todos.due_date < bindparam("due_before"))
    if due_after:
        statement = statement.where(_todos.due_date > bindparam("due_after"))

    descending = sort.startswith("-")
    column = _SORT_COLUMNS[sort.lstrip("-")]
    order = column.desc() if descending else column.asc()
    # Todos without a due date come last either way; the id makes the order total and stable.
    tie_breaker = _todos.id.desc() if descending else _todos.id.asc()
    if column is _todos.due_date:
        return statement.order_by(_todos.due_date.is_(None), order, tie_breaker)
    return statement.order_by(order, tie_breaker)


def _owner_to_list(caller: Principal, filters: TodoFilters) -> int:
    if filters.owner_id is None or filters.owner_id == caller.id:
        return caller.id
    if not caller.has_permission(READ_ALL_PERMISSION):
        raise AppError(
            403, f"Listing other users' todos requires {READ_ALL_PERMISSION}", "permission_denied"
        )
    return filters.owner_id


async def list_todos(
    reader: Reader, caller: Principal, query: TodoListQuery
) -> tuple[list[dict[str, Any]], int]:
    statement = _list_query(
        query.sort,
        completed=query.is_completed is not None,
        search=bool(query.q),
        due_before=query.due_before is not None,
        due_after=query.due_after is not None,
    )
    values = {
        "owner_id": _owner_to_list(caller, query),
        "is_completed": query.is_completed,
        "q": contains_pattern(query.q) if query.q else None,
        "due_before": query.due_before,
        "due_after": query.due_after,
    }
    bound = {name: value for name, value in values.items() if value is not None}
    return await paginate(reader, statement, query, bound)


async def get_todo(reader: Reader, caller: Principal, todo_id: int) -> dict[str, Any]:
    """Your todo, or anyone's with todos:read_all: what that permission lists, it also opens."""
    todo = await reader.one_or_none(_ROW_BY_ID, {"todo_id": todo_id})
    if todo is None or (
        todo["owner_id"] != caller.id and not caller.has_permission(READ_ALL_PERMISSION)
    ):
        raise NotFoundError("Todo")
    return todo


async def _own_todo(session: AsyncSession, caller: Principal, todo_id: int) -> Todo:
    """Changes stay the owner's alone, whatever others may read."""
    todo = await session.get(Todo, todo_id)
    # Someone else's todo is reported exactly like a missing one.
    if todo is None or todo.owner_id != caller.id:
        raise NotFoundError("Todo")
    return todo


async def create_todo(session: AsyncSession, caller: Principal, data: TodoCreate) -> Todo:
    todo = Todo(**data.model_dump(), owner_id=caller.id)
    session.add(todo)
    await session.commit()
    return todo


async def replace_todo(
    session: AsyncSession, caller: Principal, todo_id: int, data: TodoReplace
) -> Todo:
    return await _apply(session, await _own_todo(session, caller, todo_id), data.model_dump())


async def update_todo(
    session: AsyncSession, caller: Principal, todo_id: int, data: TodoUpdate
) -> Todo:
    changes = data.model_dump(exclude_unset=True)
    return await _apply(session, await _own_todo(session, caller, todo_id), changes)


async def delete_todo(session: AsyncSession, caller: Principal, todo_id: int) -> None:
    await session.delete(await _own_todo(session, caller, todo_id))
    await session.commit()


async def _apply(session: AsyncSession, todo: Todo, changes: dict[str, object]) -> Todo:
    for field, value in changes.items():
        setattr(todo, field, value)
    await session.commit()
    await session.refresh(todo)
    return todo
