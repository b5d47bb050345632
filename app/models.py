"""Every model module, imported so that `Base.metadata` is complete for Alembic and the tests."""

from app.todos import models as todos_models  # noqa: F401
from libkoiki.accounts import models as accounts_models  # noqa: F401
from libkoiki.audit import models as audit_models  # noqa: F401
from libkoiki.auth import models as auth_models  # noqa: F401
from libkoiki.db import Base
from libkoiki.sso import models as sso_models  # noqa: F401

__all__ = ["Base"]
