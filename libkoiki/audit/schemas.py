"""The audit event as the API returns it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Outcome = Literal["success", "failure"]


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor_id: int | None
    actor_email: str | None
    action: str
    outcome: Outcome
    target_type: str | None
    target_id: str | None
    # What the target is, read when the list is: the user's e-mail, the role's name, the
    # session's browser/system; a short id once the target is gone.
    target_label: str | None = None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, Any]
