"""Writing and reading audit events.

`record_event` only adds the row to the caller's session: the event is committed together with
the change it describes, or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, get_args

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import EMAIL_MAX_LENGTH
from libkoiki.audit.models import USER_AGENT_MAX_LENGTH, AuditEvent
from libkoiki.audit.schemas import Outcome
from libkoiki.pagination import PageParams, paginate

OUTCOMES = get_args(Outcome)
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


@dataclass(frozen=True, slots=True)
class AuditSource:
    """Where a request came from, captured at the HTTP edge so services never handle `Request`."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None

    @classmethod
    def from_request(cls, request: Request) -> AuditSource:
        # The edge middleware resolves the address behind trusted proxies; fall back to the peer.
        ip = getattr(request.state, "client_ip", None)
        if not (isinstance(ip, str) and ip):
            ip = request.client.host if request.client else None
        user_agent = request.headers.get("user-agent")
        request_id = getattr(request.state, "request_id", None)
        return cls(
            ip=ip[:45] if ip else None,
            user_agent=user_agent[:USER_AGENT_MAX_LENGTH] if user_agent else None,
            request_id=request_id[:128] if isinstance(request_id, str) else None,
        )


# async: a plain `def` dependency would cost a thread-pool hop per request.
async def audit_source(request: Request) -> AuditSource:
    return AuditSource.from_request(request)


AuditSourceDep = Annotated[AuditSource, Depends(audit_source)]


async def record_event(
    session: AsyncSession,
    *,
    action: str,
    outcome: Outcome = "success",
    actor_id: int | None = None,
    actor_email: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    request: Request | AuditSource | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an event to `session`; the caller's commit persists it with the change it describes.

    `request` may be the live request or an `AuditSource` captured from it; `details` is scrubbed
    of anything that looks like a credential.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
    event = AuditEvent(
        action=action,
        outcome=outcome,
        actor_id=actor_id,
        actor_email=None if actor_email is None else actor_email[:EMAIL_MAX_LENGTH],
        target_type=target_type,
        target_id=None if target_id is None else str(target_id)[:64],
        details=scrub(details or {}),
    )
    if request is not None:
        source = request if isinstance(request, AuditSource) else AuditSource.from_request(request)
        event.ip, event.user_agent, event.request_id = (
            source.ip,
            source.user_agent,
            source.request_id,
        )
    session.add(event)


async def list_events(
    session: AsyncSession,
    *,
    actor_id: int | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: PageParams,
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
    newest_first = query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    return await paginate(session, newest_first, page)
