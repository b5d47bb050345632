from __future__ import annotations

import pytest

from libkoiki.auth.password_policy import MAX_LENGTH, common_passwords, validate_password


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
    "password",
    ["lowercaseonly", "        spaces  inside", "日本語のパスワードです", "x" * 64, "Zz1!" * 32],
)
def test_no_composition_rules(password: str) -> None:
    assert validate_password(password, email="someone@example.com") == password


def test_short_local_parts_are_not_matched() -> None:
    # "al" would forbid every password containing those two letters.
    assert validate_password("totally-alright-42", email="al@example.com")


def test_minimum_length_is_a_parameter() -> None:
    with pytest.raises(ValueError, match="at least 12 characters"):
        validate_password("eleven-char", min_length=12)
    assert validate_password("twelve-chars", min_length=12)
