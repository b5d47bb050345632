from tests.integration.accounts.conftest import admin, make_actor, plain_user

__all__ = ["admin", "make_actor", "plain_user"]
