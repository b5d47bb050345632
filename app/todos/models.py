from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from libkoiki.db import Base, TimestampMixin

TITLE_MAX_LENGTH = 255
DESCRIPTION_MAX_LENGTH = 10_000


class Todo(TimestampMixin, Base):
    __tablename__ = "todos"
    # Every list query filters by owner and orders by one of these columns.
    __table_args__ = (
        Index("ix_todos_owner_id_created_at", "owner_id", "created_at"),
        Index("ix_todos_owner_id_due_date", "owner_id", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    description: Mapped[str | None] = mapped_column(Text)
    is_completed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    due_date: Mapped[datetime | None]
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
