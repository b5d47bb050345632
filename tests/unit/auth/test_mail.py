from __future__ import annotations

import pytest

from libkoiki.config import Settings
from libkoiki.mail import LogMailSender, OutgoingEmail, SmtpMailSender, get_mail_sender
from tests.fixtures.auth import SmtpServer

MESSAGE = OutgoingEmail(to="ada@example.com", subject="Hello", text="Link: https://x/?token=abc\n")


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


async def test_smtp_sender_delivers_a_well_formed_message(smtp_server: SmtpServer) -> None:
    settings = _settings(**smtp_server.settings, mail_from="KOIKI <no-reply@koiki.test>")
    sender = get_mail_sender(settings)
    assert isinstance(sender, SmtpMailSender)
    await sender.send(MESSAGE)
    [received] = smtp_server.mailbox.to("ada@example.com")
    assert received["Subject"] == "Hello"
    assert received["From"] == "KOIKI <no-reply@koiki.test>"
    assert received["Message-ID"].endswith("@koiki.test>")
    assert received["Date"]
    assert received.get_content().replace("\r\n", "\n") == MESSAGE.text


@pytest.mark.parametrize(("env", "shows_body"), [("development", True), ("production", False)])
def test_without_smtp_the_log_sender_shows_the_body_in_development_only(
    env: str, shows_body: bool
) -> None:
    secrets = {"secret_key": "k" * 40, "jwt_secret": "j" * 40} if env == "production" else {}
    sender = get_mail_sender(_settings(app_env=env, cors_origins="", **secrets))
    assert isinstance(sender, LogMailSender)
    assert sender.show_body is shows_body
