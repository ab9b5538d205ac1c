"""Russian for the people who read the command line: plural forms of counted words."""

from __future__ import annotations

__all__ = ["count", "plural"]


def plural(number: int, one: str, few: str, many: str) -> str:
    """The form of a word after a number: 1 ошибка, 2 ошибки, 5 ошибок, 11 ошибок, 21 ошибка."""
    tail = abs(number) % 100
    if 11 <= tail <= 14:
        return many
    last = tail % 10
    if last == 1:
        return one
    if 2 <= last <= 4:
        return few
    return many


def count(number: int, one: str, few: str, many: str) -> str:
    """ "2 ошибки": the number and the word in its form."""
    return f"{number} {plural(number, one, few, many)}"
