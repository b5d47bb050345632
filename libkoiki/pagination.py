"""Bounded list pages: `{"items", "total", "skip", "limit"}` from any SELECT."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.fields import INT32_MAX

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    skip: int
    limit: int


@dataclass(frozen=True, slots=True)
class PageParams:
    skip: int = 0
    limit: int = DEFAULT_LIMIT


# async: a plain `def` dependency costs every request a hop to the thread pool and back.
async def page_params(
    skip: Annotated[int, Query(ge=0, le=INT32_MAX, description="Number of items to skip")] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1-{MAX_LIMIT}")
    ] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(skip=skip, limit=limit)


PageParamsDep = Annotated[PageParams, Depends(page_params)]


async def paginate(
    session: AsyncSession, statement: Select[Any], params: PageParams
) -> tuple[list[Any], int]:
    """The requested slice of `statement` (ordered, one entity or column) and the total count.

    One query: the total rides along as `count(*) OVER ()`. Only a page past the end, which has
    no row to carry it, costs a second query.
    """
    total_column = func.count().over().label("total")
    page = statement.add_columns(total_column).offset(params.skip).limit(params.limit)
    rows = (await session.execute(page)).all()
    if rows:
        return [row[0] for row in rows], int(rows[0][-1])
    if params.skip == 0:
        return [], 0
    count_statement = select(func.count()).select_from(statement.order_by(None).subquery())
    return [], (await session.execute(count_statement)).scalar_one()
