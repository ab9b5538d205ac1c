"""The service's recent errors, kept in memory for `GET /healthz` (channels record what went wrong)."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, TypedDict

from bot.clock import Clock

if TYPE_CHECKING:
    from bot.bootstrap import App

__all__ = ["ErrorLog", "ErrorRecord", "error_log"]

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
