"""The routes `KoikiRoute` answers itself answer as FastAPI's handler does, on the real stack.

With OTEL_ENABLED=true every route keeps FastAPI's handler (its telemetry spans that handler's
steps), so the two apps below differ only in who solves the dependencies.
"""

from __future__ import annotations

import httpx

from tests.conftest import ClientFactory
from tests.fixtures.auth import register_and_login

# Differ between any two requests, whoever answers them.
VOLATILE = {"date", "x-request-id", "x-ratelimit-remaining", "x-ratelimit-reset"}


def answer(response: httpx.Response) -> tuple[int, object, dict[str, str]]:
    headers = {name: value for name, value in response.headers.items() if name not in VOLATILE}
    body = response.json() if response.content else None
    if isinstance(body, dict):
        body.pop("request_id", None)
    return response.status_code, body, headers


async def test_the_todo_list_and_probes_answer_as_fastapi_does(make_client: ClientFactory) -> None:
    async with make_client() as direct, make_client(otel_enabled=True) as fastapi:
        owner = await register_and_login(direct)
        other = await register_and_login(direct)
        for title in ("buy milk", "write report", "call mum"):
            created = await direct.post(
                "/api/v1/todos", json={"title": title}, headers=owner.headers
            )
            assert created.status_code == 201, created.text
        requests: list[tuple[str, dict[str, str]]] = [
            ("/api/v1/todos", owner.headers),
            ("/api/v1/todos?limit=2&skip=1&sort=title", owner.headers),
            ("/api/v1/todos?q=report&is_completed=false", owner.headers),
            ("/api/v1/todos", other.headers),
            (f"/api/v1/todos?owner_id={owner.id}", other.headers),  # 403
            ("/api/v1/todos?limit=0&sort=nonsense", owner.headers),  # 422, both fields named
            ("/api/v1/todos", {}),  # 401
            ("/api/v1/todos", {"Authorization": "Bearer not-a-token"}),  # 401
            ("/health/ready", {}),
            ("/", {}),
        ]
        for path, headers in requests:
            assert answer(await direct.get(path, headers=headers)) == answer(
                await fastapi.get(path, headers=headers)
            ), path
