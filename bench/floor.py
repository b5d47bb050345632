"""(F) Scenario 2's page served the common FastAPI way, measured in the same run and reported.

`floor_app` answers `GET /api/v1/todos?limit=20&owner=N` like baseline B, but from bare FastAPI
and an SQLAlchemy session (pool of 10) running the same Core query KOIKI runs, validated by the
same Pydantic models, with no authentication, rate limiting or middleware. K against F prices
KOIKI against what a team would write without it: K adds those, and reads through its `Reader`
instead of a session. Kept apart from bench.baselines so the bare baselines' processes import
nothing of it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.todos.models import Todo
from app.todos.schemas import TodoRead
from libkoiki.pagination import Page


@asynccontextmanager
async def _sessions(app: FastAPI) -> AsyncIterator[None]:
    engine = create_async_engine(os.environ["BENCH_SQLALCHEMY_URL"], pool_size=10, max_overflow=0)
    app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    try:
        yield
    finally:
        await engine.dispose()


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


_todos = Todo.__table__.c
_FLOOR_QUERY = (
    select(Todo.__table__, func.count().over().label("total"))
    .where(_todos.owner_id == bindparam("owner"))
    .order_by(_todos.created_at.desc(), _todos.id.desc())
    .limit(bindparam("limit"))
)
floor_app = FastAPI(lifespan=_sessions)


@floor_app.get("/api/v1/todos")
async def floor_todos(
    owner: int, session: Annotated[AsyncSession, Depends(_session)], limit: int = 20
) -> Page[TodoRead]:
    result = await session.execute(_FLOOR_QUERY, {"owner": owner, "limit": limit})
    rows = result.all()
    names = tuple(result.keys())[:-1]
    return Page(
        items=[TodoRead.model_validate(dict(zip(names, row, strict=False))) for row in rows],
        total=rows[0][-1] if rows else 0,
        skip=0,
        limit=limit,
    )
