from libkoiki.db.base import Base, TimestampMixin, UTCDateTime, utcnow
from libkoiki.db.engine import create_engine, create_sessionmaker
from libkoiki.db.session import SessionDep, get_session

__all__ = [
    "Base",
    "SessionDep",
    "TimestampMixin",
    "UTCDateTime",
    "create_engine",
    "create_sessionmaker",
    "get_session",
    "utcnow",
]
