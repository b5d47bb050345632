"""Concurrent creates through the real API, every answer kept: the load of the failover proofs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.fixtures.auth import AuthedUser

TODOS = "/api/v1/todos"
UNAVAILABLE = "database_unavailable"


@dataclass(frozen=True)
class Outcome:
    sent_at: float
    done_at: float
    status: int
    code: str | None
    todo_id: int | None
    retry_after: str | None
    title: str


@dataclass
class CreateLoad:
    """`workers` loops creating todos for `user` until `stop()` or the deadline."""

    client: httpx.AsyncClient
    user: AuthedUser
    workers: int = 4
    deadline_seconds: float = 120
    outcomes: list[Outcome] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self.deadline = time.monotonic() + self.deadline_seconds
        self._tasks = [asyncio.create_task(self._creator(w)) for w in range(self.workers)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _creator(self, worker: int) -> None:
        number = 0
        while not self._stop.is_set() and time.monotonic() < self.deadline:
            number += 1
            sent = time.monotonic()
            title = f"w{worker}-{number}"  # unique: ids may be handed out twice (see below)
            try:
                response = await self.client.post(
                    TODOS, json={"title": title}, headers=self.user.headers
                )
            except httpx.TransportError as exc:
                self.transport_errors.append(f"w{worker}-{number}: {exc!r}")
                continue
            is_json = response.headers.get("content-type") == "application/json"
            body = response.json() if is_json else {}
            created = response.status_code == 201
            self.outcomes.append(
                Outcome(
                    sent,
                    time.monotonic(),
                    response.status_code,
                    body.get("code"),
                    body.get("id") if created else None,
                    response.headers.get("retry-after"),
                    title,
                )
            )
            if response.status_code == 503:
                await asyncio.sleep(0.05)  # a client backing off, not a hot loop

    async def until(self, predicate: Callable[[], bool], what: str) -> None:
        while not predicate():
            assert time.monotonic() < self.deadline, f"gave up waiting for {what}"
            await asyncio.sleep(0.02)

    def created_since(self, moment: float) -> int:
        return sum(1 for o in self.outcomes if o.status == 201 and o.sent_at > moment)

    def created_titles(self) -> set[str]:
        """What was acknowledged, by title: after an asynchronous failover the new primary's
        sequence may be behind, and hand out again the id of a create it never received."""
        return {o.title for o in self.outcomes if o.status == 201}

    def unexpected(self) -> list[Outcome]:
        """Anything but a 201 or a 503 database_unavailable with Retry-After."""
        return [
            o
            for o in self.outcomes
            if not (
                (o.status, o.code) == (201, None)
                or (o.status, o.code, o.retry_after is not None) == (503, UNAVAILABLE, True)
            )
        ]

    def tally(self) -> dict[str, int]:
        tally: dict[str, int] = {}
        for outcome in self.outcomes:
            key = f"{outcome.status} {outcome.code or ''}".strip()
            tally[key] = tally.get(key, 0) + 1
        return tally
