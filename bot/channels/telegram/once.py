"""No Telegram update lost or handled twice, across restarts and `kill -9`.

Telegram forgets an update once the next getUpdates (or the webhook's 200) confirms it, which comes before
the patient is answered (a debounce window, the dialogue, the reply). So each new update is written to the
local database as it arrives (a polled batch in one transaction as soon as getUpdates returns it, see
`keep_polled`; a webhook's update before its 200) and deleted once handled: when its handler returned or,
for a patient message handed to the chat's worker (`defer`), when the worker has answered it (`finished`).
At start, updates still there are handled again, in order (`pending`); those older than `max_age` are
dropped with a log line, since an answer a day late would make no sense.

The highest id received is kept too, and the ids seen since start in memory, so redeliveries (the last
polled batch after a restart, a webhook retry) are skipped.

With Telegram workers (`TELEGRAM_WORKERS` > 1, see `shards`) the receiving process keeps every update and
`hand_over`s those of the workers' chats. A worker's log `report`s what it finished to the front, which
forgets them (the front's transactions, not more of them from another process competing for the
database's write lock); its updates were checked and kept by the front already, so it checks none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from contextvars import ContextVar
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
);
CREATE TABLE IF NOT EXISTS telegram_inbox (
    bot_id INTEGER NOT NULL,
    update_id INTEGER NOT NULL,
    payload TEXT NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (bot_id, update_id)
);
"""

# The update whose handler is running (set by the middleware, read by `defer`).
_current: ContextVar[int | None] = ContextVar("telegram_update_id", default=None)


class UpdateLog(BaseMiddleware):
    """An outer update middleware: skips redeliveries, keeps every update until it has been handled."""

    def __init__(
        self,
        db: Database,
        bot_id: int,
        *,
        max_age: float = 24 * 3600,
        recent: int = 10_000,
        clock: Callable[[], float] = time.time,
        report: Callable[[list[int]], None] | None = None,
    ) -> None:
        self.db = db
        self.report = report  # a worker's: finished updates go to the front, which checked and kept them
        self.bot_id = bot_id
        self.max_age = max_age
        self.clock = clock
        with db.transaction() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
        rows = db.query("SELECT last_update_id FROM telegram_offset WHERE bot_id = ?", (bot_id,))
        self.mark = int(rows[0][0]) if rows else -1  # type: ignore[call-overload]
        self.highest = self.mark
        self.saved = self.mark
        self._recent: set[int] = set()
        self._order: deque[int] = deque(maxlen=recent)
        self._admitted: set[int] = set()  # let through once without the redelivery check (replay, webhook)
        self._deferred: set[int] = set()
        self._handed: set[int] = set()  # finished by another process
        self._payloads: dict[int, str] = {}  # as kept, for `payload` while the update is being handled
        self._arrived: list[tuple[int, str, float]] = []
        self._finished: list[int] = []
        self._flush_scheduled = False
        self.skipped = 0
        self.replayed = 0

    # --- arrival -----------------------------------------------------------------------------------

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
        return True

    def admit(self, update: Update) -> bool:
        """Keep a new update (written at the end of this turn of the loop); False for a redelivery.

        The webhook calls it (then `save()`) before answering 200, and the update is let through the
        middleware once without a second check."""
        if not self.first_time(update.update_id):
            return False
        payload = update.model_dump_json(exclude_none=True)
        self._arrived.append((update.update_id, payload, self.clock()))
        self._payloads[update.update_id] = payload
        self._admitted.add(update.update_id)
        self._schedule_flush()
        return True

    def keep_polled(self, updates: list[Update]) -> None:
        """A batch getUpdates returned, on disk before aiogram's next poll can confirm it to Telegram."""
        admitted = [self.admit(update) for update in updates]  # every one, not up to the first new
        if any(admitted):
            self.save()

    async def __call__(self, handler: Any, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        update_id = event.update_id
        if self.report is None and update_id not in self._admitted and not self.admit(event):
            log.info("Telegram: событие %s уже обработано; пропущено", update_id)
            return None
        self._admitted.discard(update_id)
        token = _current.set(update_id)
        try:
            return await handler(event, data)
        finally:
            _current.reset(token)
            self._payloads.pop(update_id, None)
            if update_id in self._handed:
                self._handed.discard(update_id)
            elif update_id not in self._deferred:
                self.finished((update_id,))

    # --- handling ----------------------------------------------------------------------------------

    def defer(self) -> int | None:
        """Called by a handler that hands its update to a worker: it stays kept until `finished`."""
        update_id = _current.get()
        if update_id is not None:
            self._deferred.add(update_id)
        return update_id

    def hand_over(self) -> None:
        """Called for an update passed to another process: that process finishes it (in this database)."""
        update_id = _current.get()
        if update_id is not None:
            self._handed.add(update_id)

    def payload(self, update: Update) -> str:
        """The update as kept (JSON), without serialising it again when it arrived in this process."""
        return self._payloads.get(update.update_id) or update.model_dump_json(exclude_none=True)

    def finished(self, update_ids: Iterable[int]) -> None:
        """These updates were handled (answered, or failed for good): they need not survive a restart."""
        for update_id in update_ids:
            self._deferred.discard(update_id)
            self._finished.append(update_id)
        self._schedule_flush()

    # --- the database ------------------------------------------------------------------------------

    def _schedule_flush(self) -> None:
        if self._flush_scheduled:
            return
        with contextlib.suppress(RuntimeError):  # no running loop (a script, a test): saved by `save()`
            asyncio.get_running_loop().call_soon(self.save)
            self._flush_scheduled = True

    def save(self) -> None:
        """Write what arrived and forget what was handled since the last call (one small transaction)."""
        self._flush_scheduled = False
        arrived, self._arrived = self._arrived, []
        finished, self._finished = self._finished, []
        if self.report is not None:
            if finished:
                self.report(finished)
            return
        if not arrived and not finished and self.highest <= self.saved:
            return
        rows = [(self.bot_id, *row) for row in arrived]
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO telegram_inbox(bot_id, update_id, payload, received_at) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
            conn.executemany(
                "DELETE FROM telegram_inbox WHERE bot_id = ? AND update_id = ?",
                [(self.bot_id, update_id) for update_id in finished],
            )
            if self.highest > self.saved:
                conn.execute(
                    "INSERT INTO telegram_offset(bot_id, last_update_id) VALUES (?, ?) ON CONFLICT(bot_id) "
                    "DO UPDATE SET last_update_id = MAX(last_update_id, excluded.last_update_id)",
                    (self.bot_id, self.highest),
                )
        self.saved = max(self.saved, self.highest)

    def pending(self) -> list[str]:
        """Updates a previous run received and did not finish, oldest first, to be handled now.

        Each is let through the redelivery check once; those older than `max_age` are dropped."""
        rows = [
            (int(str(update_id)), str(payload), float(str(received_at)))
            for update_id, payload, received_at in self.db.query(
                "SELECT update_id, payload, received_at FROM telegram_inbox WHERE bot_id = ? "
                "ORDER BY update_id",
                (self.bot_id,),
            )
        ]
        oldest = self.clock() - self.max_age
        stale = [update_id for update_id, _, received_at in rows if received_at < oldest]
        if stale:
            log.warning(
                "Telegram: сообщения без ответа от прошлого запуска (%d) старше %.0f ч; пропущены",
                len(stale),
                self.max_age / 3600,
            )
            self.finished(stale)
            self.save()
        fresh = [(update_id, payload) for update_id, payload, received_at in rows if received_at >= oldest]
        self._admitted.update(update_id for update_id, _ in fresh)
        self.replayed += len(fresh)
        return [payload for _, payload in fresh]

    def take_back(self, wanted: Callable[[str], bool]) -> list[str]:
        """Kept updates (payloads, oldest first) that `wanted` picks, let through once to be handled here:
        those a Telegram worker process had not finished when it died."""
        rows = self.db.query(
            "SELECT update_id, payload FROM telegram_inbox WHERE bot_id = ? ORDER BY update_id",
            (self.bot_id,),
        )
        taken = [(int(str(update_id)), str(payload)) for update_id, payload in rows if wanted(str(payload))]
        self._admitted.update(update_id for update_id, _ in taken)
        return [payload for _, payload in taken]

    async def close(self) -> None:
        self.save()
