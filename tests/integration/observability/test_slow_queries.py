"""DB_SLOW_QUERY_MS logs statements over the threshold, on SQLAlchemy's path and on the reader's
driver path alike, with the request id and without the bound values; off, nothing is timed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.fixtures.auth import register_and_login


def slow_lines(captured: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "slow_query"]


def slow_count() -> float:
    return REGISTRY.get_sample_value("koiki_db_slow_queries_total") or 0.0


def driver_count() -> float:
    return REGISTRY.get_sample_value("koiki_db_reader_statements_total", {"path": "driver"}) or 0.0


async def test_every_statement_over_a_tiny_threshold_is_logged(
    make_client, settings, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    email = "slow-queries@example.com"
    async with make_client(db_slow_query_ms=0.0001, log_format="json") as client:
        capsys.readouterr()
        counted, on_driver = slow_count(), driver_count()
        user = await register_and_login(client, email=email)
        for _ in range(3):  # the reader plans a statement on its second use
            listed = await client.get(
                "/api/v1/todos", headers={**user.headers, "X-Request-ID": "slow-req-1"}
            )
            assert listed.status_code == 200
    lines = slow_lines(capsys.readouterr().err)
    assert lines, "statements over the threshold were logged"
    assert slow_count() - counted >= len([line for line in lines if line["request_id"]])
    listing = [line for line in lines if line["request_id"] == "slow-req-1"]
    assert listing, "the todo list's statements carry its request id"
    assert all(line["duration_ms"] >= 0 and line["statement"] for line in lines)
    # The statements that carried the email and the password hash show placeholders only.
    assert not any(email in json.dumps(line) or "argon2" in json.dumps(line) for line in lines)
    paths = {line["path"] for line in listing}
    if settings.database_url.startswith("postgresql"):
        # The reader kept its driver path, and the slow-query log saw the driver's statements.
        assert driver_count() > on_driver
        assert "driver" in paths
    else:
        assert paths == {"sqlalchemy"}


async def test_off_by_default(client, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    counted = slow_count()
    user = await register_and_login(client)
    await client.get("/api/v1/todos", headers=user.headers)
    assert slow_count() == counted
    assert not slow_lines(capsys.readouterr().err)
