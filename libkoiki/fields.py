"""Field types for request schemas that keep unstorable input a 422 naming the field.

PostgreSQL refuses NUL characters in text and integers beyond 32 bits in `integer` columns, and
Python cannot move a datetime near year 9999 to UTC; without these types such input reaches the
database (or the driver) and fails there, as a 500. Dates also keep to what the schema documents,
an ISO 8601 string: pydantic alone would read `0` or `"1700000000"` as a Unix timestamp.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

INT32_MAX = 2**31 - 1


def _without_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


_TIMESTAMP = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*")


def _iso_8601_only(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and not _TIMESTAMP.fullmatch(value)):
        return value
    raise ValueError("must be an ISO 8601 date and time with an offset, e.g. 2030-01-31T09:00Z")


def _as_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of the supported date range") from None


# Place `NoNul` after any StringConstraints, so their messages stay the usual ones.
NoNul = AfterValidator(_without_nul)
CleanStr = Annotated[str, NoNul]
UTCDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_8601_only), AfterValidator(_as_utc)]
RowId = Annotated[int, Field(ge=1, le=INT32_MAX)]
RowIdPath = Annotated[int, Path(ge=1, le=INT32_MAX)]
