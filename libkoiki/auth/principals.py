"""The caller of a request as its token check found them, remembered without trusting stale state.

`Principal` is who calls and what they may do: user id, superuser flag, permission codes and the
token's claims. Routes that only need that take `CurrentPrincipal`; routes that change the account
take `CurrentUser`, the row loaded in the request's session.

With Redis rate limiting (the production setup) each process keeps principals by token id, next
to the *security stamps* they were loaded under: a random value per user, and one for everybody,
in Redis. The stamps ride on the rate limiter's script that every API request runs anyway, so a
remembered principal costs no round trip. A commit that ends a session, denies a token, or changes
a user or a role deletes the stamps concerned once the commit is durable and before `commit()`
returns; the next request on any replica meets a fresh stamp and checks the database again.

Order makes this exact: a request reads its stamps before it reads the database, and a change
deletes them after it is committed. A principal loaded before the change therefore carries stamps
the change has removed; one loaded after it saw the change.

Without a stamp (no token, an exempt path, rate limiting off or in memory, Redis unreachable) the
request is checked in the database, as every request is with `PRINCIPAL_CACHE_SECONDS=0`, and a
replica that finds Redis unreachable forgets everything it remembered. A change committed while
Redis does not answer cannot delete its stamps at once: the replica retries every 0.1 s in the
background, so a replica that saw nothing of the outage may accept the old token until Redis
answers again plus that interval. Entries also expire after `PRINCIPAL_CACHE_SECONDS`, which bounds
that case and edits made by hand in the database.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Any

import structlog
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.types import Scope

from libkoiki.accounts.models import Role, User
from libkoiki.auth.tokens import AccessClaims
from libkoiki.db.session import after_commit

logger = structlog.get_logger("koiki.auth")

LOOKUPS = Counter(
    "koiki_auth_principal_lookups_total",
    "Callers authenticated for CurrentPrincipal routes, by where their principal came from",
    ["source"],
)
FROM_CACHE = LOOKUPS.labels(source="cache")
FROM_DATABASE = LOOKUPS.labels(source="database")

STAMP_STATE = "koiki.security_stamp"  # request state: the caller's stamps, read for this request
SESSION_INFO_KEY = "koiki.security_stamps"  # where sessions find the app's SecurityStamps
_CHANGED = "koiki.principals_changed"
EVERYONE: None = None
MAX_ENTRIES = 10_000
RETRY_INTERVAL_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class Principal:
    id: int
    is_superuser: bool
    permissions: frozenset[str]
    claims: AccessClaims

    @classmethod
    def of(cls, user: User, claims: AccessClaims) -> Principal:
        return cls(user.id, user.is_superuser, frozenset(user.permission_codes), claims)

    def has_permission(self, code: str) -> bool:
        return self.is_superuser or code in self.permissions


class SecurityStamps:
    """The stamps' keys in Redis and this process's principals remembered under them."""

    def __init__(self, redis: Redis, *, key_prefix: str, max_age_seconds: float) -> None:
        self._redis = redis
        self._prefix = f"{key_prefix}stamp:"
        self._max_age = max_age_seconds
        # token id -> (stamp, monotonic time remembered, principal); least recently used first
        self._entries: OrderedDict[str, tuple[str, float, Principal]] = OrderedDict()
        self._retries: set[asyncio.Task[None]] = set()

    def _key(self, user_id: int | None) -> str:
        return f"{self._prefix}all" if user_id is None else f"{self._prefix}user:{user_id}"

    def keys(self, user_id: int) -> tuple[str, str]:
        return self._key(EVERYONE), self._key(user_id)

    def recall(self, jti: str, stamp: str) -> Principal | None:
        entry = self._entries.get(jti)
        if entry is None:
            return None
        remembered_stamp, remembered_at, principal = entry
        if remembered_stamp != stamp or time.monotonic() - remembered_at > self._max_age:
            del self._entries[jti]
            return None
        self._entries.move_to_end(jti)
        return principal

    def remember(self, stamp: str, principal: Principal) -> None:
        jti = principal.claims.jti
        self._entries[jti] = (stamp, time.monotonic(), principal)
        self._entries.move_to_end(jti)
        if len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    def forget_all(self) -> None:
        self._entries.clear()

    async def change(self, user_ids: Iterable[int | None]) -> None:
        """Delete the stamps of `user_ids` (None: everybody's); retried in the background if
        Redis cannot be reached, and this process's entries are forgotten meanwhile."""
        keys = sorted({self._key(user_id) for user_id in user_ids})
        try:
            await self._redis.delete(*keys)
        except (RedisError, OSError) as exc:
            self.forget_all()
            logger.error("security_stamp_change_failed", error=f"{type(exc).__name__}: {exc}")
            task = asyncio.create_task(self._retry(keys))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)

    async def _retry(self, keys: list[str]) -> None:
        deadline = time.monotonic() + self._max_age
        while time.monotonic() < deadline:
            await asyncio.sleep(RETRY_INTERVAL_SECONDS)
            self.forget_all()
            try:
                await self._redis.delete(*keys)
            except (RedisError, OSError):
                continue
            logger.info("security_stamp_change_retried", keys=len(keys))
            return

    async def aclose(self) -> None:
        for task in self._retries:
            task.cancel()


def request_stamp(scope: Scope) -> str | None:
    """The stamps the rate limiter read for this request's bearer token, if it read any."""
    stamp: str | None = scope.get("state", {}).get(STAMP_STATE)
    return stamp


def principal_changed(db: Any, user_id: int | None) -> None:
    """After `db` commits, principals of `user_id` (None: everybody) must be loaded afresh.

    Changes to `User` and `Role` rows made through the ORM are noticed on their own; call this
    for bulk statements and for revocations (sessions, deny-list, cutoffs).
    """
    db.info.setdefault(_CHANGED, set()).add(user_id)
    after_commit(db, _publish_changes)


async def _publish_changes(info: dict[str, Any]) -> None:
    changed = info.pop(_CHANGED, None)
    stamps: SecurityStamps | None = info.get(SESSION_INFO_KEY)
    if changed and stamps is not None:
        await stamps.change(changed)


@event.listens_for(Session, "before_flush")
def _notice_account_changes(session: Session, _context: Any, _instances: Any) -> None:
    for instance in chain(session.dirty, session.deleted):
        if isinstance(instance, User):
            principal_changed(session, instance.id)
        elif isinstance(instance, Role):
            principal_changed(session, EVERYONE)
