"""Where the maintenance switch lives, and how it is read and written.

It cannot live in PostgreSQL: maintenance is on precisely while the database is being restored.
It lives in Redis when `REDIS_URL` is set, so every replica on every host sees one switch, and
always in `MAINTENANCE_FILE` too: the embedded single-process default has no Redis, nginx can
serve its static page when that file is on a volume it shares, and a Redis that is itself being
repaired must not silently turn maintenance off. Either place saying "on" means on.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

DEFAULT_MESSAGE = "The service is under maintenance. Please try again later."
DEFAULT_RETRY_AFTER = 300
REDIS_KEY = "maintenance"


@dataclass(frozen=True, slots=True)
class MaintenanceState:
    message: str = DEFAULT_MESSAGE
    retry_after: int = DEFAULT_RETRY_AFTER
    since: str = ""
    by: str = ""
    reason: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> MaintenanceState:
        """A switch someone edited by hand still means "on": unreadable fields take defaults."""
        try:
            data: Any = json.loads(text)
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        retry_after = data.get("retry_after")
        return cls(
            message=str(data.get("message") or DEFAULT_MESSAGE),
            retry_after=retry_after
            if isinstance(retry_after, int) and retry_after >= 0
            else DEFAULT_RETRY_AFTER,
            since=str(data.get("since") or ""),
            by=str(data.get("by") or ""),
            reason=str(data.get("reason") or ""),
        )


def redis_key(prefix: str) -> str:
    return f"{prefix}{REDIS_KEY}"


def read_file(path: Path) -> MaintenanceState | None:
    try:
        return MaintenanceState.from_json(path.read_bytes())
    except FileNotFoundError:
        return None


def write_file(path: Path, state: MaintenanceState) -> None:
    """Atomically: a replica reading mid-write sees the old switch or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".maintenance-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(state.to_json())
        os.chmod(temporary, 0o644)  # nginx reads it as another user
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_file(path: Path) -> None:
    path.unlink(missing_ok=True)


async def read_redis(client: Redis, prefix: str) -> MaintenanceState | None:
    value = await client.get(redis_key(prefix))
    return None if value is None else MaintenanceState.from_json(value)


async def write_redis(client: Redis, prefix: str, state: MaintenanceState | None) -> None:
    if state is None:
        await client.delete(redis_key(prefix))
    else:
        await client.set(redis_key(prefix), state.to_json())
