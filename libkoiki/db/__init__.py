from libkoiki.db.base import Base, TimestampMixin, UTCDateTime, utcnow
from libkoiki.db.engine import create_engine, create_sessionmaker
from libkoiki.db.reader import Reader
from libkoiki.db.session import (
    ReaderDep,
    SessionDep,
    get_reader,
    get_session,
    run_core,
)

__all__ = [
    "Base",
    "Reader",
    "ReaderDep",
    "SessionDep",
    "TimestampMixin",
    "UTCDateTime",
    "create_engine",
    "create_sessionmaker",
    "get_reader",
    "get_session",
    "run_core",
    "utcnow",
]
