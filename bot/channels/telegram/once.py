"""No Telegram update processed twice, across restarts too, without a disk write per update.

Telegram numbers updates in increasing order. The highest processed id is kept in memory and written to the
local database at most every `every` seconds and at stop; at start, anything at or below the stored mark is a
redelivery (the last polled batch is sent again after a restart) and is skipped. Ids seen since start are
also remembered, for webhook redeliveries that arrive out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.storage.db import Database

__all__ = ["UpdateLog"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS telegram_offset (
    bot_id INTEGER PRIMARY KEY,
    last_update_id INTEGER NOT NULL
)
"""


class UpdateLog(BaseMiddleware):
    """An outer update middleware: skips redelivered updates; `save()` persists the mark."""

    def __init__(self, db: Database, bot_id: int, *, every: float = 1.0, recent: int = 10_000) -> None:
        self.db = db
        self.bot_id = bot_id
        self.every = every
        with db.transaction() as conn:
            conn.execute(_SCHEMA)
        rows = db.query("SELECT last_update_id FROM telegram_offset WHERE bot_id = ?", (bot_id,))
        self.mark = int(rows[0][0]) if rows else -1  # type: ignore[call-overload]
        self.highest = self.mark
        self.saved = self.mark
        self._recent: set[int] = set()
        self._order: deque[int] = deque(maxlen=recent)
        self._task: asyncio.Task[None] | None = None
        self.skipped = 0

    def first_time(self, update_id: int) -> bool:
        """True once per update id; False for a redelivery."""
        if update_id <= self.mark or update_id in self._recent:
            self.skipped += 1
            return False
        if len(self._order) == self._order.maxlen:
            self._recent.discard(self._order[0])
        self._order.append(update_id)
        self._recent.add(update_id)
        self.highest = max(self.highest, update_id)
        if self._task is None:
            with contextlib.suppress(RuntimeError):  # no running loop: saved at stop
                self._task = asyncio.get_running_loop().create_task(self._save_soon())
        return True

    async def __call__(self, handler: Any, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, Update) and not self.first_time(event.update_id):
            log.info("update %s already processed; skipped", event.update_id)
            return None
        return await handler(event, data)

    async def _save_soon(self) -> None:
        try:
            await asyncio.sleep(self.every)
        finally:
            self._task = None
        self.save()

    def save(self) -> None:
        """Write the highest processed id (one small transaction; nothing when unchanged)."""
        if self.highest <= self.saved:
            return
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO telegram_offset(bot_id, last_update_id) VALUES (?, ?) "
                "ON CONFLICT(bot_id) DO UPDATE SET last_update_id = MAX(last_update_id, excluded.last_update_id)",
                (self.bot_id, self.highest),
            )
        self.saved = self.highest

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.save()
