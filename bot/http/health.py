"""The service's recent errors, kept in memory for `GET /healthz` (channels record what went wrong), and
`redact`, which leaves of an error only its kind for that public answer."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypedDict

from bot.clock import Clock

if TYPE_CHECKING:
    from bot.bootstrap import App

__all__ = ["ErrorLog", "ErrorRecord", "error_log", "redact"]

EXTRAS_KEY = "errors"


class ErrorRecord(TypedDict):
    at: str
    source: str
    error: str


class ErrorLog:
    """The last `limit` errors, newest first when read; one per application (kept in `App.extras`)."""

    def __init__(self, clock: Clock, limit: int = 20) -> None:
        self.clock = clock
        self._items: deque[ErrorRecord] = deque(maxlen=limit)

    def record(self, source: str, error: str) -> None:
        at = self.clock.now().isoformat(timespec="seconds")
        self._items.append(ErrorRecord(at=at, source=source, error=error[:300]))

    def recent(self, limit: int = 10) -> list[ErrorRecord]:
        return list(reversed(self._items))[:limit]

    def __len__(self) -> int:
        return len(self._items)


def error_log(app: App) -> ErrorLog:
    """The application's error log, created on first use."""
    found = app.extras.get(EXTRAS_KEY)
    if isinstance(found, ErrorLog):
        return found
    created = ErrorLog(app.clock)
    app.extras[EXTRAS_KEY] = created
    return created


HIDDEN = "…"
# What /healthz never shows, whoever asks: quoted values (exception reprs quote what they were given), links,
# e-mails (the service account), file paths (the key file), conversation keys, masked numbers, long ids.
_HIDE = (
    re.compile(r"'[^'\n]*'|\"[^\"\n]*\""),
    re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE),
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    re.compile(r"(?<![\w/])(?:~|\.{1,2})?/[^\s,;:()]+"),
    re.compile(r"\b(?:telegram|whatsapp|web|max|console|admin):[^\s,;()]+"),
    re.compile(r"\S*\*\S*"),
    re.compile(r"[\w-]{20,}"),
)
_WORD = re.compile(r"\w+")


def _id_like(word: str) -> bool:
    """A chat id, a lead id, a message id: seven digits or more, or digits among six characters or more
    (an error code such as 131047 or 503 stays)."""
    digits = sum(ch.isdigit() for ch in word)
    return digits >= 7 or (0 < digits < len(word) and len(word) >= 6)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """The kind of an error without what identifies anyone or anything: `secrets` (the sheet id, the key
    file) and every id, e-mail, path, link or quoted value become `…`."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    for pattern in _HIDE:
        text = pattern.sub(HIDDEN, text)
    text = _WORD.sub(lambda m: HIDDEN if _id_like(m.group()) else m.group(), text)
    text = re.sub(r"…(?:[\s.,:;-]*…)+", HIDDEN, text)
    return text[:200]
