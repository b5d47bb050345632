"""Accounts business rules for users, with their audit events (roles: libkoiki.accounts.roles).

Functions that change data commit (one transaction per operation, audit row included), except the
building blocks `create_user` and `resolve_roles`, which flush only so callers such as
registration can add their own work before committing.

Privilege rules beyond the route's permission check, so that `users:write` or `roles:manage` cannot
be turned into more power than the actor already has:
- only a superuser creates superusers, changes `is_superuser`, or modifies/deletes a superuser;
- a non-superuser grants only roles or permissions made of permissions they hold themselves;
- the last active superuser cannot be demoted, deactivated or deleted (libkoiki.accounts.superusers,
  which makes the rule hold under concurrent requests).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.emails import email_skeleton_key, normalize_email
from libkoiki.accounts.models import Role, User
from libkoiki.accounts.schemas import (
    ProfileUpdate,
    UserCreate,
    UserUpdate,
)
from libkoiki.accounts.superusers import lock_superusers, refuse_removing_last_superuser
from libkoiki.audit.service import AuditSource, record_event, record_user_event
from libkoiki.auth.password_policy import check_password_policy
from libkoiki.auth.passwords import hash_password
from libkoiki.auth.principals import principal_changed
from libkoiki.auth.sessions import revoke_all_sessions
from libkoiki.config import Settings
from libkoiki.db import utcnow
from libkoiki.db.query import contains_text
from libkoiki.errors import AppError, ConflictError, NotFoundError, field_error
from libkoiki.pagination import PageParams, paginate

DEFAULT_ROLE = "user"
__all__ = ["normalize_email"]  # re-exported: callers import it with the other account helpers


def forbidden(message: str) -> AppError:
    return AppError(403, message, "permission_denied")


# --- users -------------------------------------------------------------------------------------


async def get_user(session: AsyncSession, user_id: int, *, fresh: bool = False) -> User | None:
    """`fresh`: read the row again even if this session has it (after taking a lock)."""
    return await session.get(User, user_id, populate_existing=fresh)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == normalize_email(email)))


async def require_user(session: AsyncSession, user_id: int, *, fresh: bool = False) -> User:
    user = await get_user(session, user_id, fresh=fresh)
    if user is None:
        raise NotFoundError("User")
    return user


async def resolve_roles(
    session: AsyncSession, names: Iterable[str], *, field: str = "roles"
) -> list[Role]:
    wanted = sorted(set(names))
    if not wanted:
        return []
    found = list(await session.scalars(select(Role).where(Role.name.in_(wanted))))
    missing = sorted(set(wanted) - {role.name for role in found})
    if missing:
        raise field_error(field, f"unknown role(s): {', '.join(missing)}")
    return sorted(found, key=lambda role: role.name)


async def find_lookalike(session: AsyncSession, email: str) -> User | None:
    """The account whose address is this one or looks like it (same confusable skeleton).

    The address itself is compared too, for look-alikes kept without a skeleton by the migration.
    """
    email = normalize_email(email)
    return await session.scalar(
        select(User)
        .where(or_(User.email_skeleton == email_skeleton_key(email), User.email == email))
        .order_by(User.email != email)  # the exact owner first
        .limit(1)
    )


def email_conflict(email: str, owner: User | None) -> ConflictError:
    """409 for an address that is taken (`email_taken`) or looks like a taken one."""
    if owner is None or owner.email == normalize_email(email):
        return ConflictError("A user with this email already exists", "email_taken")
    return ConflictError(
        "This email looks like the address of an existing account", "email_confusable"
    )


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password_hash: str | None,
    full_name: str | None = None,
    is_active: bool = True,
    is_superuser: bool = False,
    roles: Sequence[str] = (DEFAULT_ROLE,),
    email_verified: bool = False,
) -> User:
    """Add a user; flushes only.

    409 `email_taken` if the address is in use (whatever its case or compatibility form), 409
    `email_confusable` if it looks like one in use (same TS #39 skeleton).
    """
    email = normalize_email(email)
    owner = await find_lookalike(session, email)
    if owner is not None:
        raise email_conflict(email, owner)
    user = User(
        email=email,
        email_skeleton=email_skeleton_key(email),
        email_verified_at=utcnow() if email_verified else None,
        hashed_password=password_hash,
        full_name=full_name,
        is_active=is_active,
        is_superuser=is_superuser,
        roles=await resolve_roles(session, roles),
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        if "email" not in str(exc.orig):
            raise
        # Two requests raced past the check above: the unique indexes decide.
        await session.rollback()
        raise email_conflict(email, await find_lookalike(session, email)) from exc
    return user


async def list_users(
    session: AsyncSession, page: PageParams, *, q: str | None = None
) -> tuple[list[User], int]:
    query = select(User)
    if q and q.strip():
        query = query.where(contains_text(q.strip(), User.email, User.full_name))
    return await paginate(session, query.order_by(User.id), page)


def _check_grantable(actor: User, roles: Iterable[Role]) -> None:
    if actor.is_superuser:
        return
    beyond = {p.code for role in roles for p in role.permissions} - actor.permission_codes
    if beyond:
        raise forbidden(
            "You cannot grant permissions you do not hold: " + ", ".join(sorted(beyond))
        )


async def admin_create_user(
    session: AsyncSession,
    actor: User,
    data: UserCreate,
    settings: Settings,
    *,
    source: AuditSource | None = None,
) -> User:
    # Nothing written yet (the actor was read): the connection waits in the pool, not on the
    # hasher, which runs both the strength estimate and the hash.
    await session.commit()
    await check_password_policy(settings, data.password, email=data.email, field="password")
    if data.is_superuser and not actor.is_superuser:
        raise forbidden("Only a superuser can create a superuser")
    password_hash = await hash_password(data.password, settings)
    roles = await resolve_roles(session, data.roles)
    _check_grantable(actor, roles)
    user = await create_user(
        session,
        email=data.email,
        password_hash=password_hash,
        full_name=data.full_name,
        is_active=data.is_active,
        is_superuser=data.is_superuser,
        roles=[role.name for role in roles],
        email_verified=data.email_verified,
    )
    await record_event(
        session,
        action="user.create",
        actor_id=actor.id,
        actor_email=actor.email,
        target_type="user",
        target_id=str(user.id),
        request=source,
        details={
            "email": user.email,
            "is_active": user.is_active,
            "is_superuser": user.is_superuser,
            "roles": user.role_names,
            "email_verified": data.email_verified,
        },
    )
    await session.commit()
    return user


async def _revoke_sessions(session: AsyncSession, user_id: int, reason: str) -> None:
    """End every session and access token of the user, keeping this session's pending work.

    `revoke_all_sessions` expires every loaded object, which would silently drop unflushed
    changes (the session does not autoflush), so they are flushed first.
    """
    await session.flush()
    await revoke_all_sessions(session, user_id, reason=reason)


async def update_user(
    session: AsyncSession,
    actor: User,
    user_id: int,
    data: UserUpdate,
    *,
    source: AuditSource | None = None,
) -> User:
    removes = data.is_superuser is False or data.is_active is False
    if removes:
        await lock_superusers(session)
    user = await require_user(session, user_id, fresh=removes)
    if user.is_superuser and not actor.is_superuser:
        raise forbidden("Only a superuser can modify a superuser")
    changes: dict[str, Any] = {}
    if "full_name" in data.model_fields_set and data.full_name != user.full_name:
        user.full_name = data.full_name
        changes["full_name"] = data.full_name
    if data.is_superuser is not None and data.is_superuser != user.is_superuser:
        if not actor.is_superuser:
            raise forbidden("Only a superuser can grant or remove superuser status")
        if user.id == actor.id:
            raise AppError(400, "You cannot remove your own superuser status", "cannot_demote_self")
        await refuse_removing_last_superuser(session, user)
        user.is_superuser = data.is_superuser
        changes["is_superuser"] = data.is_superuser
    deactivated = False
    if data.is_active is not None and data.is_active != user.is_active:
        if user.id == actor.id:
            raise AppError(400, "You cannot deactivate yourself", "cannot_deactivate_self")
        deactivated = not data.is_active
        if deactivated:
            await refuse_removing_last_superuser(session, user)
        user.is_active = data.is_active
        changes["is_active"] = data.is_active
    if data.email_verified is False:
        raise field_error("email_verified", "can only be set to true")
    if data.email_verified and user.email_verified_at is None:
        user.email_verified_at = utcnow()
        changes["email_verified"] = True
    if data.roles is not None:
        roles = await resolve_roles(session, data.roles)
        current = {role.name for role in user.roles}
        if {role.name for role in roles} != current:
            _check_grantable(actor, [role for role in roles if role.name not in current])
            user.roles = roles
            changes["roles"] = [role.name for role in roles]
    if not changes:
        return user
    user.updated_at = utcnow()
    await record_event(
        session,
        action="user.update",
        actor_id=actor.id,
        actor_email=actor.email,
        target_type="user",
        target_id=str(user.id),
        request=source,
        details={"email": user.email, "changes": changes},
    )
    if deactivated:
        await _revoke_sessions(session, user.id, "deactivated")
    await session.commit()
    if deactivated:
        await session.refresh(user)
    return user


async def delete_user(
    session: AsyncSession, actor: User, user_id: int, *, source: AuditSource | None = None
) -> None:
    if user_id == actor.id:
        raise AppError(400, "You cannot delete yourself", "cannot_delete_self")
    await lock_superusers(session)
    user = await require_user(session, user_id, fresh=True)
    if user.is_superuser and not actor.is_superuser:
        raise forbidden("Only a superuser can delete a superuser")
    await refuse_removing_last_superuser(session, user)
    await record_event(
        session,
        action="user.delete",
        actor_id=actor.id,
        actor_email=actor.email,
        target_type="user",
        target_id=str(user.id),
        request=source,
        details={"email": user.email},
    )
    # Sessions, revocations, role links and owned data go with the user by ON DELETE CASCADE;
    # a token of the deleted user then finds no user and is refused.
    await session.execute(delete(User).where(User.id == user_id))
    principal_changed(session, user_id)  # a bulk delete: the ORM hooks do not see it
    await session.commit()


async def update_profile(
    session: AsyncSession, user: User, data: ProfileUpdate, *, source: AuditSource | None = None
) -> User:
    if "full_name" not in data.model_fields_set or data.full_name == user.full_name:
        return user
    user.full_name = data.full_name
    user.updated_at = utcnow()
    await record_user_event(
        session,
        action="user.update",
        user_id=user.id,
        email=user.email,
        request=source,
        details={"self": True, "changes": {"full_name": data.full_name}},
    )
    await session.commit()
    return user
