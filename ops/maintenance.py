"""Periodic clean-up of authentication state that can no longer affect any decision."""

from __future__ import annotations

from libkoiki.auth.maintenance import purge_expired_auth_state
from libkoiki.config import Settings
from libkoiki.db import create_engine, create_sessionmaker


async def purge_auth_state(settings: Settings) -> dict[str, int]:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            return await purge_expired_auth_state(session, settings)
    finally:
        await engine.dispose()
