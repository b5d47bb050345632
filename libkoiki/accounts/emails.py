"""Email addresses as account names: one spelling per address, one owner per look.

`normalize_email` is the stored form and what uniqueness and login compare: NFKC folds
compatibility forms (full-width `ａ`, mathematical `𝐚`) into their plain letters, and Unicode case
folding goes further than `lower()` (`ß` is `ss`, `ſ` is `s`).

`email_skeleton` is the Unicode TS #39 skeleton of the normalised address: each character is
replaced by the prototype of its confusable class, so `аlice` (Cyrillic `а`) and `alıce` (dotless
`ı`) both become `alice`. The users table stores it under a unique index, so a second address that
*looks* like an existing one is refused by the database itself, concurrent registrations included.

The confusable classes come from Unicode's confusables.txt as shipped by confusable-homoglyphs
(the data behind django-registration's homoglyph checks). That package stores each mapping in both
directions; the classes (a prototype and its sources) are rebuilt from it once, on first use.
Mappings to a sequence (`m` -> `rn`) are left out: they are the few multi-letter look-alikes, and
leaving them out keeps the skeleton one character per character.
"""

from __future__ import annotations

import hashlib
import unicodedata
from functools import cache


def normalize_email(email: str) -> str:
    return unicodedata.normalize("NFKC", email.strip()).casefold()


@cache
def _prototypes() -> dict[str, str]:
    from confusable_homoglyphs.confusables import confusables_data

    parent: dict[str, str] = {}

    def root(char: str) -> str:
        while (up := parent.get(char, char)) != char:
            char = up
        return char

    for source, entries in confusables_data.items():
        for entry in entries:
            target = entry["c"]
            if len(source) != 1 or len(target) != 1:
                continue
            a, b = root(source), root(target)
            if a != b:
                # The smallest code point stands for the class; which one does not matter, only
                # that every member maps to the same.
                parent[max(a, b)] = min(a, b)
    return {char: root(char) for char in parent}


def email_skeleton(email: str) -> str:
    """TS #39 skeleton of the normalised address (NFD, map to prototypes, NFD)."""
    prototypes = _prototypes()
    decomposed = unicodedata.normalize("NFD", normalize_email(email))
    mapped = "".join(prototypes.get(char, char) for char in decomposed)
    return unicodedata.normalize("NFD", mapped)


def email_skeleton_key(email: str) -> str:
    """What the users table stores and indexes: fixed length, whatever the skeleton's."""
    return hashlib.sha256(email_skeleton(email).encode()).hexdigest()
