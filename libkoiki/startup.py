"""The database, tried once at start-up, so a misconfiguration is one clear line, not a traceback.

A wrong password, a missing role or database will not mend themselves: the app refuses to start,
naming what to fix, and exits non-zero. A server that is down or starting may come back (a
restart, a failover), so the app starts anyway, says so in one warning line, and answers 503
until it does: one database's outage must not take every replica down with it.
"""

from __future__ import annotations

import asyncio
import sys

import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Message, Receive, Scope, Send

from libkoiki.config import Settings
from libkoiki.db.connect_errors import describe_connect_failure

logger = structlog.get_logger("koiki.app")


class DatabaseRefused(RuntimeError):
    """The database refused us for a reason only a change of configuration fixes."""


async def check_database(engine: AsyncEngine, settings: Settings) -> None:
    try:
        async with asyncio.timeout(settings.health_check_timeout_seconds * 2):
            async with engine.connect():
                pass
    except Exception as exc:  # any failure is reported; only a permanent one stops the start
        failure = describe_connect_failure(exc, settings.database_url)
        if failure is None:
            logger.warning("database_check_failed", error=type(exc).__name__)
            return
        if failure.permanent:
            logger.error("database_refused", detail=failure.message)
            raise DatabaseRefused(failure.message) from None
        logger.warning(
            "database_unavailable",
            detail=f"{failure.message} (until it answers, requests that need it get a 503)",
        )


def quiet_startup_refusal(app: FastAPI) -> None:
    """Starlette reports a failed start-up to the server with the whole traceback, which uvicorn
    prints. A refusal has already said everything in its own line, so the report is emptied.

    Wraps the router's lifespan handler only: nothing is added to the request path."""
    lifespan = app.router.lifespan

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_quietly(message: Message) -> None:
            # Starlette sends this from inside its `except` block: the exception is current.
            if message["type"] == "lifespan.startup.failed" and isinstance(
                sys.exc_info()[1], DatabaseRefused
            ):
                message = {**message, "message": ""}
            await send(message)

        await lifespan(scope, receive, send_quietly)

    app.router.lifespan = handle  # type: ignore[method-assign]


def report_mail_gap(settings: Settings) -> None:
    """Staging or production requiring confirmed addresses with nowhere to send the mail: the
    service runs (admins can still create accounts), and says why sign-ups never complete."""
    if (
        settings.app_env != "development"
        and settings.email_verification_on
        and not settings.smtp_host
    ):
        logger.error(
            "mail_not_configured",
            detail="REQUIRE_EMAIL_VERIFICATION is on but SMTP_HOST is unset: confirmation mails"
            " are only logged, so new accounts cannot sign in; set SMTP_HOST, or"
            " REQUIRE_EMAIL_VERIFICATION=false where admins create the accounts",
        )


def report_stripped_docs(settings: Settings) -> None:
    """Documentation served by a process without docstrings (PYTHONOPTIMIZE=2, which the image's
    entrypoint sets for the server) lacks every description they give: say so, and how to keep
    them."""
    if settings.docs_on and sys.flags.optimize >= 2:
        logger.warning(
            "docs_without_descriptions",
            detail="the API documentation is served, but this process runs without docstrings"
            " (PYTHONOPTIMIZE=2, the image's default for the server), so operations and schemas"
            " lack their descriptions; set PYTHONOPTIMIZE=0 to keep them",
        )
