"""GET /api/v1/audit-events: the audit trail, newest first (permission `audit:read`).

GET /api/v1/audit-events/export: the same events, same filters, as a CSV download.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from libkoiki.accounts.models import User
from libkoiki.audit.export import csv_lines
from libkoiki.audit.schemas import AuditEventRead
from libkoiki.audit.service import EventFilters, list_events, target_labels
from libkoiki.auth.dependencies import require_permission
from libkoiki.db import SessionDep, utcnow
from libkoiki.errors import error_responses
from libkoiki.fields import INT32_MAX, CleanStr, UTCDateTime
from libkoiki.pagination import Page, PageParamsDep

router = APIRouter(prefix="/api/v1/audit-events", tags=["audit"], responses=error_responses(403))


async def event_filters(
    actor_id: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
    actor: Annotated[
        CleanStr | None,
        Query(
            min_length=1,
            max_length=320,
            description="Part of the actor's e-mail address, any case",
        ),
    ] = None,
    action: Annotated[CleanStr | None, Query(min_length=1, max_length=64)] = None,
    # Aware only: a naive time would be silently read in the server's zone.
    since: Annotated[UTCDateTime | None, Query(description="Inclusive, with offset")] = None,
    until: Annotated[UTCDateTime | None, Query(description="Exclusive, with offset")] = None,
) -> EventFilters:
    return EventFilters(actor_id=actor_id, actor=actor, action=action, since=since, until=until)


FiltersDep = Annotated[EventFilters, Depends(event_filters)]


@router.get("", response_model=Page[AuditEventRead], summary="Audit events, newest first")
async def list_audit_events(
    _: Annotated[User, require_permission("audit:read")],
    session: SessionDep,
    page: PageParamsDep,
    filters: FiltersDep,
) -> Page[AuditEventRead]:
    events, total = await list_events(session, filters, page=page)
    labels = await target_labels(session, events)
    items = []
    for event in events:
        item = AuditEventRead.model_validate(event)
        if event.target_type and event.target_id:
            item.target_label = labels.get((event.target_type, event.target_id))
        items.append(item)
    return Page[AuditEventRead](items=items, total=total, skip=page.skip, limit=page.limit)


@router.get(
    "/export",
    summary="Audit events as CSV, newest first (same filters as the list)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV, UTF-8 with BOM"}},
)
async def export_audit_events(
    _: Annotated[User, require_permission("audit:read")],
    request: Request,
    filters: FiltersDep,
) -> StreamingResponse:
    filename = f"audit-events-{utcnow():%Y%m%dT%H%M%SZ}.csv"
    return StreamingResponse(
        csv_lines(request.app.state.sessionmaker, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
