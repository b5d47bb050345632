from __future__ import annotations

import pytest

from libkoiki.auth.password_policy import (
    MAX_LENGTH,
    PasswordRejected,
    common_passwords,
    context_words,
    validate_password,
)

# A passphrase of exactly the longest length, no block repeated.
LONGEST = (
    "the quiet harbour keeps seven blue lanterns while our neighbours bake rye bread "
    "near the old mill by winding rivers of autumn to"
)


def test_the_shipped_list_is_large_and_normalised() -> None:
    words = common_passwords()
    assert len(words) > 8000
    assert all(word == word.lower() for word in words)
    assert all(len(word) >= 8 for word in words)
    assert {"password", "12345678", "iloveyou", "qwertyuiop"} <= words


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("1234567", "at least 8 characters"),
        ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH} characters"),
        ("PASSWORD", "too common"),
        ("Sunshine1", "too common"),
        ("my-name-is-hanako!", "must not contain the email"),
    ],
)
def test_rules_name_themselves(password: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_password(password, email="Hanako@example.com")


@pytest.mark.parametrize(
    ("password", "email", "reason"),
    [
        # Issue 22's list: every one was accepted by the blocklist alone.
        (" " * 8, "someone@example.com", "password_repeated"),
        ("........", "someone@example.com", "password_repeated"),
        ("abcabcab", "someone@example.com", "password_repeated"),
        ("Zz1!" * 32, "someone@example.com", "password_repeated"),
        ("abcdefghij", "someone@example.com", "password_sequence"),
        ("98765432", "someone@example.com", "password_sequence"),
        ("Passw0rd!", "someone@example.com", "password_guessable"),
        ("P@ssw0rd2026", "someone@example.com", "password_guessable"),
        ("Welcome2026", "someone@example.com", "password_guessable"),
        ("Summer2026!", "someone@example.com", "password_guessable"),
        ("corpexample", "tanaka@corp.example", "password_context"),
        ("corp-example-2026", "tanaka@corp.example", "password_context"),
        ("Koiki-2026!", "someone@example.com", "password_context"),
        ("ＫＯＩＫＩ2026!", "someone@example.com", "password_context"),  # full-width look-alike
    ],
)
def test_guessable_passwords_are_refused_with_their_reason(
    password: str, email: str, reason: str
) -> None:
    with pytest.raises(PasswordRejected) as refused:
        validate_password(password, email=email)
    assert refused.value.reason == reason
    assert str(refused.value).startswith("password ")


def test_context_words_are_the_address_parts_and_the_product() -> None:
    assert context_words("Hanako.Sato@Corp.Example") == [
        "corp",
        "corp.example",
        "corpexample",
        "example",
        "hanako",
        "hanako.sato",
        "koiki",
        "sato",
    ]
    assert context_words(None) == ["koiki"]


@pytest.mark.parametrize(
    "password",
    [
        "tangerine kayak umbrella",
        "        spaces  inside",
        "日本語のパスワードです",
        "koiki tangerine kayak",  # a context word inside a strong passphrase is fine
        LONGEST,
    ],
)
def test_no_composition_rules(password: str) -> None:
    assert validate_password(password, email="someone@example.com") == password


def test_the_longest_passphrase_is_the_cap() -> None:
    assert len(LONGEST) == MAX_LENGTH


def test_short_local_parts_are_not_matched() -> None:
    # "al" would forbid every password containing those two letters.
    assert validate_password("totally-alright-42", email="al@example.com")


def test_minimum_length_is_a_parameter() -> None:
    with pytest.raises(ValueError, match="at least 12 characters"):
        validate_password("eleven-char", min_length=12)
    assert validate_password("twelve-chars", min_length=12)
