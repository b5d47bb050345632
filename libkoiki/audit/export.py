"""The audit trail as CSV, streamed in batches so a long trail never sits in memory."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libkoiki.audit.models import AuditEvent
from libkoiki.audit.service import EventFilters, filtered_events, target_labels

BATCH = 500
COLUMNS = (
    "occurred_at",
    "actor_email",
    "actor_id",
    "action",
    "outcome",
    "target_type",
    "target_id",
    "target_label",
    "ip",
    "user_agent",
    "request_id",
    "details",
)
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _row(event: AuditEvent, label: str | None) -> list[str]:
    values: list[object] = [
        event.occurred_at.isoformat().replace("+00:00", "Z"),
        event.actor_email,
        event.actor_id,
        event.action,
        event.outcome,
        event.target_type,
        event.target_id,
        label,
        event.ip,
        event.user_agent,
        event.request_id,
        json.dumps(event.details, ensure_ascii=False, sort_keys=True) if event.details else "",
    ]
    return [safe_cell(value) for value in values]


def _lines(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def csv_lines(
    sessionmaker: async_sessionmaker[AsyncSession], filters: EventFilters
) -> AsyncIterator[str]:
    """The header, then the matching events newest first, a batch per chunk.

    Batches continue after the last row seen (keyset), not by offset: events written during
    the export cannot shift a row into the next batch twice. The byte-order mark lets
    spreadsheet programs read the UTF-8 (Japanese names, addresses) as UTF-8.
    """
    yield "\ufeff" + _lines([list(COLUMNS)])
    query = filtered_events(filters)
    after: tuple[object, int] | None = None
    while True:
        batch_query = query
        if after is not None:
            occurred_at, event_id = after
            batch_query = query.where(
                or_(
                    AuditEvent.occurred_at < occurred_at,
                    and_(AuditEvent.occurred_at == occurred_at, AuditEvent.id < event_id),
                )
            )
        # A session per batch: no connection is held while the client reads slowly.
        async with sessionmaker() as session:
            events = list((await session.scalars(batch_query.limit(BATCH))).all())
            labels = await target_labels(session, events)
        if not events:
            return
        yield _lines(
            [
                _row(event, labels.get((event.target_type or "", event.target_id or "")))
                for event in events
            ]
        )
        if len(events) < BATCH:
            return
        after = (events[-1].occurred_at, events[-1].id)
