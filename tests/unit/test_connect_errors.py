"""The one-line explanation of a failed connection, for the cases that need no server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from libkoiki.db.connect_errors import describe_connect_failure


async def _connect_error(url: str) -> BaseException:
    engine = create_async_engine(url)
    try:
        async with engine.connect():
            pass
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    pytest.fail(f"{url} connected")


async def test_a_sqlite_file_that_cannot_be_opened_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # a file where the database's folder should be
    url = f"sqlite+aiosqlite:///{blocker}/koiki.db"
    failure = describe_connect_failure(await _connect_error(url), url)
    assert failure is not None
    assert failure.permanent
    assert failure.message.startswith(f"cannot open the SQLite database file '{blocker}/koiki.db'")


async def test_a_refused_connection_names_every_host_of_a_multi_host_url() -> None:
    url = "postgresql+asyncpg://koiki@/koiki?host=127.0.0.1:1&host=127.0.0.1:2"
    failure = describe_connect_failure(await _connect_error(url), url)
    assert failure is not None
    assert not failure.permanent
    assert "127.0.0.1:1,127.0.0.1:2" in failure.message


def test_anything_else_is_not_explained() -> None:
    assert describe_connect_failure(ValueError("not a connection problem"), None) is None
