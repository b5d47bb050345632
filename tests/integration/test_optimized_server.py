"""The server as the image's entrypoint starts it: without docstrings and asserts
(PYTHONOPTIMIZE=2, 5-6 MB less resident memory per worker). The API answers as it does anywhere
else, its errors included; documentation served from such a process says what it lacks."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.auth import register_and_login
from tests.ops.support import STRONG_JWT_SECRET, STRONG_SECRET, ops_env, wait_until
from tests.support.servers import free_port, serves_health, start_uvicorn, stop_process


async def test_the_api_answers_alike_without_docstrings_and_the_docs_say_what_they_lack(
    database_url: str, migrated_engine: AsyncEngine, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "uvicorn.log"
    env = ops_env(
        SECRET_KEY=STRONG_SECRET,
        JWT_SECRET=STRONG_JWT_SECRET,
        DATABASE_URL=database_url,
        DOCS_ENABLED="true",
        PYTHONOPTIMIZE="2",
    )
    process = start_uvicorn(port, env, log)
    try:
        assert wait_until(lambda: process.poll() is not None or serves_health(port), timeout=60)
        assert process.poll() is None, log.read_text()[-3000:]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            user = await register_and_login(http)
            created = await http.post(
                "/api/v1/todos", json={"title": "  written by -OO  "}, headers=user.headers
            )
            assert created.status_code == 201, created.text
            listed = await http.get("/api/v1/todos", headers=user.headers)
            assert [todo["title"] for todo in listed.json()["items"]] == ["written by -OO"]

            invalid = await http.post("/api/v1/todos", json={"title": " "}, headers=user.headers)
            assert invalid.status_code == 422, invalid.text
            assert invalid.json()["code"] == "validation_error"
            assert [error["loc"] for error in invalid.json()["detail"]] == [["body", "title"]]
            assert invalid.json()["request_id"] == invalid.headers["X-Request-ID"]
            anonymous = await http.get("/api/v1/todos")
            assert anonymous.status_code == 401
            assert anonymous.json()["code"] == "not_authenticated"

            schema = await http.get("/openapi.json")
            assert schema.status_code == 200
            assert "/api/v1/todos" in schema.json()["paths"]
    finally:
        stop_process(process)
    assert "docs_without_descriptions" in log.read_text()
