"""Bounded list pages: `{"items", "total", "skip", "limit"}` from any SELECT."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.db.reader import Reader
from libkoiki.fields import INT32_MAX
from libkoiki.http.query import query_model

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    skip: int
    limit: int


class PageParams(BaseModel):
    """`?skip=&limit=`: which slice of a list to return."""

    model_config = ConfigDict(frozen=True)

    skip: int = Field(default=0, ge=0, le=INT32_MAX, description="Number of items to skip")
    limit: int = Field(
        default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Page size, 1-{MAX_LIMIT}"
    )


PageParamsDep = Annotated[PageParams, query_model(PageParams)]


# The window count's label: a name no table of an application is expected to have.
_TOTAL = "koiki_page_total"


@lru_cache(maxsize=256)
def _paged(statement: Select[Any]) -> tuple[Select[Any], bool]:
    # Statements built once (a module constant, or cached per shape of filters) are paged once
    # too; the page's bounds are bound per call, so the compiled form is shared by every page.
    total_column = func.count().over().label(_TOTAL)
    paged = (
        statement.add_columns(total_column)
        .offset(bindparam("page_skip"))
        .limit(bindparam("page_limit"))
    )
    return paged, len(statement.column_descriptions) == 1


async def paginate(
    source: AsyncSession | Reader,
    statement: Select[Any],
    params: PageParams,
    values: Mapping[str, Any] | None = None,
) -> tuple[list[Any], int]:
    """The requested slice of `statement` (ordered) and the total count; `values` fills the
    statement's bind parameters.

    From a session, items are ORM entities (or values) for a statement selecting one entity or
    column, and dicts of the named columns otherwise; from a `Reader` they are always dicts
    (Pydantic validates a dict several times faster than a row).

    One query: the total rides along as `count(*) OVER ()`. Only a page past the end, which has
    no row to carry it, costs a second query.
    """
    paged, single = _paged(statement)
    bound = {**(values or {}), "page_skip": params.skip, "page_limit": params.limit}
    items: list[Any]
    if isinstance(source, Reader):
        items = await source.all(paged, bound)
        total = items[0][_TOTAL] if items else None
        for item in items:
            del item[_TOTAL]
    else:
        result = await source.execute(paged, bound)
        rows = result.all()
        total = rows[0][-1] if rows else None
        if single:
            items = [row[0] for row in rows]
        else:
            names = tuple(result.keys())[:-1]  # zip stops there: the total is left out
            items = [dict(zip(names, row, strict=False)) for row in rows]
    if total is not None:
        return items, int(total)
    if params.skip == 0:
        return [], 0
    count_statement = select(func.count()).select_from(statement.order_by(None).subquery())
    if isinstance(source, Reader):
        return [], await source.scalar(count_statement, values)
    return [], (await source.execute(count_statement, dict(values or {}))).scalar_one()
