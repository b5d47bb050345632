"""Business rules of todos. Every function takes the acting user: ownership is never optional."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.todos.models import Todo
from app.todos.schemas import TodoCreate, TodoFilters, TodoReplace, TodoUpdate
from libkoiki.accounts.models import User
from libkoiki.db.query import contains_text
from libkoiki.errors import AppError, NotFoundError
from libkoiki.pagination import PageParams, paginate

READ_ALL_PERMISSION = "todos:read_all"

_SORT_COLUMNS = {
    "created_at": Todo.created_at,
    "due_date": Todo.due_date,
    "title": Todo.title,
}


def _list_statement(user: User, filters: TodoFilters) -> Select[tuple[Todo]]:
    owner_id = user.id
    if filters.owner_id is not None and filters.owner_id != user.id:
        if not user.has_permission(READ_ALL_PERMISSION):
            raise AppError(
                403,
                f"Listing other users' todos requires {READ_ALL_PERMISSION}",
                "permission_denied",
            )
        owner_id = filters.owner_id
    statement = select(Todo).where(Todo.owner_id == owner_id)
    if filters.is_completed is not None:
        statement = statement.where(Todo.is_completed.is_(filters.is_completed))
    if filters.q:
        statement = statement.where(contains_text(filters.q, Todo.title, Todo.description))
    if filters.due_before is not None:
        statement = statement.where(Todo.due_date < filters.due_before)
    if filters.due_after is not None:
        statement = statement.where(Todo.due_date > filters.due_after)

    descending = filters.sort.startswith("-")
    column = _SORT_COLUMNS[filters.sort.lstrip("-")]
    order = column.desc() if descending else column.asc()
    # Todos without a due date come last either way; the id makes the order total and stable.
    tie_breaker = Todo.id.desc() if descending else Todo.id.asc()
    if column is Todo.due_date:
        return statement.order_by(Todo.due_date.is_(None), order, tie_breaker)
    return statement.order_by(order, tie_breaker)


async def list_todos(
    session: AsyncSession, user: User, filters: TodoFilters, page: PageParams
) -> tuple[list[Todo], int]:
    return await paginate(session, _list_statement(user, filters), page)


async def get_todo(session: AsyncSession, user: User, todo_id: int) -> Todo:
    """Your todo, or anyone's with todos:read_all: what that permission lists, it also opens."""
    todo = await session.get(Todo, todo_id)
    if todo is None or (todo.owner_id != user.id and not user.has_permission(READ_ALL_PERMISSION)):
        raise NotFoundError("Todo")
    return todo


async def _own_todo(session: AsyncSession, user: User, todo_id: int) -> Todo:
    """Changes stay the owner's alone, whatever the reader may see."""
    todo = await session.get(Todo, todo_id)
    # Someone else's todo is reported exactly like a missing one.
    if todo is None or todo.owner_id != user.id:
        raise NotFoundError("Todo")
    return todo


async def create_todo(session: AsyncSession, user: User, data: TodoCreate) -> Todo:
    todo = Todo(**data.model_dump(), owner_id=user.id)
    session.add(todo)
    await session.commit()
    return todo


async def replace_todo(session: AsyncSession, user: User, todo_id: int, data: TodoReplace) -> Todo:
    return await _apply(session, await _own_todo(session, user, todo_id), data.model_dump())


async def update_todo(session: AsyncSession, user: User, todo_id: int, data: TodoUpdate) -> Todo:
    changes = data.model_dump(exclude_unset=True)
    return await _apply(session, await _own_todo(session, user, todo_id), changes)


async def delete_todo(session: AsyncSession, user: User, todo_id: int) -> None:
    await session.delete(await _own_todo(session, user, todo_id))
    await session.commit()


async def _apply(session: AsyncSession, todo: Todo, changes: dict[str, object]) -> Todo:
    for field, value in changes.items():
        setattr(todo, field, value)
    await session.commit()
    await session.refresh(todo)
    return todo
