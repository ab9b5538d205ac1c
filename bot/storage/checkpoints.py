"""The WAL checkpoint as a background job of `run`, so no patient waits for the disk sync it involves."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from bot.storage.db import Database

__all__ = ["keep_checkpointing"]

log = logging.getLogger(__name__)


async def keep_checkpointing(db: Database, every: float = 2.0) -> None:
    """Checkpoint in a worker thread every `every` seconds while there were commits; runs until cancelled."""
    db.checkpoint_in_background()
    done = db.commits
    while True:
        await asyncio.sleep(every)
        if db.commits == done:
            continue
        done = db.commits
        try:
            await asyncio.to_thread(db.checkpoint)
        except sqlite3.Error as exc:  # the WAL keeps every write; the next round tries again
            log.warning("не удалось сбросить журнал локальной базы на диск (checkpoint): %s", exc)
