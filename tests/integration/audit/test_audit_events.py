"""The audit trail: administration writes it, /api/v1/audit-events reads it back."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.audit.export import safe_cell
from libkoiki.audit.models import AuditEvent
from libkoiki.audit.service import REDACTED, record_event, target_labels
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
    "target_label",
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
        ({"actor": ""}, "actor"),
        ({"actor": "x" * 321}, "actor"),
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


async def test_a_login_records_the_session_it_opened_and_where_it_came_from(
    client: httpx.AsyncClient, admin: Actor, plain_user: Actor
) -> None:
    signed_in = await client.post(
        "/api/v1/auth/login",
        data={"username": plain_user.email, "password": plain_user.password},
        headers={"User-Agent": "Alice/1.0", "X-Request-ID": "login-trace-1"},
    )
    assert signed_in.status_code == 200
    token = signed_in.json()["access_token"]
    sessions = await client.get(
        "/api/v1/auth/sessions", headers={"Authorization": f"Bearer {token}"}
    )
    current = next(session for session in sessions.json() if session["current"])

    event = (await _events(client, admin, action="auth.login", actor_id=plain_user.id))["items"][0]
    assert event["outcome"] == "success"
    assert event["actor_email"] == plain_user.email
    assert (event["target_type"], event["target_id"]) == ("session", current["id"])
    assert event["user_agent"] == current["user_agent"] == "Alice/1.0"
    assert event["request_id"] == "login-trace-1"
    assert event["ip"] == current["ip"]
    assert event["details"] == {}
    assert datetime.fromisoformat(event["occurred_at"]) == datetime.fromisoformat(
        current["created_at"]
    )


async def test_the_actor_filter_matches_part_of_the_email_in_any_case(
    client: httpx.AsyncClient, admin: Actor, plain_user: Actor
) -> None:
    for actor, expected in (
        ("PLAIN@", plain_user.email),
        ("plain@example.com", plain_user.email),
        ("Root", admin.email),
    ):
        page = await _events(client, admin, actor=actor)
        assert page["total"] > 0
        assert {event["actor_email"] for event in page["items"]} == {expected}
    # LIKE wildcards are literal characters here, not patterns.
    assert (await _events(client, admin, actor="%"))["total"] == 0
    assert (await _events(client, admin, actor="p_ain"))["total"] == 0


async def test_targets_are_named_not_numbered(
    client: httpx.AsyncClient, admin: Actor, plain_user: Actor
) -> None:
    role = await client.post("/api/v1/roles", headers=admin.headers, json={"name": "auditors"})
    assert role.status_code == 201
    created = await client.post(
        "/api/v1/users",
        headers=admin.headers,
        json={"email": "Soon-Gone@example.com", "password": PASSWORD},
    )
    gone_id = created.json()["id"]
    assert (await client.delete(f"/api/v1/users/{gone_id}", headers=admin.headers)).is_success
    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
    signed_in = await client.post(
        "/api/v1/auth/login",
        data={"username": plain_user.email, "password": plain_user.password},
        headers={"User-Agent": firefox},
    )
    assert signed_in.status_code == 200
    token = signed_in.json()["access_token"]
    await client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})

    role_event = (await _events(client, admin, action="role.create"))["items"][0]
    assert role_event["target_label"] == "auditors"
    deletion = (await _events(client, admin, action="user.delete"))["items"][0]
    # The account is gone: a short id, not a guess.
    assert deletion["target_label"] == f"#{gone_id}"
    logout = (await _events(client, admin, action="auth.logout"))["items"][0]
    assert logout["target_type"] == "session"
    assert logout["target_label"] == "Firefox/Windows"
    login = await _events(client, admin, actor=plain_user.email, action="auth.login")
    assert login["items"][0]["target_label"] == "Firefox/Windows"
    profile = await client.patch(
        "/api/v1/users/me", headers=plain_user.headers, json={"full_name": "Renamed"}
    )
    assert profile.status_code == 200
    update = (await _events(client, admin, action="user.update"))["items"][0]
    assert update["target_label"] == plain_user.email


async def test_labels_cost_one_query_per_target_type(
    client: httpx.AsyncClient, admin: Actor, db_session: AsyncSession
) -> None:
    for n in range(5):
        await client.post(
            "/api/v1/users",
            headers=admin.headers,
            json={"email": f"batch{n}@example.com", "password": PASSWORD},
        )
        await client.post("/api/v1/roles", headers=admin.headers, json={"name": f"batch{n}"})
    events = list((await db_session.scalars(select(AuditEvent))).all())
    assert {event.target_type for event in events} >= {"user", "role", "session"}

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = db_session.bind.sync_engine  # type: ignore[union-attr]
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        labels = await target_labels(db_session, events)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 3
    assert {f"batch{n}@example.com" for n in range(5)} <= set(labels.values())
    assert {f"batch{n}" for n in range(5)} <= set(labels.values())


async def test_export_is_a_csv_download_with_the_same_filters(
    client: httpx.AsyncClient, admin: Actor, plain_user: Actor
) -> None:
    await client.post(
        "/api/v1/roles",
        headers=admin.headers,
        json={"name": "csv-role", "description": "=HYPERLINK(1)"},
    )
    hostile = await client.post(
        "/api/v1/users",
        headers={**admin.headers, "User-Agent": "=cmd|' /C calc'!A0"},
        json={"email": "csv@example.com", "password": PASSWORD, "full_name": "+Total"},
    )
    assert hostile.status_code == 201
    response = await client.get(
        "/api/v1/audit-events/export",
        headers=admin.headers,
        params={"actor": "ROOT@", "action": "user.create"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="audit-events-')
    assert disposition.endswith('.csv"')
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["actor_email"] == admin.email
    assert row["action"] == "user.create"
    assert row["target_label"] == "csv@example.com"
    # A spreadsheet would run this as a formula; the export makes it text.
    assert row["user_agent"] == "'=cmd|' /C calc'!A0"
    assert PASSWORD not in text

    everything = await client.get("/api/v1/audit-events/export", headers=admin.headers)
    listed = await _events(client, admin, limit=100)
    assert (
        len(list(csv.DictReader(io.StringIO(everything.content.decode("utf-8-sig")))))
        == (listed["total"])
    )


async def test_export_spans_several_batches_without_repeats(
    client: httpx.AsyncClient, admin: Actor, db_session: AsyncSession
) -> None:
    for n in range(1203):
        await record_event(db_session, action="bulk.event", details={"n": n})
    await db_session.commit()
    response = await client.get(
        "/api/v1/audit-events/export", headers=admin.headers, params={"action": "bulk.event"}
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    numbers = [int(row["details"].split(":")[1].strip(" }")) for row in rows]
    assert sorted(numbers) == list(range(1203))


async def test_export_has_the_same_permission_and_validation(
    client: httpx.AsyncClient, admin: Actor, plain_user: Actor
) -> None:
    refused = await client.get("/api/v1/audit-events/export", headers=plain_user.headers)
    assert refused.status_code == 403
    bad = await client.get(
        "/api/v1/audit-events/export", headers=admin.headers, params={"since": "soon"}
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "since"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_cells_a_spreadsheet_would_run_are_made_text(start: str) -> None:
    assert safe_cell(f"{start}SUM(A1)") == f"'{start}SUM(A1)"
    assert safe_cell(f"a{start}b") == f"a{start}b"
    assert safe_cell(None) == ""
