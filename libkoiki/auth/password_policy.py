"""Password rules after OWASP ASVS 5.0 (V6.2): length, not common, not the user's own name.

No composition rules (upper/lower/digit/symbol): they push people to `Password1!`, which is in
every cracking list. Length is counted in characters, spaces and any Unicode are allowed.

`common_passwords.txt` is the 20,000-entry list Django ships (Royce Williams' list, lower-cased,
BSD licence), keeping only the 8,354 entries of 8 characters or more, since shorter ones fail the
length rule anyway. Reproduce it offline from a Django 5.2 wheel:
    unzip -p Django-5.2.*.whl django/contrib/auth/common-passwords.txt.gz | gunzip \
        | awk 'length($0) >= 8' > libkoiki/auth/common_passwords.txt
"""

from __future__ import annotations

import functools
from importlib import resources

from libkoiki.config import Settings
from libkoiki.errors import field_error

DEFAULT_MIN_LENGTH = 8
# ASVS asks that at least 64 characters be accepted; the cap only stops megabyte "passwords"
# from being fed to the hasher.
MAX_LENGTH = 128
# Shorter local parts ("al@...") would forbid too many unrelated passwords.
MIN_LOCAL_PART_TO_CHECK = 3


@functools.cache
def common_passwords() -> frozenset[str]:
    text = resources.files("libkoiki.auth").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line)


def validate_password(
    password: str, *, email: str | None = None, min_length: int = DEFAULT_MIN_LENGTH
) -> str:
    """Return the password, or raise ValueError with a message naming the broken rule."""
    if len(password) < min_length:
        raise ValueError(f"password must be at least {min_length} characters")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"password must be at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if lowered in common_passwords():
        raise ValueError("password is too common: it appears in a list of leaked passwords")
    if email:
        local_part = email.rsplit("@", 1)[0].lower()
        if len(local_part) >= MIN_LOCAL_PART_TO_CHECK and local_part in lowered:
            raise ValueError(
                f"password must not contain the email's local part ({local_part!r}, the part "
                "before the @), in any letter case"
            )
    return password


def check_password_policy(settings: Settings, password: str, *, email: str, field: str) -> None:
    """422 naming `field` and the rule that failed."""
    try:
        validate_password(password, email=email, min_length=settings.password_min_length)
    except ValueError as exc:
        raise field_error(field, f"Value error, {exc}") from None
