"""Roles and permissions: what `roles:manage` may do, with the audit events.

Functions that change data commit (one transaction per operation, audit row included).

`roles:manage` cannot reach further than its holder could otherwise:
- a non-superuser creates or widens a role only with permissions they hold;
- only a superuser changes a built-in role's permissions: every account holds `user`, so a
  permission added there is granted to everyone at once; built-in roles are never deleted or
  renamed;
- a non-superuser adds permissions to a role that others hold only if they also hold
  `users:write`, the power to give those holders the permission one by one anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.models import Permission, Role, User, user_roles
from libkoiki.accounts.schemas import RoleCreate, RolePermissionsUpdate, RoleUpdate
from libkoiki.accounts.service import forbidden
from libkoiki.audit.service import AuditSource, record_event
from libkoiki.db import utcnow
from libkoiki.errors import AppError, ConflictError, NotFoundError, field_error


async def list_permissions(session: AsyncSession) -> list[Permission]:
    return list(await session.scalars(select(Permission).order_by(Permission.code)))


async def list_roles(session: AsyncSession) -> list[Role]:
    return list(await session.scalars(select(Role).order_by(Role.name)))


async def require_role(session: AsyncSession, role_id: int) -> Role:
    role = await session.get(Role, role_id)
    if role is None:
        raise NotFoundError("Role")
    return role


async def resolve_permissions(session: AsyncSession, codes: Iterable[str]) -> list[Permission]:
    wanted = sorted(set(codes))
    if not wanted:
        return []
    found = list(await session.scalars(select(Permission).where(Permission.code.in_(wanted))))
    missing = sorted(set(wanted) - {permission.code for permission in found})
    if missing:
        raise field_error("permissions", f"unknown permission(s): {', '.join(missing)}")
    return sorted(found, key=lambda permission: permission.code)


def _check_permissions_grantable(actor: User, permissions: Iterable[Permission]) -> None:
    if actor.is_superuser:
        return
    beyond = {permission.code for permission in permissions} - actor.permission_codes
    if beyond:
        raise forbidden(
            "You cannot grant permissions you do not hold: " + ", ".join(sorted(beyond))
        )


async def _check_role_reach(session: AsyncSession, actor: User, role: Role, *, adds: bool) -> None:
    """Refuse a permission change that reaches further than the actor could reach otherwise."""
    if actor.is_superuser:
        return
    if role.is_builtin:
        raise forbidden(
            f"Only a superuser can change the permissions of the built-in role {role.name!r}: "
            "it is given to accounts automatically"
        )
    if not adds or "users:write" in actor.permission_codes:
        return
    others = await session.scalar(
        select(func.count())
        .select_from(user_roles)
        .where(user_roles.c.role_id == role.id, user_roles.c.user_id != actor.id)
    )
    if others:
        raise forbidden(
            f"The role {role.name!r} is held by {others} other account(s): adding permissions "
            "grants them to those accounts, which needs users:write as well"
        )


async def _ensure_name_free(
    session: AsyncSession, name: str, *, role_id: int | None = None
) -> None:
    existing = await session.scalar(select(Role).where(Role.name == name))
    if existing is not None and existing.id != role_id:
        raise ConflictError(f"A role named {name!r} already exists", "role_name_taken")


async def _role_event(
    session: AsyncSession,
    action: str,
    actor: User,
    role: Role,
    source: AuditSource | None,
    details: dict[str, Any],
) -> None:
    await record_event(
        session,
        action=action,
        actor_id=actor.id,
        actor_email=actor.email,
        target_type="role",
        target_id=str(role.id),
        request=source,
        details={"name": role.name, **details},
    )


async def _commit_role(session: AsyncSession, name: str) -> None:
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise ConflictError(f"A role named {name!r} already exists", "role_name_taken") from exc


async def create_role(
    session: AsyncSession, actor: User, data: RoleCreate, *, source: AuditSource | None = None
) -> Role:
    await _ensure_name_free(session, data.name)
    permissions = await resolve_permissions(session, data.permissions)
    _check_permissions_grantable(actor, permissions)
    role = Role(name=data.name, description=data.description, permissions=permissions)
    session.add(role)
    await session.flush()
    await _role_event(
        session,
        "role.create",
        actor,
        role,
        source,
        {"description": role.description, "permissions": role.permission_codes},
    )
    await _commit_role(session, data.name)
    return role


async def update_role(
    session: AsyncSession,
    actor: User,
    role_id: int,
    data: RoleUpdate,
    *,
    source: AuditSource | None = None,
) -> Role:
    role = await require_role(session, role_id)
    changes: dict[str, Any] = {}
    if data.name is not None and data.name != role.name:
        if role.is_builtin:
            raise AppError(
                400, f"The built-in role {role.name!r} cannot be renamed", "builtin_role"
            )
        await _ensure_name_free(session, data.name, role_id=role.id)
        changes["name"] = {"from": role.name, "to": data.name}
        role.name = data.name
    if "description" in data.model_fields_set and data.description != role.description:
        role.description = data.description
        changes["description"] = data.description
    if not changes:
        return role
    role.updated_at = utcnow()
    await _role_event(session, "role.update", actor, role, source, {"changes": changes})
    await _commit_role(session, role.name)
    return role


async def set_role_permissions(
    session: AsyncSession,
    actor: User,
    role_id: int,
    data: RolePermissionsUpdate,
    *,
    source: AuditSource | None = None,
) -> Role:
    role = await require_role(session, role_id)
    permissions = await resolve_permissions(session, data.permissions)
    current = {permission.code for permission in role.permissions}
    wanted = {permission.code for permission in permissions}
    if wanted == current:
        return role
    added = [permission for permission in permissions if permission.code not in current]
    await _check_role_reach(session, actor, role, adds=bool(added))
    _check_permissions_grantable(actor, added)
    role.permissions = permissions
    role.updated_at = utcnow()
    await _role_event(
        session,
        "role.update",
        actor,
        role,
        source,
        {
            "changes": {
                "permissions": {
                    "added": sorted(wanted - current),
                    "removed": sorted(current - wanted),
                }
            }
        },
    )
    await session.commit()
    return role


async def delete_role(
    session: AsyncSession, actor: User, role_id: int, *, source: AuditSource | None = None
) -> None:
    role = await require_role(session, role_id)
    if role.is_builtin:
        raise AppError(400, f"The built-in role {role.name!r} cannot be deleted", "builtin_role")
    holders = await session.scalar(
        select(func.count()).select_from(user_roles).where(user_roles.c.role_id == role.id)
    )
    await _role_event(session, "role.delete", actor, role, source, {"holders": holders or 0})
    await session.execute(delete(user_roles).where(user_roles.c.role_id == role.id))
    await session.delete(role)
    await session.commit()
