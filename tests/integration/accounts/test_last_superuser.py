"""The last active superuser stays: no demotion, deactivation or deletion removes them, even when
two superusers act on each other at the same moment (real requests on a real server, both
backends)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import User
from tests.integration.accounts.conftest import Actor, MakeActor
from tests.support.servers import serving

# What one superuser does to the other: (method, body).
REMOVALS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "demote": ("PATCH", {"is_superuser": False}),
    "deactivate": ("PATCH", {"is_active": False}),
    "delete": ("DELETE", None),
}


async def _active_superusers(db_session: AsyncSession) -> list[str]:
    db_session.expire_all()
    rows = await db_session.scalars(
        select(User.email).where(User.is_superuser, User.is_active).order_by(User.email)
    )
    return list(rows)


def _removal(actor: Actor, target: Actor, kind: str) -> tuple[str, str, dict[str, Any]]:
    method, body = REMOVALS[kind]
    kwargs: dict[str, Any] = {"headers": actor.headers}
    if body is not None:
        kwargs["json"] = body
    return method, f"/api/v1/users/{target.id}", kwargs


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("demote", "demote"),
        ("deactivate", "deactivate"),
        ("delete", "delete"),
        ("demote", "delete"),
    ],
)
async def test_two_superusers_removing_each_other_at_once_leave_one(
    make_app: Callable[..., FastAPI],
    make_actor: MakeActor,
    db_session: AsyncSession,
    first: str,
    second: str,
) -> None:
    one = await make_actor("one@example.com", roles=("admin", "user"), is_superuser=True)
    two = await make_actor("two@example.com", roles=("admin", "user"), is_superuser=True)

    m1, p1, k1 = _removal(one, two, first)
    m2, p2, k2 = _removal(two, one, second)
    # A real server and two connections, so the requests really run side by side.
    async with (
        serving(make_app()) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as a,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as b,
    ):
        responses = await asyncio.gather(a.request(m1, p1, **k1), b.request(m2, p2, **k2))

    seen = [(response.status_code, response.text) for response in responses]
    succeeded = [r for r in responses if r.status_code in (200, 204)]
    refused = [r for r in responses if r.status_code >= 400]
    assert len(succeeded) == 1, seen
    assert len(refused) == 1, seen
    # The loser is refused by the rule, or (when the winner committed before the loser's request
    # was even authenticated) as the account it no longer is: no superuser, inactive or gone.
    loser = refused[0]
    expected = {
        400: {"last_superuser"},
        401: {"invalid_token", "token_revoked"},
        403: {"permission_denied"},
    }
    assert loser.json()["code"] in expected.get(loser.status_code, set()), seen
    assert loser.json()["request_id"] == loser.headers["x-request-id"]
    # Exactly one of the two is still an active superuser, whichever won.
    survivors = await _active_superusers(db_session)
    assert len(survivors) == 1
    assert survivors[0] in {one.email, two.email}


async def test_removing_a_superuser_while_another_remains_works(
    client: httpx.AsyncClient, make_actor: MakeActor, db_session: AsyncSession
) -> None:
    one = await make_actor("one@example.com", roles=("admin", "user"), is_superuser=True)
    two = await make_actor("two@example.com", roles=("admin", "user"), is_superuser=True)
    three = await make_actor("three@example.com", roles=("admin", "user"), is_superuser=True)

    demoted = await client.patch(
        f"/api/v1/users/{two.id}", headers=one.headers, json={"is_superuser": False}
    )
    assert demoted.status_code == 200, demoted.text
    assert demoted.json()["is_superuser"] is False
    deleted = await client.delete(f"/api/v1/users/{three.id}", headers=one.headers)
    assert deleted.status_code == 204, deleted.text
    assert await _active_superusers(db_session) == [one.email]


async def test_a_system_without_superusers_still_manages_users(
    client: httpx.AsyncClient, make_actor: MakeActor, db_session: AsyncSession
) -> None:
    """The rule guards the last superuser; it does not demand one where there is none."""
    helpdesk = await make_actor("help@example.com", roles=("admin", "user"))
    target = await make_actor("target@example.com")
    deactivated = await client.patch(
        f"/api/v1/users/{target.id}", headers=helpdesk.headers, json={"is_active": False}
    )
    assert deactivated.status_code == 200, deactivated.text
    assert deactivated.json()["is_active"] is False
    assert (
        await client.delete(f"/api/v1/users/{target.id}", headers=helpdesk.headers)
    ).status_code == 204
    assert await _active_superusers(db_session) == []
