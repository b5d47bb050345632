"""Writing and reading audit events.

`record_event` only adds the row to the caller's session: the event is committed together with
the change it describes, or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.audit.models import USER_AGENT_MAX_LENGTH, AuditEvent

OUTCOMES = ("success", "failure")
REDACTED = "[redacted]"
# Any key that could carry a credential is dropped to a marker, however deeply nested: callers
# pass request-derived dicts and a single slip would persist a password forever.
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|hash|authorization|cookie|api[_-]?key", re.I)


def scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            str(key): REDACTED if _SECRET_KEY.search(str(key)) else scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [scrub(item) for item in items]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _client_ip(request: Request) -> str | None:
    # The edge middleware resolves the address behind trusted proxies; fall back to the peer.
    resolved = getattr(request.state, "client_ip", None)
    if isinstance(resolved, str) and resolved:
        return resolved[:45]
    return request.client.host[:45] if request.client else None


async def record_event(
    session: AsyncSession,
    *,
    action: str,
    outcome: str = "success",
    actor_id: int | None = None,
    actor_email: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    request: Request | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
    event = AuditEvent(
        action=action,
        outcome=outcome,
        actor_id=actor_id,
        actor_email=actor_email,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id)[:64],
        details=scrub(details or {}),
    )
    if request is not None:
        event.ip = _client_ip(request)
        user_agent = request.headers.get("user-agent")
        event.user_agent = user_agent[:USER_AGENT_MAX_LENGTH] if user_agent else None
        request_id = getattr(request.state, "request_id", None)
        event.request_id = request_id if isinstance(request_id, str) else None
    session.add(event)


async def list_events(
    session: AsyncSession,
    *,
    actor_id: int | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    skip: int = 0,
    limit: int = 50,
) -> tuple[list[AuditEvent], int]:
    query = select(AuditEvent)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= since)
    if until is not None:
        query = query.where(AuditEvent.occurred_at < until)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .offset(skip)
        .limit(limit)
    )
    return list(rows), total or 0
