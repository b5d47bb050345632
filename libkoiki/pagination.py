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


def page_params(
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
    """The requested slice of `statement` (which must be ordered) and the total row count."""
    count_statement = select(func.count()).select_from(statement.order_by(None).subquery())
    total = (await session.execute(count_statement)).scalar_one()
    rows = await session.scalars(statement.offset(params.skip).limit(params.limit))
    return list(rows), total
