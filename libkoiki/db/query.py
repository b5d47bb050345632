"""Query helpers shared by every feature."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, ColumnElement, or_


def escape_like(text: str) -> str:
    """The user's text matched literally: `%` and `_` are not wildcards to them."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_pattern(text: str) -> str:
    """The LIKE pattern `contains_text` matches, for a statement that binds it per call."""
    return f"%{escape_like(text)}%"


def contains_text(text: str | BindParameter[str], *columns: Any) -> ColumnElement[bool]:
    """Case-insensitive substring search of `text` in any of `columns`.

    `text` may be a bind parameter (of a statement built once), its value `contains_pattern(q)`.
    """
    pattern = text if isinstance(text, BindParameter) else contains_pattern(text)
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))
