"""Writing and reading audit events.

`record_event` only adds the row to the caller's session: the event is committed together with
the change it describes, or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Required, TypedDict, Unpack, get_args

from fastapi import Depends, Request
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import EMAIL_MAX_LENGTH, Role, User
from libkoiki.audit.models import USER_AGENT_MAX_LENGTH, AuditEvent
from libkoiki.audit.schemas import Outcome
from libkoiki.auth.models import AuthSession
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


class EventFields(TypedDict, total=False):
    """What a caller says of an audit event; `event_values` makes the row's columns of it."""

    action: Required[str]
    outcome: Outcome  # "success" when not given
    actor_id: int | None
    actor_email: str | None
    target_type: str | None
    target_id: str | None
    request: Request | AuditSource | None
    details: dict[str, Any] | None


def event_values(**fields: Unpack[EventFields]) -> dict[str, Any]:
    """An audit event's columns, checked, clipped and scrubbed (all but `occurred_at`): what
    `record_event` adds as a row, and what a statement writing it beside other rows inserts."""
    outcome = fields.get("outcome", "success")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
    request = fields.get("request")
    source = (
        AuditSource()
        if request is None
        else request
        if isinstance(request, AuditSource)
        else AuditSource.from_request(request)
    )
    actor_email, target_id = fields.get("actor_email"), fields.get("target_id")
    return {
        "action": fields["action"],
        "outcome": outcome,
        "actor_id": fields.get("actor_id"),
        "actor_email": None if actor_email is None else actor_email[:EMAIL_MAX_LENGTH],
        "target_type": fields.get("target_type"),
        "target_id": None if target_id is None else str(target_id)[:64],
        "details": scrub(fields.get("details") or {}),
        "ip": source.ip,
        "user_agent": source.user_agent,
        "request_id": source.request_id,
    }


async def record_event(session: AsyncSession, **fields: Unpack[EventFields]) -> None:
    """Add an event to `session`; the caller's commit persists it with the change it describes.

    `request` may be the live request or an `AuditSource` captured from it; `details` is scrubbed
    of anything that looks like a credential.
    """
    session.add(AuditEvent(**event_values(**fields)))


async def record_user_event(
    session: AsyncSession,
    *,
    action: str,
    user_id: int,
    email: str,
    request: Request | AuditSource | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """An event a user caused on their own account: they are both the actor and the target."""
    await record_event(
        session,
        action=action,
        actor_id=user_id,
        actor_email=email,
        target_type="user",
        target_id=str(user_id),
        request=request,
        details=details,
    )


@dataclass(frozen=True, slots=True)
class EventFilters:
    """The audit list's filters; the CSV export takes the same ones."""

    actor_id: int | None = None
    # Part of the actor's e-mail, any case: readers know people by address, not by id.
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def filtered_events(filters: EventFilters) -> Select[AuditEvent]:
    query = select(AuditEvent)
    if filters.actor_id is not None:
        query = query.where(AuditEvent.actor_id == filters.actor_id)
    if filters.actor:
        query = query.where(
            func.lower(AuditEvent.actor_email).contains(filters.actor.lower(), autoescape=True)
        )
    if filters.action is not None:
        query = query.where(AuditEvent.action == filters.action)
    if filters.since is not None:
        query = query.where(AuditEvent.occurred_at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEvent.occurred_at < filters.until)
    return query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())


async def list_events(
    session: AsyncSession, filters: EventFilters, *, page: PageParams
) -> tuple[list[AuditEvent], int]:
    return await paginate(session, filtered_events(filters), page)


_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome/", "Headless Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
    ("python-httpx", "Python"),
    ("python-requests", "Python"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("Mac OS X", "macOS"),
    ("Windows", "Windows"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe_agent(agent: str | None) -> str | None:
    """A short device name for a User-Agent, e.g. "Firefox/Windows"; None if unrecognised."""
    if not agent:
        return None
    browser = next((name for marker, name in _BROWSERS if marker in agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in agent), None)
    parts = [part for part in (browser, system) if part]
    return "/".join(parts) if parts else None


def short_target_id(target_type: str | None, target_id: str) -> str:
    """What is left to show of a target that no longer exists."""
    if target_id.isdigit():
        return f"#{target_id}"
    return target_id[:8] if target_type == "session" else target_id[:16]


def _is_row_id(value: str) -> bool:
    # Ten digits may exceed the integer column: such an id cannot name a row, and asking
    # PostgreSQL would be an error rather than no match.
    return value.isdigit() and len(value) < 10


async def target_labels(
    session: AsyncSession, events: list[AuditEvent]
) -> dict[tuple[str, str], str]:
    """A readable name for each event's target, one query per target type on the page.

    Read now, not when the event was written: a user is shown under today's address. A target
    that is gone falls back to a short id.
    """
    wanted: dict[str, set[str]] = {}
    for event in events:
        if event.target_type and event.target_id:
            wanted.setdefault(event.target_type, set()).add(event.target_id)
    labels: dict[tuple[str, str], str] = {}
    user_ids = {int(i) for i in wanted.get("user", ()) if _is_row_id(i)}
    if user_ids:
        rows = await session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
        labels.update({("user", str(id_)): email for id_, email in rows})
    role_ids = {int(i) for i in wanted.get("role", ()) if _is_row_id(i)}
    if role_ids:
        rows = await session.execute(select(Role.id, Role.name).where(Role.id.in_(role_ids)))
        labels.update({("role", str(id_)): name for id_, name in rows})
    session_ids = wanted.get("session", set())
    if session_ids:
        agents = await session.execute(
            select(AuthSession.id, AuthSession.user_agent).where(AuthSession.id.in_(session_ids))
        )
        for session_id, agent in agents:
            device = describe_agent(agent)
            if device:
                labels[("session", session_id)] = device
    for target_type, ids in wanted.items():
        for target_id in ids:
            labels.setdefault((target_type, target_id), short_target_id(target_type, target_id))
    return labels
