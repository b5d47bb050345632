"""The two bare baselines KOIKI-FW is measured against in the same run (F is in bench/floor.py).

(A) `health_app`: bare Starlette answering `/health` with the same JSON as KOIKI's liveness route.
(B) `todos_app`: bare Starlette + asyncpg (one pool of 10, one query) answering
`GET /api/v1/todos?limit=20&owner=N` with the same page KOIKI returns for that owner's token:
20 rows plus the total, counted in the same query.

No authentication, rate limiting, logging or metrics: that is what the ratios price.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from libkoiki import __version__

LIST_QUERY = """
SELECT id, title, description, is_completed, due_date, owner_id, created_at, updated_at,
       count(*) OVER () AS total
FROM todos WHERE owner_id = $1
ORDER BY created_at DESC, id DESC
LIMIT $2
"""


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def health(_request: Request) -> JSONResponse:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return JSONResponse(
        {
            "status": "healthy",
            "service": "koiki-framework",
            "version": __version__,
            "timestamp": now,
        }
    )


health_app = Starlette(routes=[Route("/health", health)])


@asynccontextmanager
async def _pool(app: Starlette) -> AsyncIterator[None]:
    dsn = os.environ["BENCH_ASYNCPG_DSN"]
    app.state.pool = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
    try:
        yield
    finally:
        await app.state.pool.close()


async def list_todos(request: Request) -> Response:
    owner = int(request.query_params["owner"])
    limit = int(request.query_params.get("limit", "20"))
    async with request.app.state.pool.acquire() as connection:
        rows = await connection.fetch(LIST_QUERY, owner, limit)
    items: list[dict[str, Any]] = [
        {
            "id": row["id"],
            "title": row["title"],
            "description": row["description"],
            "is_completed": row["is_completed"],
            "due_date": _utc(row["due_date"]),
            "owner_id": row["owner_id"],
            "created_at": _utc(row["created_at"]),
            "updated_at": _utc(row["updated_at"]),
        }
        for row in rows
    ]
    total = rows[0]["total"] if rows else 0
    body = {"items": items, "total": total, "skip": 0, "limit": limit}
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


todos_app = Starlette(routes=[Route("/api/v1/todos", list_todos)], lifespan=_pool)
