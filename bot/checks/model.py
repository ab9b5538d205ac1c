"""A check's outcome: one printed line with a mark, what was found and, when something is wrong, the fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import SecretStr

from bot.russian import count

__all__ = ["Line", "Mark", "mask"]


class Mark(StrEnum):
    OK = "✓"
    FAIL = "✗"
    WARN = "!"  # worth knowing, does not fail the check
    SKIP = "–"  # not configured, and that is allowed


@dataclass(frozen=True, slots=True)
class Line:
    mark: Mark
    item: str
    detail: str
    fix: str = ""
    # A heading over the lines that carry the problems themselves (e.g. «Знания: 2 ошибки»): shown with
    # its mark, not counted again in the total.
    heading: bool = False

    @property
    def failed(self) -> bool:
        return self.mark is Mark.FAIL and not self.heading

    @property
    def warned(self) -> bool:
        return self.mark is Mark.WARN and not self.heading

    def render(self) -> str:
        text = f"{self.mark} {self.item}: {self.detail}"
        return f"{text} — как исправить: {self.fix}" if self.fix else text


def ok(item: str, detail: str) -> Line:
    return Line(Mark.OK, item, detail)


def fail(item: str, detail: str, fix: str) -> Line:
    return Line(Mark.FAIL, item, detail, fix)


def warn(item: str, detail: str, fix: str = "") -> Line:
    return Line(Mark.WARN, item, detail, fix)


def skip(item: str, detail: str) -> Line:
    return Line(Mark.SKIP, item, detail)


def mask(secret: SecretStr | str | None) -> str:
    """Enough of a secret to recognise it, never all of it: `1234…xyz (46 символов)`."""
    if secret is None:
        return "не задан"
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    length = count(len(value), "символ", "символа", "символов")
    if len(value) < 12:
        return f"*** ({length})"
    return f"{value[:4]}…{value[-3:]} ({length})"
