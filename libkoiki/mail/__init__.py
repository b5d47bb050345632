"""Outgoing email: SMTP when `SMTP_HOST` is set, otherwise a sender that only logs."""

from libkoiki.mail.sender import (
    LogMailSender,
    MailSender,
    OutgoingEmail,
    SmtpMailSender,
    get_mail_sender,
    send_quietly,
)

__all__ = [
    "LogMailSender",
    "MailSender",
    "OutgoingEmail",
    "SmtpMailSender",
    "get_mail_sender",
    "send_quietly",
]
