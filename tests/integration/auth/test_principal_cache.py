"""Remembered principals (CurrentPrincipal) never outlive a change made on another replica.

Each test warms replica B (its todo routes remember the caller) and then changes the account or
its tokens through replica A: B must answer the very next request as the database would. With
Redis (the PostgreSQL + Redis pass) B really remembers; in the embedded pass every principal comes
from the database, and the same answers are asserted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import REDIS_SERVER_URL, ClientFactory
from tests.fixtures.auth import AUTH, AuthedUser, login_as, make_superuser, register_and_login

TODOS = "/api/v1/todos"
USERS = "/api/v1/users"


def _lookups(source: str) -> float:
    value = REGISTRY.get_sample_value("koiki_auth_principal_lookups_total", {"source": source})
    return value or 0.0


@pytest.fixture
async def replica_b(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as other:
        yield other


async def _warm(replica: httpx.AsyncClient, user: AuthedUser) -> None:
    for _ in range(2):
        response = await replica.get(TODOS, headers=user.headers)
        assert response.status_code == 200, response.text


async def _refused(replica: httpx.AsyncClient, user: AuthedUser) -> str:
    response = await replica.get(TODOS, headers=user.headers)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    code: str = response.json()["code"]
    return code


async def test_a_remembered_caller_costs_no_query_only_with_redis(
    client: httpx.AsyncClient,
) -> None:
    user = await register_and_login(client)
    cache, database = _lookups("cache"), _lookups("database")
    for _ in range(5):
        assert (await client.get(TODOS, headers=user.headers)).status_code == 200
    if REDIS_SERVER_URL:
        assert (_lookups("database") - database, _lookups("cache") - cache) == (1, 4)
    else:  # in-process rate limiting: no stamps another replica could change
        assert (_lookups("database") - database, _lookups("cache") - cache) == (5, 0)


async def test_logout_elsewhere_is_refused_at_once(
    client: httpx.AsyncClient, replica_b: httpx.AsyncClient
) -> None:
    user = await register_and_login(client)
    await _warm(replica_b, user)
    assert (await client.post(f"{AUTH}/logout", headers=user.headers)).status_code == 204
    assert await _refused(replica_b, user) == "token_revoked"


async def test_revoke_all_and_ending_one_session_elsewhere_are_refused_at_once(
    client: httpx.AsyncClient, replica_b: httpx.AsyncClient
) -> None:
    user = await register_and_login(client)
    laptop, phone = await login_as(client, user), await login_as(client, user)
    for device in (user, laptop, phone):
        await _warm(replica_b, device)
    sessions = (await client.get(f"{AUTH}/sessions", headers=user.headers)).json()
    other_session = next(s["id"] for s in sessions if not s["current"])
    ended = await client.delete(f"{AUTH}/sessions/{other_session}", headers=user.headers)
    assert ended.status_code == 204
    refused = [(await replica_b.get(TODOS, headers=d.headers)).status_code for d in (laptop, phone)]
    assert sorted(refused) == [200, 401]  # exactly the ended session's token

    revoked = await client.post(f"{AUTH}/revoke-all-tokens", headers=user.headers)
    assert revoked.status_code == 204
    for device in (user, laptop):
        assert await _refused(replica_b, device) == "token_revoked"


async def test_a_password_change_elsewhere_ends_the_other_sessions_at_once(
    client: httpx.AsyncClient, replica_b: httpx.AsyncClient
) -> None:
    user = await register_and_login(client)
    other_device = await login_as(client, user)
    await _warm(replica_b, user)
    await _warm(replica_b, other_device)
    changed = await client.post(
        f"{AUTH}/password-change",
        json={"current_password": user.password, "new_password": "a-brand-new-passphrase-7"},
        headers=user.headers,
    )
    assert changed.status_code == 204, changed.text
    assert await _refused(replica_b, other_device) == "token_revoked"
    assert (await replica_b.get(TODOS, headers=user.headers)).status_code == 200


async def test_refresh_token_reuse_elsewhere_ends_the_session_at_once(
    client: httpx.AsyncClient, replica_b: httpx.AsyncClient
) -> None:
    user = await register_and_login(client)
    await _warm(replica_b, user)
    refresh = {"refresh_token": user.refresh_token}
    assert (await client.post(f"{AUTH}/refresh", json=refresh)).status_code == 200
    assert (await client.post(f"{AUTH}/refresh", json=refresh)).status_code == 401  # the theft
    assert await _refused(replica_b, user) == "token_revoked"


async def test_deactivation_and_deletion_by_an_admin_elsewhere_take_effect_at_once(
    client: httpx.AsyncClient, replica_b: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    admin = await make_superuser(client, db_session)
    deactivated, deleted = await register_and_login(client), await register_and_login(client)
    await _warm(replica_b, deactivated)
    await _warm(replica_b, deleted)

    response = await client.patch(
        f"{USERS}/{deactivated.id}", json={"is_active": False}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert await _refused(replica_b, deactivated) == "token_revoked"

    assert (await client.delete(f"{USERS}/{deleted.id}", headers=admin.headers)).status_code == 204
    assert await _refused(replica_b, deleted) == "invalid_token"


async def test_permissions_granted_and_withdrawn_elsewhere_apply_at_once(
    client: httpx.AsyncClient, replica_b: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    admin = await make_superuser(client, db_session)
    auditor, owner = await register_and_login(client), await register_and_login(client)
    others = {"owner_id": owner.id}
    created = await client.post(TODOS, json={"title": "the owner's"}, headers=owner.headers)
    assert created.status_code == 201, created.text
    assert (await replica_b.get(TODOS, params=others, headers=auditor.headers)).status_code == 403
    await _warm(replica_b, auditor)

    # A new role for the auditor: a change to the user, seen on the user's next request.
    role = await client.post(
        "/api/v1/roles",
        json={"name": "auditors", "permissions": ["todos:read_all"]},
        headers=admin.headers,
    )
    assert role.status_code == 201, role.text
    granted = await client.patch(
        f"{USERS}/{auditor.id}", json={"roles": ["user", "auditors"]}, headers=admin.headers
    )
    assert granted.status_code == 200, granted.text
    listed = await replica_b.get(TODOS, params=others, headers=auditor.headers)
    assert listed.status_code == 200, listed.text
    assert [todo["id"] for todo in listed.json()["items"]] == [created.json()["id"]]

    # The role loses the permission: a change to a role, seen by every member at once.
    emptied = await client.put(
        f"/api/v1/roles/{role.json()['id']}/permissions",
        json={"permissions": []},
        headers=admin.headers,
    )
    assert emptied.status_code == 200, emptied.text
    refused = await replica_b.get(TODOS, params=others, headers=auditor.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
