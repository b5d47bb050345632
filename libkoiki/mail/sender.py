"""Mail senders. Sending is slow and can fail: callers run it in the background (BackgroundTasks)
through `send_quietly`, which logs a failure instead of raising it.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Protocol

import anyio
import structlog

from libkoiki.config import Settings

logger = structlog.get_logger("koiki.mail")

IMPLICIT_TLS_PORT = 465


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str


class MailSender(Protocol):
    async def send(self, message: OutgoingEmail) -> None: ...


class SmtpMailSender:
    """stdlib smtplib in a worker thread: STARTTLS when `SMTP_TLS`, implicit TLS on port 465."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _build(self, message: OutgoingEmail) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.settings.mail_from
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False, usegmt=True)
        domain = parseaddr(self.settings.mail_from)[1].rpartition("@")[2] or None
        email["Message-ID"] = make_msgid(domain=domain)
        email.set_content(message.text)
        return email

    def _send_blocking(self, message: OutgoingEmail) -> None:
        with open_smtp(self.settings, timeout=self.settings.smtp_timeout_seconds) as smtp:
            smtp.send_message(self._build(message))

    async def send(self, message: OutgoingEmail) -> None:
        await anyio.to_thread.run_sync(self._send_blocking, message)
        logger.info("mail_sent", to=message.to, subject=message.subject, transport="smtp")


def open_smtp(settings: Settings, *, timeout: float) -> smtplib.SMTP:
    """A connection to SMTP_HOST, encrypted (implicit TLS on 465, else STARTTLS when SMTP_TLS) and
    logged in when SMTP_USER is set: ready to send. Blocking; close it (it is a context manager)."""
    assert settings.smtp_host is not None
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_port == IMPLICIT_TLS_PORT:
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    try:
        if settings.smtp_tls and settings.smtp_port != IMPLICIT_TLS_PORT:
            smtp.starttls(context=context)
        if settings.smtp_user:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_user, password)
    except BaseException:
        smtp.close()
        raise
    return smtp


class LogMailSender:
    """No SMTP server configured: log that a message would have been sent.

    The body (which may hold a password-reset link) is logged only when `show_body` is set, which
    `get_mail_sender` does in development only, so a newcomer can reset a password locally.
    """

    def __init__(self, *, show_body: bool) -> None:
        self.show_body = show_body

    async def send(self, message: OutgoingEmail) -> None:
        if self.show_body:
            logger.info("mail_logged", to=message.to, subject=message.subject, body=message.text)
        else:
            logger.info("mail_not_sent_no_smtp", to=message.to, subject=message.subject)


def get_mail_sender(settings: Settings) -> MailSender:
    if settings.smtp_host:
        return SmtpMailSender(settings)
    return LogMailSender(show_body=settings.app_env == "development")


async def send_quietly(sender: MailSender, message: OutgoingEmail) -> None:
    """Send, and log (not raise) a failure: the response has already gone to the client."""
    try:
        await sender.send(message)
    except (smtplib.SMTPException, OSError) as exc:
        logger.error(
            "mail_send_failed", to=message.to, subject=message.subject, error=type(exc).__name__
        )
