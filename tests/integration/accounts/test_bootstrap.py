"""The first-superuser command's core: `ensure_superuser` is safe to run on every deployment."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libkoiki.accounts.bootstrap import ensure_superuser
from libkoiki.accounts.models import User
from libkoiki.audit.models import AuditEvent
from libkoiki.auth.passwords import verify_password
from libkoiki.config import Settings

PASSWORD = "Bootstrap-Pass-4821"


async def test_creates_an_active_superuser_with_the_admin_role(
    db_session: AsyncSession, settings: Settings
) -> None:
    user, created = await ensure_superuser(
        db_session, "Root@Example.COM", PASSWORD, "Root", settings=settings
    )
    assert created is True
    assert user.email == "root@example.com"
    assert user.is_superuser
    assert user.is_active
    assert user.role_names == ["admin", "user"]
    assert user.has_permission("anything:at_all")
    assert user.hashed_password != PASSWORD
    assert (await verify_password(PASSWORD, user.hashed_password, settings))[0]
    event = await db_session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create"))
    assert event is not None
    assert event.target_id == str(user.id)
    assert event.details["via"] == "bootstrap"
    assert PASSWORD not in str(event.details)


async def test_running_it_again_changes_nothing(
    db_session: AsyncSession, settings: Settings
) -> None:
    first, _ = await ensure_superuser(db_session, "root@example.com", PASSWORD, settings=settings)
    stored_hash = first.hashed_password
    again, created = await ensure_superuser(
        db_session, "ROOT@example.com", "Another-Pass-9090", settings=settings
    )
    assert created is False
    assert again.id == first.id
    # A re-run must never reset the password someone has since changed.
    assert again.hashed_password == stored_hash
    count = len(list(await db_session.scalars(select(User))))
    assert count == 1


async def test_an_existing_regular_account_is_never_promoted(
    db_session: AsyncSession, settings: Settings
) -> None:
    # Someone registered the configured address before the first deployment ran the command.
    squatter = User(email="ops@example.com", hashed_password="x")
    db_session.add(squatter)
    await db_session.commit()
    with pytest.raises(ValueError, match="already exists as a regular account"):
        await ensure_superuser(db_session, "OPS@example.com", PASSWORD, settings=settings)
    await db_session.refresh(squatter)
    assert squatter.is_superuser is False


async def test_a_deactivated_superuser_stays_deactivated(
    db_session: AsyncSession, settings: Settings
) -> None:
    user, _ = await ensure_superuser(db_session, "root@example.com", PASSWORD, settings=settings)
    user.is_active = False
    await db_session.commit()
    again, created = await ensure_superuser(
        db_session, "root@example.com", PASSWORD, settings=settings
    )
    assert created is False
    assert again.is_active is False


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("root@example.com", "short", "at least 8 characters"),
        ("root@example.com", "password123", "too common"),
        ("not-an-email", PASSWORD, "email"),
    ],
)
async def test_bad_input_is_refused_with_the_reason(
    db_session: AsyncSession, settings: Settings, email: str, password: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await ensure_superuser(db_session, email, password, settings=settings)
    assert list(await db_session.scalars(select(User))) == []
