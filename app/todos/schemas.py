from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
)

from app.todos.models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH
from libkoiki.fields import NoNul, RowId, UTCDateTime
from libkoiki.pagination import PageParams

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH), NoNul
]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX_LENGTH), NoNul]
TodoSort = Literal["created_at", "-created_at", "due_date", "-due_date", "title", "-title"]


class TodoCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description | None = None
    is_completed: StrictBool = False
    due_date: UTCDateTime | None = None


class TodoReplace(TodoCreate):
    """PUT: the whole todo; a field left out goes back to its default."""


class TodoUpdate(BaseModel):
    """PATCH: only the fields sent change. `title` may be changed but never cleared."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    is_completed: StrictBool | None = None
    due_date: UTCDateTime | None = None

    @field_validator("title", "is_completed", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Left out means "unchanged"; an explicit null would mean "no title", which is invalid.
        if value is None:
            raise ValueError("may be left out but not null")
        return value


class TodoRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    is_completed: bool
    due_date: datetime | None
    owner_id: int
    created_at: datetime
    updated_at: datetime


class TodoFilters(BaseModel):
    is_completed: bool | None = None
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), NoNul] | None = None
    due_before: UTCDateTime | None = None
    due_after: UTCDateTime | None = None
    owner_id: RowId | None = None
    sort: TodoSort = "-created_at"


class TodoListQuery(PageParams, TodoFilters):
    """`GET /todos`'s query string, filters then page, read in one validation."""
