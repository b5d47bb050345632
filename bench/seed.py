"""The benchmark's data, written through libkoiki's own services: users, sessions, tokens, todos.

Every user has the same password (hashed once) and 20 todos, plus one session and its access
token, as a login would leave them; the tokens are minted here rather than by logging in 1,000
times, which would spend the set-up on argon2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.todos.models import Todo
from libkoiki.accounts.service import create_user
from libkoiki.audit.service import AuditSource
from libkoiki.auth.passwords import hash_password
from libkoiki.auth.sessions import create_session
from libkoiki.auth.tokens import create_access_token
from libkoiki.config import Settings
from libkoiki.db import create_engine, create_sessionmaker

PASSWORD = "bench-password-for-the-login-flood"  # noqa: S105  (a throwaway database's users)
TODOS_PER_USER = 20


@dataclass(frozen=True, slots=True)
class SeedFiles:
    users: Path  # "<user id>\t<first todo id>\t<access token>" a line, for the wrk scripts
    emails: Path  # one address a line, for the login flood


async def seed(settings: Settings, users: int, directory: Path) -> SeedFiles:
    engine = create_engine(settings)
    source = AuditSource(ip="127.0.0.1", user_agent="make bench", request_id=None)
    lines: list[str] = []
    emails: list[str] = []
    try:
        async with create_sessionmaker(engine)() as db:
            password_hash = await hash_password(PASSWORD, settings)
            for n in range(users):
                email = f"bench-{n}@example.com"
                user = await create_user(
                    db, email=email, password_hash=password_hash, email_verified=True
                )
                todos = [
                    Todo(title=f"todo {k} of user {n}", description="seeded", owner_id=user.id)
                    for k in range(TODOS_PER_USER)
                ]
                db.add_all(todos)
                auth_session, _refresh = await create_session(
                    db, settings, user_id=user.id, client=source
                )
                await db.flush()
                token = create_access_token(settings, user_id=user.id, session_id=auth_session.id)
                lines.append(f"{user.id}\t{todos[0].id}\t{token.token}")
                emails.append(email)
            await db.commit()
    finally:
        await engine.dispose()
    files = SeedFiles(directory / "users.tsv", directory / "emails.txt")
    files.users.write_text("\n".join(lines) + "\n")
    files.emails.write_text("\n".join(emails) + "\n")
    return files
