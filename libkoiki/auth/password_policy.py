"""Password rules after OWASP ASVS 5.0 (V6.2) and NIST SP 800-63B (5.1.1.2).

No composition rules (upper/lower/digit/symbol): they push people to `Password1!`, which is in
every cracking list. Length is counted in characters, spaces and any Unicode are allowed. What
NIST asks a verifier to refuse instead, each refusal naming its reason (the 422 item's `type`):

- `password_too_short` / `password_too_long`: 8 (`PASSWORD_MIN_LENGTH`) to 128 characters;
- `password_repeated`: one character or group repeated (`........`, `abcabcab`);
- `password_sequence`: a run such as `abcdefgh`, `12345678` or `87654321`;
- `password_common`: one of the common passwords below, whatever its case;
- `password_has_email`: contains the email's local part;
- `password_context`: guessable because it is built from the context: the email's local part
  and domain, the product's name (`koiki`);
- `password_guessable`: zxcvbn (Dropbox's estimator; its lists hold the 30,000 most common
  passwords of leaked corpora, English words and names, with l33t, dates, keyboard patterns)
  estimates fewer guesses than `PASSWORD_MIN_SCORE` stands for (3: 10^8 guesses).

The estimate costs about 1 to 15 ms of CPU, growing fast with length, so it reads the first
`ESTIMATE_WINDOW` characters only: a password whose first 32 characters are hard to guess is
hard to guess. It runs only where a password is set (register, change, reset, admin create,
`ops create-superuser`), never on login, in the password hasher's bounded pool.

`common_passwords.txt` is the 20,000-entry list Django ships (Royce Williams' list, lower-cased,
BSD licence), keeping only the 8,354 entries of 8 characters or more, since shorter ones fail the
length rule anyway. Reproduce it offline from a Django 5.2 wheel:
    unzip -p Django-5.2.*.whl django/contrib/auth/common-passwords.txt.gz | gunzip \
        | awk 'length($0) >= 8' > libkoiki/auth/common_passwords.txt
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from importlib import resources

from libkoiki.auth.passwords import get_password_hasher
from libkoiki.config import Settings
from libkoiki.errors import AppError

DEFAULT_MIN_LENGTH = 8
DEFAULT_MIN_SCORE = 3
# ASVS asks that at least 64 characters be accepted; the cap only stops megabyte "passwords"
# from being fed to the hasher.
MAX_LENGTH = 128
# Shorter local parts ("al@...") would forbid too many unrelated passwords.
MIN_LOCAL_PART_TO_CHECK = 3
MIN_CONTEXT_WORD = 3
ESTIMATE_WINDOW = 32
PRODUCT_WORDS = ("koiki",)


class PasswordRejected(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@functools.cache
def common_passwords() -> frozenset[str]:
    text = resources.files("libkoiki.auth").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line)


def _is_repetition(text: str) -> bool:
    """One block repeated, the last copy possibly cut short: `aaaa`, `abcabcab`."""
    return any(
        all(text[i] == text[i % period] for i in range(period, len(text)))
        for period in range(1, len(text) // 2 + 1)
    )


def _is_sequence(text: str) -> bool:
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(text)}
    return steps in ({1}, {-1})


def context_words(email: str | None) -> list[str]:
    """What an attacker would try first for this account: its address's parts, our name."""
    words = list(PRODUCT_WORDS)
    if email and "@" in email:
        local, domain = email.lower().rsplit("@", 1)
        words += [local, domain, domain.replace(".", "")]
        words += re.split(r"[^\w]+", local) + domain.split(".")
    return sorted({word for word in words if len(word) >= MIN_CONTEXT_WORD})


CONTEXT_MESSAGE = (
    "password is too easy to guess: it is built from your email address or the name of this service"
)


def _only_context(lowered: str, words: list[str]) -> bool:
    """A context word with nothing but digits and symbols around it: `Koiki-2026!`."""
    rest = lowered
    for word in sorted(words, key=len, reverse=True):
        rest = rest.replace(word, "")
    return rest != lowered and not re.sub(r"[\W\d_]+", "", rest)


def _estimate(password: str, words: list[str], min_score: int) -> None:
    # Imported on first use: its dictionaries cost a worker about 15 MB, which only a process
    # that sets passwords (registration, change, reset) needs to carry.
    from zxcvbn import zxcvbn

    result = zxcvbn(password[:ESTIMATE_WINDOW], user_inputs=words)
    if result["score"] >= min_score:
        return
    if any(match.get("dictionary_name") == "user_inputs" for match in result["sequence"]):
        raise PasswordRejected("password_context", CONTEXT_MESSAGE)
    warning = result["feedback"]["warning"]
    raise PasswordRejected(
        "password_guessable",
        "password is too easy to guess" + (f": {warning}" if warning else ""),
    )


def validate_password(
    password: str,
    *,
    email: str | None = None,
    min_length: int = DEFAULT_MIN_LENGTH,
    min_score: int = DEFAULT_MIN_SCORE,
) -> str:
    """Return the password, or raise PasswordRejected (a ValueError) naming the broken rule."""
    if len(password) < min_length:
        raise PasswordRejected(
            "password_too_short", f"password must be at least {min_length} characters"
        )
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(
            "password_too_long", f"password must be at most {MAX_LENGTH} characters"
        )
    # Full-width or composed look-alikes count as what they look like (`ＫＯＩＫＩ` is `koiki`).
    normalized = unicodedata.normalize("NFKC", password)
    lowered = normalized.casefold()
    if _is_repetition(lowered):
        raise PasswordRejected(
            "password_repeated", "password must not be one character or group repeated"
        )
    if _is_sequence(lowered):
        raise PasswordRejected(
            "password_sequence", "password must not be a sequence such as abcdefgh or 12345678"
        )
    if lowered in common_passwords():
        raise PasswordRejected(
            "password_common", "password is too common: it appears in a list of leaked passwords"
        )
    if email:
        local_part = email.rsplit("@", 1)[0].lower()
        if len(local_part) >= MIN_LOCAL_PART_TO_CHECK and local_part in lowered:
            raise PasswordRejected(
                "password_has_email",
                f"password must not contain the email's local part ({local_part!r}, the part "
                "before the @), in any letter case",
            )
    words = context_words(email)
    if _only_context(lowered, words):
        raise PasswordRejected("password_context", CONTEXT_MESSAGE)
    _estimate(normalized, words, min_score)
    return password


async def check_password_policy(
    settings: Settings, password: str, *, email: str, field: str
) -> None:
    """422 naming `field` and the rule that failed (the item's `type` is the reason's code).

    The estimate is CPU work: it runs in the password hasher's bounded pool, off the event loop.
    """
    check = functools.partial(
        validate_password,
        password,
        email=email,
        min_length=settings.password_min_length,
        min_score=settings.password_min_score,
    )
    try:
        await get_password_hasher(settings).run(check)
    except PasswordRejected as exc:
        detail = [{"loc": ["body", field], "msg": f"Value error, {exc}", "type": exc.reason}]
        raise AppError(422, detail, "validation_error") from None
