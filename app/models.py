"""Every model module, imported so that `Base.metadata` is complete for Alembic and the tests."""

from libkoiki.db import Base

__all__ = ["Base"]
