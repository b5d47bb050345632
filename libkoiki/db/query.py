"""Query helpers shared by every feature."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_


def escape_like(text: str) -> str:
    """The user's text matched literally: `%` and `_` are not wildcards to them."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_text(text: str, *columns: Any) -> ColumnElement[bool]:
    """Case-insensitive substring search of `text` in any of `columns`."""
    pattern = f"%{escape_like(text)}%"
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))
