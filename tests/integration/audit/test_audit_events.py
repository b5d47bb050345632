"""The audit trail: administration writes it, /api/v1/audit-events reads it back."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.audit.models import AuditEvent
from libkoiki.audit.service import REDACTED, record_event
from tests.integration.accounts.conftest import PASSWORD, Actor

EVENT_FIELDS = {
    "id",
    "occurred_at",
    "actor_id",
    "actor_email",
    "action",
    "outcome",
    "target_type",
    "target_id",
    "ip",
    "user_agent",
    "request_id",
    "details",
}


async def _events(client: httpx.AsyncClient, admin: Actor, **params: object) -> dict:
    response = await client.get("/api/v1/audit-events", headers=admin.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_admin_actions_are_recorded_with_request_context(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    created = await client.post(
        "/api/v1/users",
        headers={**admin.headers, "X-Request-ID": "audit-trace-1", "User-Agent": "AuditTest/1.0"},
        json={"email": "audited@example.com", "password": PASSWORD},
    )
    assert created.status_code == 201
    user_id = created.json()["id"]
    await client.patch(f"/api/v1/users/{user_id}", headers=admin.headers, json={"is_active": False})
    await client.delete(f"/api/v1/users/{user_id}", headers=admin.headers)

    page = await _events(client, admin, actor_id=admin.id)
    actions = [event["action"] for event in page["items"] if event["action"].startswith("user.")]
    # Newest first.
    assert actions == ["user.delete", "user.update", "user.create"]

    creation = (await _events(client, admin, action="user.create"))["items"][0]
    assert set(creation) == EVENT_FIELDS
    assert creation["actor_id"] == admin.id
    assert creation["actor_email"] == admin.email
    assert creation["outcome"] == "success"
    assert creation["target_type"] == "user"
    assert creation["target_id"] == str(user_id)
    assert creation["request_id"] == "audit-trace-1"
    assert creation["user_agent"] == "AuditTest/1.0"
    assert creation["ip"]
    assert creation["occurred_at"].endswith("Z")
    assert creation["details"]["email"] == "audited@example.com"

    update = (await _events(client, admin, action="user.update"))["items"][0]
    assert update["details"]["changes"] == {"is_active": False}

    body = (await client.get("/api/v1/audit-events", headers=admin.headers)).text
    assert PASSWORD not in body
    assert "$argon2" not in body


async def test_filters_time_range_and_pagination(client: httpx.AsyncClient, admin: Actor) -> None:
    for name in ("one", "two", "three"):
        response = await client.post("/api/v1/roles", headers=admin.headers, json={"name": name})
        assert response.status_code == 201
    everything = await _events(client, admin, action="role.create")
    assert everything["total"] == 3
    names = [event["details"]["name"] for event in everything["items"]]
    assert names == ["three", "two", "one"]

    middle = everything["items"][1]
    since = await _events(client, admin, action="role.create", since=middle["occurred_at"])
    assert [e["details"]["name"] for e in since["items"]][-1] == "two"
    assert "one" not in [e["details"]["name"] for e in since["items"]]
    until = await _events(client, admin, action="role.create", until=middle["occurred_at"])
    assert "two" not in [e["details"]["name"] for e in until["items"]]
    assert "one" in [e["details"]["name"] for e in until["items"]]

    first_page = await _events(client, admin, action="role.create", limit=2)
    second_page = await _events(client, admin, action="role.create", limit=2, skip=2)
    assert first_page["total"] == second_page["total"] == 3
    assert len(first_page["items"]) == 2
    assert len(second_page["items"]) == 1
    assert second_page["items"][0]["details"]["name"] == "one"

    assert (await _events(client, admin, action="no.such.action"))["total"] == 0
    assert (await _events(client, admin, actor_id=999999))["total"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"limit": 101}, "limit"),
        ({"actor_id": "me"}, "actor_id"),
    ],
)
async def test_bad_filters_are_422_naming_the_parameter(
    client: httpx.AsyncClient, admin: Actor, params: dict[str, object], field: str
) -> None:
    response = await client.get("/api/v1/audit-events", headers=admin.headers, params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


async def test_plain_users_cannot_read_the_trail(
    client: httpx.AsyncClient, plain_user: Actor
) -> None:
    response = await client.get("/api/v1/audit-events", headers=plain_user.headers)
    assert response.status_code == 403


async def test_secrets_never_reach_the_details(db_session: AsyncSession) -> None:
    await record_event(
        db_session,
        action="test.event",
        outcome="failure",
        details={
            "email": "x@example.com",
            "password": "hunter2-hunter2",
            "nested": {"refresh_token": "abc", "New_Password": "p", "attempts": 3},
            "items": [{"client_secret": "s", "ok": True}],
            "when": datetime(2026, 1, 1),
        },
    )
    await db_session.commit()
    event = await db_session.scalar(select(AuditEvent).where(AuditEvent.action == "test.event"))
    assert event is not None
    assert event.details == {
        "email": "x@example.com",
        "password": REDACTED,
        "nested": {"refresh_token": REDACTED, "New_Password": REDACTED, "attempts": 3},
        "items": [{"client_secret": REDACTED, "ok": True}],
        "when": "2026-01-01 00:00:00",
    }
    assert event.outcome == "failure"
    assert event.occurred_at.tzinfo is not None


async def test_unknown_outcomes_are_refused(db_session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="outcome"):
        await record_event(db_session, action="test.event", outcome="maybe")


async def test_sign_in_events_from_auth_are_in_the_same_trail(
    client: httpx.AsyncClient, admin: Actor, plain_user: Actor
) -> None:
    wrong = await client.post(
        "/api/v1/auth/login",
        data={"username": plain_user.email, "password": "Not-The-Password-1"},
        headers={"User-Agent": "Mallory/2.0"},
    )
    assert wrong.status_code == 401
    logins = (await _events(client, admin, action="auth.login"))["items"]
    failures = [event for event in logins if event["outcome"] == "failure"]
    assert failures
    assert failures[0]["actor_email"] == plain_user.email
    assert failures[0]["user_agent"] == "Mallory/2.0"
    assert "Not-The-Password-1" not in str(failures[0])
    successes = [event for event in logins if event["outcome"] == "success"]
    assert {event["actor_id"] for event in successes} >= {admin.id, plain_user.id}
    only_plain = await _events(client, admin, actor_id=plain_user.id, action="auth.login")
    assert {event["actor_id"] for event in only_plain["items"]} == {plain_user.id}
