from libkoiki.db.base import Base, TimestampMixin, UTCDateTime, utcnow
from libkoiki.db.engine import create_engine, create_sessionmaker
from libkoiki.db.session import (
    ReadConnection,
    SessionDep,
    get_read_connection,
    get_session,
    read_engine,
)

__all__ = [
    "Base",
    "ReadConnection",
    "SessionDep",
    "TimestampMixin",
    "UTCDateTime",
    "create_engine",
    "create_sessionmaker",
    "get_read_connection",
    "get_session",
    "read_engine",
    "utcnow",
]
