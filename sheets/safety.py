"""Keeps patient text plain text in spreadsheets (no formula injection)."""

from __future__ import annotations

import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_E164 = re.compile(r"^\+\d{8,15}$")
# A Telegram @username (letters, digits, underscore) cannot be a formula; the contract writes it as is.
_USERNAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$")


def neutralise(value: str) -> str:
    """Prefix an apostrophe to a value a spreadsheet would read as a formula; an E.164 phone and a
    Telegram @username stay as they are."""
    if value and value.startswith(_FORMULA_START) and not _E164.match(value) and not _USERNAME.match(value):
        return "'" + value
    return value


def restore(value: str) -> str:
    """Undo `neutralise` when reading a value back."""
    if value.startswith("'") and value[1:2] in _FORMULA_START:
        return value[1:]
    return value
