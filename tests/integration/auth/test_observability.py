"""No secret reaches a response or a log line; the auth flows are counted in /metrics."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import User
from tests.conftest import ClientFactory
from tests.fixtures.auth import AUTH, login, login_as, register_and_login

NEW_PASSWORD = "copper-meadow-signal-5"


async def test_password_and_hash_never_appear_in_responses_or_logs(
    make_client: ClientFactory, db_session: AsyncSession, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    responses: list[httpx.Response] = []
    async with make_client(log_format="json") as client:
        user = await register_and_login(client, full_name="Grace")
        other = await login_as(client, user)
        responses += [
            await client.get(f"{AUTH}/me", headers=user.headers),
            await login(client, user.email, "a-wrong-password-9"),
            await client.post(f"{AUTH}/refresh", json={"refresh_token": other.refresh_token}),
            await client.get(f"{AUTH}/sessions", headers=user.headers),
            await client.post(
                f"{AUTH}/password-change",
                headers=user.headers,
                json={"current_password": user.password, "new_password": NEW_PASSWORD},
            ),
            await client.post(
                f"{AUTH}/register", json={"email": "x@example.com", "password": "short"}
            ),
            await client.post(f"{AUTH}/password-reset/request", json={"email": user.email}),
            await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer abc.def.ghi"}),
        ]
    stored_hash = await db_session.scalar(select(User.hashed_password).where(User.id == user.id))
    assert stored_hash is not None
    logs = capfd.readouterr().err

    secrets = [user.password, NEW_PASSWORD, stored_hash, "$argon2id$", user.refresh_token]
    for response in responses:
        for secret in secrets:
            assert secret not in response.text
    for secret in secrets:
        assert secret not in logs

    # The app logs JSON lines, and the ones about these requests carry their request ids.
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "koiki.access"]
    assert len(access) >= len(responses)
    assert {r.headers["x-request-id"] for r in responses} <= {a["request_id"] for a in access}


def _sample(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name + (("{" + labels + "}") if labels else "")) + r" ([0-9.e+]+)"
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


async def test_auth_flows_are_counted(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    user = await register_and_login(client)
    await login(client, user.email, "a-wrong-password-9")
    await client.post(f"{AUTH}/refresh", json={"refresh_token": user.refresh_token})
    await client.post(f"{AUTH}/refresh", json={"refresh_token": user.refresh_token})  # reuse
    after = (await client.get("/metrics")).text

    def delta(name: str, labels: str = "") -> float:
        return _sample(after, name, labels) - _sample(before, name, labels)

    assert delta("koiki_auth_logins_total", 'outcome="success"') == 1
    assert delta("koiki_auth_logins_total", 'outcome="invalid_credentials"') == 1
    assert delta("koiki_auth_token_refreshes_total", 'outcome="success"') == 1
    assert delta("koiki_auth_refresh_reuse_detections_total") == 1
    assert "koiki_auth_lockouts_total" in after
    assert "koiki_auth_password_resets_total" in after or "koiki_auth_password_resets" in after
