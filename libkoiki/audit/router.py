"""GET /api/v1/audit-events: the audit trail, newest first (permission `audit:read`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from libkoiki.accounts.models import User
from libkoiki.audit.schemas import AuditEventRead
from libkoiki.audit.service import list_events
from libkoiki.auth.dependencies import require_permission
from libkoiki.db import SessionDep
from libkoiki.errors import error_responses
from libkoiki.fields import INT32_MAX, CleanStr, UTCDateTime
from libkoiki.pagination import Page, PageParamsDep

router = APIRouter(prefix="/api/v1/audit-events", tags=["audit"], responses=error_responses(403))


@router.get("", response_model=Page[AuditEventRead], summary="Audit events, newest first")
async def list_audit_events(
    _: Annotated[User, require_permission("audit:read")],
    session: SessionDep,
    page: PageParamsDep,
    actor_id: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
    action: Annotated[CleanStr | None, Query(min_length=1, max_length=64)] = None,
    # Aware only: a naive time would be silently read in the server's zone.
    since: Annotated[UTCDateTime | None, Query(description="Inclusive, with offset")] = None,
    until: Annotated[UTCDateTime | None, Query(description="Exclusive, with offset")] = None,
) -> Page[AuditEventRead]:
    events, total = await list_events(
        session,
        actor_id=actor_id,
        action=action,
        since=since,
        until=until,
        page=page,
    )
    items = [AuditEventRead.model_validate(event) for event in events]
    return Page[AuditEventRead](items=items, total=total, skip=page.skip, limit=page.limit)
