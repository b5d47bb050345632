"""HTTP routes: users (/api/v1/users), roles (/api/v1/roles), permissions (/api/v1/permissions).

Thin on purpose: parse, call the service, shape the response.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from libkoiki.accounts import roles, service
from libkoiki.accounts.models import User
from libkoiki.accounts.schemas import (
    PermissionRead,
    ProfileUpdate,
    RoleCreate,
    RolePermissionsUpdate,
    RoleRead,
    RoleUpdate,
    UserCreate,
    UserMe,
    UserRead,
    UserUpdate,
)
from libkoiki.audit.service import AuditSourceDep
from libkoiki.auth.dependencies import CurrentUser, SettingsDep, require_permission
from libkoiki.db import SessionDep
from libkoiki.errors import error_responses
from libkoiki.fields import CleanStr, RowIdPath
from libkoiki.pagination import Page, PageParamsDep

# 401, 413, 422, 429 and 503 are documented for every route by libkoiki.openapi.
COMMON_ERRORS = error_responses(403)
ONE_USER = error_responses(404)
ONE_ROLE = error_responses(404)

users_router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=COMMON_ERRORS)
roles_router = APIRouter(prefix="/api/v1", tags=["roles"], responses=COMMON_ERRORS)

UserReader = Annotated[User, require_permission("users:read")]
UserWriter = Annotated[User, require_permission("users:write")]
RoleManager = Annotated[User, require_permission("roles:manage")]


@users_router.patch("/me", response_model=UserMe, summary="Update your own profile")
async def update_my_profile(
    data: ProfileUpdate,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    source: AuditSourceDep,
) -> UserMe:
    updated = await service.update_profile(session, user, data, source=source)
    return UserMe.from_user(updated, email_verification_required=settings.email_verification_on)


@users_router.get("", response_model=Page[UserRead], summary="List users (users:read)")
async def list_users(
    _: UserReader,
    session: SessionDep,
    page: PageParamsDep,
    q: Annotated[
        CleanStr | None, Query(max_length=320, description="Searches email and name")
    ] = None,
) -> Page[UserRead]:
    users, total = await service.list_users(session, page, q=q)
    items = [UserRead.model_validate(user) for user in users]
    return Page[UserRead](items=items, total=total, skip=page.skip, limit=page.limit)


@users_router.get(
    "/{user_id}", response_model=UserRead, summary="Get a user (users:read)", responses=ONE_USER
)
async def get_user(user_id: RowIdPath, _: UserReader, session: SessionDep) -> User:
    return await service.require_user(session, user_id)


@users_router.post(
    "",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a user (users:write)",
    responses=error_responses(409),
)
async def create_user(
    data: UserCreate,
    actor: UserWriter,
    session: SessionDep,
    source: AuditSourceDep,
    settings: SettingsDep,
) -> User:
    return await service.admin_create_user(session, actor, data, settings, source=source)


@users_router.patch(
    "/{user_id}",
    response_model=UserRead,
    summary="Update a user: name, active flag, superuser flag, roles (users:write)",
    responses=error_responses(400, 404),
)
async def update_user(
    user_id: RowIdPath,
    data: UserUpdate,
    actor: UserWriter,
    session: SessionDep,
    source: AuditSourceDep,
) -> User:
    return await service.update_user(session, actor, user_id, data, source=source)


@users_router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a user, ending their sessions (users:write)",
    responses=error_responses(400, 404),
)
async def delete_user(
    user_id: RowIdPath, actor: UserWriter, session: SessionDep, source: AuditSourceDep
) -> None:
    await service.delete_user(session, actor, user_id, source=source)


@roles_router.get("/roles", response_model=list[RoleRead], summary="List roles (roles:manage)")
async def list_roles(_: RoleManager, session: SessionDep) -> list[RoleRead]:
    return [RoleRead.model_validate(role) for role in await roles.list_roles(session)]


@roles_router.post(
    "/roles",
    response_model=RoleRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a role (roles:manage)",
    responses=error_responses(409),
)
async def create_role(
    data: RoleCreate, actor: RoleManager, session: SessionDep, source: AuditSourceDep
) -> RoleRead:
    role = await roles.create_role(session, actor, data, source=source)
    return RoleRead.model_validate(role)


@roles_router.get(
    "/roles/{role_id}",
    response_model=RoleRead,
    summary="Get a role (roles:manage)",
    responses=ONE_ROLE,
)
async def get_role(role_id: RowIdPath, _: RoleManager, session: SessionDep) -> RoleRead:
    return RoleRead.model_validate(await roles.require_role(session, role_id))


@roles_router.patch(
    "/roles/{role_id}",
    response_model=RoleRead,
    summary="Rename or describe a role; built-in roles keep their name (roles:manage)",
    responses=error_responses(400, 404, 409),
)
async def update_role(
    role_id: RowIdPath,
    data: RoleUpdate,
    actor: RoleManager,
    session: SessionDep,
    source: AuditSourceDep,
) -> RoleRead:
    role = await roles.update_role(session, actor, role_id, data, source=source)
    return RoleRead.model_validate(role)


@roles_router.put(
    "/roles/{role_id}/permissions",
    response_model=RoleRead,
    summary="Replace a role's permissions (roles:manage)",
    responses=ONE_ROLE,
)
async def set_role_permissions(
    role_id: RowIdPath,
    data: RolePermissionsUpdate,
    actor: RoleManager,
    session: SessionDep,
    source: AuditSourceDep,
) -> RoleRead:
    role = await roles.set_role_permissions(session, actor, role_id, data, source=source)
    return RoleRead.model_validate(role)


@roles_router.delete(
    "/roles/{role_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a role; built-in roles cannot be deleted (roles:manage)",
    responses=error_responses(400, 404),
)
async def delete_role(
    role_id: RowIdPath, actor: RoleManager, session: SessionDep, source: AuditSourceDep
) -> None:
    await roles.delete_role(session, actor, role_id, source=source)


@roles_router.get(
    "/permissions", response_model=list[PermissionRead], summary="List permissions (roles:manage)"
)
async def list_permissions(_: RoleManager, session: SessionDep) -> list[PermissionRead]:
    return [PermissionRead.model_validate(p) for p in await roles.list_permissions(session)]
